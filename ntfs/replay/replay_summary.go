package replay

import (
	"fmt"
	"sort"
	"strings"

	"github.com/unbrick/unbrick/ntfs/logfile"
)

// RedoneByOp counts the records of the replay whose change is in the plan,
// by redo operation name ("UpdateResidentValue": 2, ...). Fleet records and
// reports use it to say what a replay changed.
func (r *ReplayResult) RedoneByOp() map[string]int {
	out := map[string]int{}
	if r == nil || r.Analysis == nil || r.Analysis.Log == nil {
		return out
	}
	redone := make(map[logfile.LSN]bool, len(r.Redone))
	for _, l := range r.Redone {
		redone[l] = true
	}
	for _, rec := range r.Analysis.Log.Records {
		if rec.Type == logfile.LogRecordStandard && redone[rec.LSN] {
			out[rec.Redo.String()]++
			delete(redone, rec.LSN) // count each LSN once
		}
	}
	return out
}

// Summary says in one line what the replay redoes: the counts by
// operation, sorted by name, and the records already on disk.
func (r *ReplayResult) Summary() string {
	by := r.RedoneByOp()
	names := make([]string, 0, len(by))
	for n := range by {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, 0, len(names))
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s %d", n, by[n]))
	}
	what := "nothing to redo"
	if len(parts) > 0 {
		what = "redone: " + strings.Join(parts, ", ")
	}
	skipped, undone := 0, 0
	if r != nil {
		skipped, undone = len(r.Skipped), len(r.Undone)
	}
	rolled := ""
	if undone > 0 {
		rolled = fmt.Sprintf("; %d uncommitted record(s) rolled back", undone)
	}
	return fmt.Sprintf("NTFS journal replayed (%s; %d record(s) already on disk%s); $LogFile marked clean", what, skipped, rolled)
}
