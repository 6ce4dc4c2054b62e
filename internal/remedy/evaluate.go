package remedy

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/unbrick/unbrick/internal/rules"
	"github.com/unbrick/unbrick/ntfs"
)

// maxHashSize bounds the files the engine hashes itself for the report;
// larger ones are hashed by a rule only if it needs the digest.
const maxHashSize = 64 << 20

// evaluate is step 2: the NTFS journal state; in fix mode, an unclean
// journal's replay staged (Fix.Unclean replay) so that the files are
// evaluated on the volume as Windows would see it; in scan mode, what fix
// would replay; then the rules' verdicts on the files they target.
func evaluate(ov *openedVolume) (*evaluation, error) {
	r := ov.volumeRun
	ev := &evaluation{volumeRun: r, op: ov.op, nv: ov.nv, finished: ov.interrupted.finishedRun != ""}
	js, err := ov.nv.JournalState()
	if err != nil {
		return ev, failed(fmt.Errorf("read the NTFS journal state: %w", err))
	}
	ev.js, ev.journal = js, journalInfo(js)
	ev.unclean = r.o.Fix.uncleanPolicy()
	if r.fix && ev.unclean == ntfs.UncleanReplay && !js.Clean && !js.Hibernation.Live() {
		// Replay first (staged, nothing written yet).
		if err := r.timed("replay", func() error { return stageReplay(ev) }); err != nil {
			return ev, err
		}
	}
	if !r.fix && !js.Clean && !js.Hibernation.Live() {
		replayVerdict(ev)
	}
	err = r.timed("evaluate", func() error { return evaluateRules(ev) })
	return ev, err
}

// evaluateRules lists the rules' directories, gathers the facts of every
// entry a rule targets and records the rules' decisions.
func evaluateRules(ev *evaluation) error {
	set := ev.o.Rules
	if set == nil {
		set = rules.Builtin()
	}
	ev.rules = set.IDs()
	var facts []*rules.FileFacts
	refs := map[string]uint64{}
	for _, dir := range set.Dirs() {
		ents, err := ev.nv.ReadDir(dir)
		if err != nil {
			if errors.Is(err, ntfs.ErrNotFound) {
				continue // no such directory: nothing of this rule here
			}
			return failed(fmt.Errorf("list %s: %w", dir, err))
		}
		for _, e := range ents {
			if e.IsDOS() {
				continue // the 8.3 alias of a name listed in its own entry
			}
			f := &rules.FileFacts{Path: strings.TrimSuffix(dir, "/") + "/" + e.Name, Name: e.Name, IsDir: e.IsDir}
			if !targeted(set, f) {
				continue
			}
			if err := fileFacts(ev.nv, f); err != nil {
				return failed(err)
			}
			facts = append(facts, f)
			refs[f.Path] = e.Ref.Record()
		}
	}
	for _, d := range set.Decide(facts) {
		f := File{Path: d.File.Path, Size: d.File.Size, MTime: d.File.MTime.UTC(), SHA256: d.File.SHA256,
			Verdict: verdictName(d.Verdict.Action), Reason: d.Verdict.Reason, Rule: d.Verdict.Rule,
			Action: ActionNone, record: refs[d.File.Path], cause: d.Verdict.Cause}
		if d.File.AllZero != nil {
			f.AllZero = *d.File.AllZero
		}
		ev.files = append(ev.files, f)
	}
	return evaluateServices(ev, set)
}

// fileFacts fills size, time and (for files up to maxHashSize) the digest
// and all-zero test of one directory entry.
func fileFacts(nv *ntfs.Volume, f *rules.FileFacts) error {
	st, err := nv.Stat(f.Path)
	if err != nil {
		return fmt.Errorf("stat %s: %w", f.Path, err)
	}
	f.Size, f.MTime, f.IsDir = st.Size, st.ModTime(), st.IsDir
	if f.IsDir {
		return nil
	}
	path := f.Path
	f.Open = func() (io.Reader, error) { return nv.Open(path) }
	if st.Size > maxHashSize {
		return nil
	}
	return f.Digest()
}

func verdictName(a rules.Action) string {
	switch a {
	case rules.Delete:
		return VerdictFaulty
	case rules.Keep:
		return VerdictGood
	default:
		return VerdictNeedsReview
	}
}

// targeted reports whether any rule targets f (directory and name only).
func targeted(set *rules.Set, f *rules.FileFacts) bool {
	for _, r := range set.Rules {
		if r.Matches(f) {
			return true
		}
	}
	return false
}
