package remedy

import (
	"errors"
	"fmt"

	"github.com/unbrick/unbrick/ntfs"
)

// journalState reads the NTFS journal, dirty flag and hibernation state
// into the report.
func (p *pipeline) journalState() error {
	js, err := p.nv.JournalState()
	if err != nil {
		return failed(fmt.Errorf("read the NTFS journal state: %w", err))
	}
	p.js = js
	ji := &JournalInfo{State: "clean", Detail: js.Reason, Dirty: js.Dirty, Hibernated: js.Hibernation.Live()}
	if !js.Clean {
		ji.State = "unclean"
	}
	if ji.Hibernated {
		ji.State = "hibernated"
	}
	p.v.Journal = ji
	return nil
}

// journalPolicy decides whether fix may write: a hibernated volume is
// refused; an unclean journal is refused unless the policy is reset (or
// replay, which pipeline.replayJournal has already done, leaving a clean
// journal); a
// dirty flag alone is fine (it stays set).
func (p *pipeline) journalPolicy() error {
	if p.replayRefusal != nil {
		return p.replayRefusal
	}
	// The notes WriteGate returns come back with the plan (PlanDelete runs
	// the same gate), so only its verdict matters here.
	if _, err := p.js.WriteGate(p.unclean, ntfs.HibernatedRefuse); err != nil {
		var re *ntfs.RefusedError
		if errors.As(err, &re) {
			return &outcome{StatusRefused, err}
		}
		return failed(err)
	}
	return nil
}
