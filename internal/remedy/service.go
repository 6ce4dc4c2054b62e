package remedy

import (
	"errors"
	"fmt"
	"strings"

	"github.com/unbrick/unbrick/internal/regf"
	"github.com/unbrick/unbrick/internal/rules"
	"github.com/unbrick/unbrick/ntfs"
	"github.com/unbrick/unbrick/ntfs/edit"
)

// Disable-service rules (rules.ActionDisableService): in the offline
// SYSTEM hive, Services\<name>\Start is set to 4 in every control set
// Select names (internal/regf plans the four bytes of each), through the
// NTFS write path (edit.PlanOverwrite), staged in the undo recorder after
// the journal replay and the deletions, so that one undo journal covers
// the whole volume and Commit writes it in that order.

// Verdicts of a disable-service rule on one volume.
const (
	VerdictServiceEnabled  = "enabled"          // Start is not 4 in a selected control set: disable it
	VerdictServiceDisabled = "already-disabled" // Start is 4 everywhere Select points
	VerdictServiceAbsent   = "not-installed"    // no selected control set has the service's key
	VerdictServiceRefused  = "refused"          // the hive cannot be changed safely (dirty, checksum, missing value...)
)

// Actions taken by a disable-service rule.
const (
	ActionDisabled        = "disabled"
	ActionWouldDisable    = "would-disable" // dry run
	ActionAlreadyDisabled = "already-disabled"
	ActionRefused         = "refused"
)

// Service is what one disable-service rule found, and did, on a volume.
type Service struct {
	Rule    string `json:"rule"`
	Service string `json:"service"`
	Verdict string `json:"verdict"`
	Action  string `json:"action"`
	// Reason says why the rule was refused (the hive's state and what to
	// do), or is empty.
	Reason string `json:"reason,omitempty"`
	// ControlSets are the control sets Select names (Current, Default,
	// LastKnownGood), each with its Start value before and the value to
	// write.
	ControlSets []ServiceSet `json:"control_sets,omitempty"`
}

// ServiceSet is one control set of a Service.
type ServiceSet struct {
	ControlSet string   `json:"control_set"` // "ControlSet001"
	Selected   []string `json:"selected"`    // "Current", "Default", "LastKnownGood"
	KeyPath    string   `json:"key"`         // `ControlSet001\Services\CSAgent`
	Old        uint32   `json:"start_before"`
	New        uint32   `json:"start_after"`
}

// Changed reports whether the control set's Start is (to be) changed.
func (s ServiceSet) Changed() bool { return s.Old != s.New }

// Needed reports whether the rule has bytes to write.
func (s *Service) Needed() bool { return s.Verdict == VerdictServiceEnabled }

// String is a one-line summary of the control sets, e.g.
// "ControlSet001 (Current, Default, LastKnownGood) Start 1 -> 4".
func (s *Service) String() string {
	var parts []string
	for _, c := range s.ControlSets {
		st := fmt.Sprintf("Start %d -> %d", c.Old, c.New)
		if !c.Changed() {
			st = fmt.Sprintf("Start already %d", c.Old)
		}
		parts = append(parts, fmt.Sprintf("%s (%s) %s", c.ControlSet, strings.Join(c.Selected, ", "), st))
	}
	return strings.Join(parts, "; ")
}

// serviceRules returns the set's disable-service rules.
func serviceRules(set *rules.Set) []*rules.Rule {
	var out []*rules.Rule
	if set == nil {
		return nil
	}
	for _, r := range set.Rules {
		if r.Action == rules.ActionDisableService {
			out = append(out, r)
		}
	}
	return out
}

// readHive reads the SYSTEM hive of nv whole.
func readHive(nv *ntfs.Volume) ([]byte, error) {
	f, err := nv.Open(SystemHive)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", SystemHive, err)
	}
	b, err := regf.ReadHive(f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", SystemHive, err)
	}
	return b, nil
}

// evaluateServices plans each disable-service rule on the hive as nv holds
// it (after a staged journal replay): nothing is written or staged here.
// A hive unbrick cannot read at all fails the volume; a hive it must not
// change (dirty, bad checksum, the value missing or not a REG_DWORD, a
// malformed hive) makes the rule refused, which plan turns into the
// volume's refusal.
func evaluateServices(ev *evaluation, set *rules.Set) error {
	rs := serviceRules(set)
	if len(rs) == 0 {
		return nil
	}
	hive, err := readHive(ev.nv)
	if err != nil {
		return failed(err)
	}
	for _, r := range rs {
		s := Service{Rule: r.ID, Service: r.Service, Action: ActionNone}
		p, err := regf.PlanDisableService(hive, r.Service)
		switch {
		case err != nil:
			s.Verdict, s.Reason = VerdictServiceRefused, serviceRefusal(r, err)
		case p.NotInstalled:
			s.Verdict = VerdictServiceAbsent
		case p.NothingToDo():
			s.Verdict = VerdictServiceDisabled
		default:
			s.Verdict = VerdictServiceEnabled
		}
		if p != nil {
			for _, c := range p.Sets {
				s.ControlSets = append(s.ControlSets, ServiceSet{ControlSet: c.ControlSet, Selected: c.Selected, KeyPath: c.KeyPath, Old: c.Old, New: c.New})
			}
		}
		ev.services = append(ev.services, s)
	}
	return nil
}

// serviceRefusal words why a disable-service rule cannot be carried out.
func serviceRefusal(r *rules.Rule, err error) string {
	var fe *regf.FormatError
	what := err.Error()
	switch {
	case errors.Is(err, regf.ErrDirty):
		what += "; nothing was written: boot Windows once (it replays the hive logs) or replay the hive's .LOG1/.LOG2 with a registry tool, then run unbrick again"
	case errors.As(err, &fe):
		what += "; the SYSTEM hive is damaged or in a form unbrick does not read: nothing was written"
	case errors.Is(err, regf.ErrRefused):
		what += "; nothing was written"
	}
	return fmt.Sprintf("rule %s (disable-service %s): %s", r.ID, r.Service, what)
}

// serviceGate refuses the volume when a disable-service rule cannot be
// carried out: the whole pack or nothing.
func serviceGate(pf *plannedFix) error {
	var why []string
	for i := range pf.services {
		if s := &pf.services[i]; s.Verdict == VerdictServiceRefused {
			s.Action = ActionRefused
			why = append(why, s.Reason)
		}
	}
	if len(why) == 0 {
		return nil
	}
	return stoppedAs(StatusRefused, errors.New(strings.Join(why, "; ")))
}

// planServices plans and stages, rule after rule, the Start writes on the
// volume as staged so far (journal replay, deletions), each rule planned
// again from the hive as the previous one left it (two rules naming one
// service write once). It returns the combined plan, nil when nothing is
// to be written.
func planServices(ev *evaluation, pf *plannedFix) (*edit.Plan, error) {
	var total *edit.Plan
	rs := serviceRules(ev.o.Rules)
	for i := range pf.services {
		s := &pf.services[i]
		if !s.Needed() {
			continue
		}
		var rule *rules.Rule
		for _, r := range rs {
			if r.ID == s.Rule {
				rule = r
			}
		}
		nv, err := pf.op.NTFS()
		if err != nil {
			return nil, failed(fmt.Errorf("re-open NTFS on the staged changes: %w", err))
		}
		hive, err := readHive(nv)
		if err != nil {
			return nil, failed(err)
		}
		rp, err := regf.PlanDisableService(hive, s.Service)
		if err != nil {
			return nil, stoppedAs(StatusRefused, errors.New(serviceRefusal(rule, err)))
		}
		var fws []edit.FileWrite
		for _, w := range rp.Writes() {
			fws = append(fws, edit.FileWrite{Offset: w.Offset, Before: w.Before, After: w.After})
		}
		if len(fws) == 0 {
			continue // an earlier rule named the same service
		}
		plan, err := edit.PlanOverwrite(nv, SystemHive, fws, edit.OverwriteOptions{Unclean: ev.unclean, Hibernated: ntfs.HibernatedRefuse})
		if err != nil {
			if errors.Is(err, ntfs.ErrRefused) {
				return nil, stoppedAs(StatusRefused, fmt.Errorf("plan disabling service %s in %s: %w", s.Service, SystemHive, err))
			}
			return nil, failed(fmt.Errorf("plan disabling service %s in %s: %w", s.Service, SystemHive, err))
		}
		if err := pf.op.Stage(plan); err != nil {
			return nil, failed(fmt.Errorf("stage disabling service %s (nothing written): %w", s.Service, err))
		}
		if total == nil {
			total = plan
		} else if err := total.Append(plan); err != nil {
			return nil, failed(err)
		}
	}
	return total, nil
}

// servicesNeeded reports whether a disable-service rule has bytes to write.
func servicesNeeded(ss []Service) bool {
	for i := range ss {
		if ss[i].Needed() {
			return true
		}
	}
	return false
}

// checkServices re-reads the hive from the disk (nv, re-opened from
// scratch) and checks Start = 4 in every selected control set of every
// service written.
func checkServices(nv *ntfs.Volume, ss []Service) error {
	var hive []byte
	for i := range ss {
		if !ss[i].Needed() {
			continue
		}
		if hive == nil {
			var err error
			if hive, err = readHive(nv); err != nil {
				return err
			}
		}
		if err := regf.Verify(hive, ss[i].Service); err != nil {
			return fmt.Errorf("service %s: %w", ss[i].Service, err)
		}
	}
	return nil
}
