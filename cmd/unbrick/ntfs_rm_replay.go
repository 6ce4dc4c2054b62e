package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/unbrick/unbrick/ntfs"
)

// rmReplay handles `ntfs rm --unclean=replay` on a volume whose journal is
// not clean: it plans the journal replay, stages it in memory (nothing is
// written), re-opens NTFS on the staged volume and checks that its journal
// is clean. It returns that volume, on which the delete is then planned,
// and the replay plan, which goes first in the plan Apply writes. A journal
// the replay cannot handle is a refusal (exit 4) naming the operation and
// its LSN. A clean journal, or another policy, returns v unchanged.
func rmReplay(v *ntfs.Volume, base io.ReaderAt, size int64, up ntfs.UncleanPolicy) (*ntfs.Volume, *ntfs.ReplayResult, int, error) {
	if up != ntfs.UncleanReplay {
		return v, nil, 0, nil
	}
	js, err := v.JournalState()
	if err != nil {
		return nil, nil, 1, err
	}
	if js.Clean || js.Hibernation.Live() {
		// A hibernated volume is refused (or discarded) by PlanDelete's
		// gate, which also refuses the journal it then finds unclean.
		return v, nil, 0, nil
	}
	res, err := v.PlanReplay()
	if err != nil {
		var ue *ntfs.UnsupportedLogOpError
		var re *ntfs.ReplayRefusedError
		if errors.As(err, &ue) || errors.As(err, &re) {
			return nil, nil, 4, fmt.Errorf("refused: the NTFS journal ($LogFile) is not clean (%s) and --unclean=replay cannot replay it: %w", js.Reason, err)
		}
		return nil, nil, 1, fmt.Errorf("plan the journal replay (nothing was written): %w", err)
	}
	st := &stagedView{base: base, writes: res.Plan.Writes}
	nv, err := ntfs.Open(st, size)
	if err != nil {
		return nil, nil, 1, fmt.Errorf("open NTFS with the journal replay staged (nothing was written): %w", err)
	}
	after, err := nv.JournalState()
	if err != nil {
		return nil, nil, 1, fmt.Errorf("journal state with the replay staged (nothing was written): %w", err)
	}
	if !after.Clean {
		return nil, nil, 1, fmt.Errorf("the journal is still not clean with the replay staged (%s); nothing was written", after.Reason)
	}
	return nv, res, 0, nil
}

// stagedView reads base with a plan's writes laid over it, in order (later
// writes win): the volume as it will be once the plan is applied.
type stagedView struct {
	base   io.ReaderAt
	writes []ntfs.Write
}

func (s *stagedView) ReadAt(p []byte, off int64) (int, error) {
	n, err := s.base.ReadAt(p, off)
	end := off + int64(len(p))
	for i := range s.writes {
		w := &s.writes[i]
		lo, hi := max(off, w.Offset), min(end, w.Offset+int64(len(w.After)))
		if lo < hi {
			copy(p[lo-off:hi-off], w.After[lo-w.Offset:hi-w.Offset])
		}
	}
	return n, err
}
