package remedy

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/unbrick/unbrick/ntfs"
)

// uncleanPolicy is the journal policy fix starts with: Options.Unclean,
// replay when unset.
func (o *Options) uncleanPolicy() ntfs.UncleanPolicy {
	if o.Unclean == "" {
		return ntfs.UncleanReplay
	}
	return o.Unclean
}

// uncleanFallback is the policy fix falls back to when a replay is
// impossible: Options.UncleanFallback, refuse when unset.
func (o *Options) uncleanFallback() ntfs.UncleanPolicy {
	if o.UncleanFallback == "" {
		return ntfs.UncleanRefuse
	}
	return o.UncleanFallback
}

// replayJournal handles the replay policy (the default) on a volume whose
// journal is not clean: it plans the redo of the journal's committed
// transactions (ntfs.Volume.PlanReplay) and stages it in the undo
// recorder, so that the replay reaches the disk through the same single
// write path, and in the same undo journal, as the deletion that follows.
// It then re-opens NTFS on the staged volume and requires a clean journal.
//
// A journal PlanReplay cannot replay (an operation it does not redo, a
// damaged log) stages nothing: the volume falls back to
// Options.UncleanFallback. With refuse (the default) it is refused once
// its files are evaluated, the error naming the operation and the log
// record; with reset the journal is emptied as --unclean=reset does, and
// the report says why.
func (p *pipeline) replayJournal() error {
	if p.op.Short() {
		return refused("the NTFS journal ($LogFile) is not clean (%s) and the image ends before the volume does: a volume unbrick cannot see whole is never replayed or modified; nothing was written", p.js.Reason)
	}
	nv, res, err := p.op.StageReplay(p.nv)
	if err != nil {
		var ue *ntfs.UnsupportedLogOpError
		var re *ntfs.ReplayRefusedError
		if !errors.As(err, &ue) && !errors.As(err, &re) {
			return err
		}
		p.v.Journal.ReplayImpossible = err.Error()
		if fb := p.o.uncleanFallback(); fb == ntfs.UncleanReset {
			p.unclean = fb
			p.v.Notes = append(p.v.Notes, "the NTFS journal could not be replayed ("+err.Error()+"): --unclean-fallback=reset empties it instead")
			return nil
		}
		// The refusal comes from journalPolicy, after the files were
		// evaluated (read-only), so that the report still says what the
		// rules found on the volume.
		p.replayRefusal = &outcome{StatusRefused, fmt.Errorf("the NTFS journal ($LogFile) is not clean (%s) and unbrick cannot replay it: %w; to fix the volume anyway pass --unclean-fallback=reset (or --unclean=reset), which empties the journal as ntfsfix does and has chkdsk check the volume at next boot", p.js.Reason, err)}
		return nil
	}
	js, err := nv.JournalState()
	if err != nil {
		return failed(fmt.Errorf("read the NTFS journal state after the staged replay (nothing was written): %w", err))
	}
	p.nv, p.js, p.replay = nv, js, res
	p.v.Label = nv.Info().Label
	p.v.Journal.Replayed = res.RedoneByOp()
	p.v.Journal.ReplaySkipped = len(res.Skipped)
	p.v.Journal.RolledBack = len(res.Undone)
	return nil
}

// replayVerdict, for scan, plans the journal replay (reading only) and
// reports what fix would redo, or why it could not replay.
func (p *pipeline) replayVerdict() {
	res, err := p.nv.PlanReplay()
	if err != nil {
		p.v.Journal.ReplayImpossible = err.Error()
		return
	}
	p.v.Journal.Replayed = res.RedoneByOp()
	p.v.Journal.ReplaySkipped = len(res.Skipped)
	p.v.Journal.RolledBack = len(res.Undone)
	p.v.Notes = append(p.v.Notes, "fix would replay the NTFS journal first, redoing "+opCounts(p.v.Journal.Replayed)+
		fmt.Sprintf(" (%d committed record(s) already on disk, %d uncommitted record(s) to roll back)", len(res.Skipped), len(res.Undone)))
}

// verifyReplay checks, on the volume re-opened from the disk after the
// writes, that the journal a replay left is clean.
func (p *pipeline) verifyReplay() error {
	if p.replay == nil {
		return nil
	}
	nv, err := p.op.Reopen()
	if err != nil {
		return p.verifyFailed(err)
	}
	js, err := nv.JournalState()
	if err != nil {
		return p.verifyFailed(fmt.Errorf("journal state after the replay: %w", err))
	}
	if !js.Clean {
		return p.verifyFailed(fmt.Errorf("the NTFS journal is not clean after the replay: %s", js.Reason))
	}
	return nil
}

// opCounts renders operation counts as "UpdateResidentValue 2, ..." in
// name order ("nothing" when empty).
func opCounts(m map[string]int) string {
	if len(m) == 0 {
		return "nothing"
	}
	names := make([]string, 0, len(m))
	for op := range m {
		names = append(names, op)
	}
	sort.Strings(names)
	for i, op := range names {
		names[i] = fmt.Sprintf("%s %d", op, m[op])
	}
	return strings.Join(names, ", ")
}
