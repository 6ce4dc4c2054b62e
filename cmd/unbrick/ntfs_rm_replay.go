package main

import (
	"errors"
	"fmt"

	"github.com/unbrick/unbrick/internal/remedy"
	"github.com/unbrick/unbrick/ntfs"
	"github.com/unbrick/unbrick/ntfs/replay"
)

// rmReplay handles `ntfs rm --unclean=replay` (the default) on a volume
// whose journal is not clean: the engine plans the journal replay and
// stages it (remedy.Opened.StageReplay: nothing is written before
// Commit), and NTFS is re-opened on the staged volume, whose journal must
// be clean. It returns that volume, on which the delete is then planned,
// the replay (its plan goes first in the plan shown), and the policy the
// delete's gate then applies. A journal the replay cannot handle falls
// back to fb: refuse is a refusal (exit 4) naming the operation and its
// LSN; reset returns v unchanged with the reset policy. A clean journal,
// or another policy, returns v unchanged. A live hibernation file is left
// to the delete's gate unless the hibernated policy discards it: Windows
// then cold-boots and would replay the journal itself, so we replay it.
func rmReplay(o *remedy.Opened, v *ntfs.Volume, up, fb ntfs.UncleanPolicy, hp ntfs.HibernatedPolicy) (*ntfs.Volume, *replay.ReplayResult, ntfs.UncleanPolicy, int, error) {
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
	nv, res, err := o.StageReplay(v)
	if err != nil {
		var ue *replay.UnsupportedLogOpError
		var re *replay.ReplayRefusedError
		if errors.As(err, &ue) || errors.As(err, &re) {
			if fb == ntfs.UncleanReset {
				return v, nil, fb, 0, nil
			}
			return nil, nil, up, 4, fmt.Errorf("refused: the NTFS journal ($LogFile) is not clean (%s) and unbrick cannot replay it: %w; --unclean-fallback=reset (or --unclean=reset) empties it instead, as ntfsfix does", js.Reason, err)
		}
		return nil, nil, up, 1, err
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
