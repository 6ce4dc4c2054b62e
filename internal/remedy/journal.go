package remedy

import (
	"errors"

	"github.com/unbrick/unbrick/ntfs"
)

// journalInfo is the report's view of the NTFS journal, dirty flag and
// hibernation state.
func journalInfo(js *ntfs.JournalState) *JournalInfo {
	ji := &JournalInfo{State: "clean", Detail: js.Reason, Dirty: js.Dirty, Hibernated: js.Hibernation.Live()}
	if !js.Clean {
		ji.State = "unclean"
	}
	if ji.Hibernated {
		ji.State = "hibernated"
	}
	return ji
}

// writeGate decides whether fix may write: a hibernated volume is
// refused; an unclean journal is refused unless the policy is reset (or
// replay, which evaluate has already staged, leaving a clean journal); a
// dirty flag alone is fine (it stays set).
func writeGate(ev *evaluation) error {
	if ev.replayRefusal != nil {
		return ev.replayRefusal
	}
	// The notes WriteGate returns come back with the plan (PlanDelete runs
	// the same gate), so only its verdict matters here.
	if _, err := ev.js.WriteGate(ev.unclean, ntfs.HibernatedRefuse); err != nil {
		var re *ntfs.RefusedError
		if errors.As(err, &re) {
			return stoppedAs(StatusRefused, err)
		}
		return failed(err)
	}
	return nil
}
