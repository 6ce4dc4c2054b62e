package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/unbrick/unbrick/ntfs"
)

// rmReplay handles `ntfs rm --unclean=replay` (the default) on a volume
// whose journal is not clean: it plans the journal replay, stages it in
// memory (nothing is written), re-opens NTFS on the staged volume and
// checks that its journal is clean. It returns that volume, on which the
// delete is then planned, the replay plan, which goes first in the plan
// Apply writes, and the policy the delete's gate then applies. A journal
// the replay cannot handle falls back to fb: refuse is a refusal (exit 4)
// naming the operation and its LSN; reset returns v unchanged with the
// reset policy. A clean journal, or another policy, returns v unchanged.
// A live hibernation file is left to the delete's gate unless the
// hibernated policy discards it: Windows then cold-boots and would replay
// the journal itself, so we replay it.
func rmReplay(v *ntfs.Volume, base io.ReaderAt, size int64, up, fb ntfs.UncleanPolicy, hp ntfs.HibernatedPolicy) (*ntfs.Volume, *ntfs.ReplayResult, ntfs.UncleanPolicy, int, error) {
	if up != ntfs.UncleanReplay {
		return v, nil, up, 0, nil
	}
	js, err := v.JournalState()
	if err != nil {
		return nil, nil, up, 1, err
	}
	if js.Clean || (js.Hibernation.Live() && hp != ntfs.HibernatedDiscard) {
		return v, nil, up, 0, nil
	}
	res, err := v.PlanReplay()
	if err != nil {
		var ue *ntfs.UnsupportedLogOpError
		var re *ntfs.ReplayRefusedError
		if errors.As(err, &ue) || errors.As(err, &re) {
			if fb == ntfs.UncleanReset {
				return v, nil, fb, 0, nil
			}
			return nil, nil, up, 4, fmt.Errorf("refused: the NTFS journal ($LogFile) is not clean (%s) and unbrick cannot replay it: %w; --unclean-fallback=reset (or --unclean=reset) empties it instead, as ntfsfix does", js.Reason, err)
		}
		return nil, nil, up, 1, fmt.Errorf("plan the journal replay (nothing was written): %w", err)
	}
	st := &stagedView{base: base, writes: res.Plan.Writes}
	nv, err := ntfs.Open(st, size)
	if err != nil {
		return nil, nil, up, 1, fmt.Errorf("open NTFS with the journal replay staged (nothing was written): %w", err)
	}
	after, err := nv.JournalState()
	if err != nil {
		return nil, nil, up, 1, fmt.Errorf("journal state with the replay staged (nothing was written): %w", err)
	}
	if !after.Clean {
		return nil, nil, up, 1, fmt.Errorf("the journal is still not clean with the replay staged (%s); nothing was written", after.Reason)
	}
	return nv, res, up, 0, nil
}

// parseUncleanFlags parses --unclean (replay, refuse or reset; "" is
// replay) and --unclean-fallback (refuse or reset; "" is refuse).
func parseUncleanFlags(unclean, fallback string) (ntfs.UncleanPolicy, ntfs.UncleanPolicy, error) {
	if unclean == "" {
		unclean = string(ntfs.UncleanReplay)
	}
	up, err := ntfs.ParseUncleanPolicy(unclean)
	if err != nil {
		return "", "", err
	}
	fb, err := ntfs.ParseUncleanPolicy(fallback)
	if err != nil || fb == ntfs.UncleanReplay {
		return "", "", fmt.Errorf("unknown --unclean-fallback policy %q (refuse or reset)", fallback)
	}
	return up, fb, nil
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
