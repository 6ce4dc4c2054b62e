package remedy

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/unbrick/unbrick/ntfs"
	"github.com/unbrick/unbrick/ntfs/replay"
)

// stageReplay handles the replay policy (the default) on a volume whose
// journal is not clean: it plans the redo of the journal's committed
// transactions (Opened.StageReplay) and stages it in the undo recorder, so
// that the replay reaches the disk through the same single write path,
// and in the same undo journal, as the deletion that follows. NTFS is
// then re-opened on the staged volume, with a clean journal.
//
// A journal that cannot be replayed (an operation unbrick does not redo,
// a damaged log) stages nothing: the volume falls back to
// Fix.UncleanFallback. With refuse (the default) it is refused once its
// files are evaluated, the error naming the operation and the log record;
// with reset the journal is emptied as --unclean=reset does, and the
// report says why.
func stageReplay(ev *evaluation) error {
	if ev.op.Short() {
		return refused("the NTFS journal ($LogFile) is not clean (%s) and the image ends before the volume does: a volume unbrick cannot see whole is never replayed or modified; nothing was written", ev.js.Reason)
	}
	nv, res, err := ev.op.StageReplay(ev.nv)
	if err != nil {
		var ue *replay.UnsupportedLogOpError
		var re *replay.ReplayRefusedError
		if !errors.As(err, &ue) && !errors.As(err, &re) {
			return err
		}
		ev.journal.ReplayImpossible = err.Error()
		if fb := ev.o.Fix.uncleanFallback(); fb == ntfs.UncleanReset {
			ev.unclean = fb
			ev.notes = append(ev.notes, "the NTFS journal could not be replayed ("+err.Error()+"): --unclean-fallback=reset empties it instead")
			return nil
		}
		// The refusal comes from plan (writeGate), after the files were
		// evaluated (read-only), so that the report still says what the
		// rules found on the volume.
		ev.replayRefusal = stoppedAs(StatusRefused, fmt.Errorf("the NTFS journal ($LogFile) is not clean (%s) and unbrick cannot replay it: %w; to fix the volume anyway pass --unclean-fallback=reset (or --unclean=reset), which empties the journal as ntfsfix does and has chkdsk check the volume at next boot", ev.js.Reason, err))
		return nil
	}
	js, err := nv.JournalState()
	if err != nil {
		return failed(fmt.Errorf("read the NTFS journal state after the staged replay (nothing was written): %w", err))
	}
	ev.nv, ev.js, ev.replay = nv, js, res
	ev.label = nv.Info().Label
	ev.journal.Replayed = res.RedoneByOp()
	ev.journal.ReplaySkipped = len(res.Skipped)
	ev.journal.RolledBack = len(res.Undone)
	return nil
}

// replayVerdict, for scan, plans the journal replay (reading only) and
// reports what fix would redo, or why it could not replay.
func replayVerdict(ev *evaluation) {
	res, err := replay.Plan(ev.nv)
	if err != nil {
		ev.journal.ReplayImpossible = err.Error()
		return
	}
	ev.journal.Replayed = res.RedoneByOp()
	ev.journal.ReplaySkipped = len(res.Skipped)
	ev.journal.RolledBack = len(res.Undone)
	ev.notes = append(ev.notes, "fix would replay the NTFS journal first, redoing "+opCounts(ev.journal.Replayed)+
		fmt.Sprintf(" (%d committed record(s) already on disk, %d uncommitted record(s) to roll back)", len(res.Skipped), len(res.Undone)))
}

// verifyReplay checks, on the volume re-opened from the disk after the
// writes, that the journal a replay left is clean.
func verifyReplay(cf *committedFix) error {
	if !cf.replayed {
		return nil
	}
	nv, err := cf.op.Reopen()
	if err != nil {
		return verifyFailed(cf, err)
	}
	js, err := nv.JournalState()
	if err != nil {
		return verifyFailed(cf, fmt.Errorf("journal state after the replay: %w", err))
	}
	if !js.Clean {
		return verifyFailed(cf, fmt.Errorf("the NTFS journal is not clean after the replay: %s", js.Reason))
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
