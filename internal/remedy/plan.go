package remedy

import (
	"errors"
	"fmt"
	"slices"

	"github.com/unbrick/unbrick/ntfs"
	"github.com/unbrick/unbrick/ntfs/edit"
)

// plan is step 3 (fix only): the write gate (an unclean journal makes
// what was read untrustworthy: refused before anything else, even
// "clean"); the files classified: faulty (or approved by Fix.Approve)
// to delete, good kept, needs-review left for review; then, unless there
// is nothing to delete, the volume checked whole and each deletion
// planned and staged in the recorder, after the staged journal replay.
// The value's plan is nil when there is nothing to delete.
func plan(ev *evaluation) (*plannedFix, error) {
	r := ev.volumeRun
	pf := &plannedFix{volumeRun: r, op: ev.op, files: slices.Clone(ev.files), services: slices.Clone(ev.services), replay: ev.replay, finished: ev.finished}
	if err := writeGate(ev); err != nil {
		return pf, err
	}
	for i := range pf.files {
		f := &pf.files[i]
		switch f.Verdict {
		case VerdictFaulty:
			pf.faulty = append(pf.faulty, i)
		case VerdictNeedsReview:
			if r.o.Fix.Approve != nil && r.o.Fix.Approve(r.v, *f) {
				f.Verdict = VerdictFaulty
				f.Reason += "; deletion approved by the technician"
				pf.faulty = append(pf.faulty, i)
				continue
			}
			f.Action = ActionReview
			pf.review = true
			pf.causes |= f.cause
		default:
			f.Action = ActionKept
		}
	}
	for i := range pf.services {
		if pf.services[i].Verdict == VerdictServiceDisabled {
			pf.services[i].Action = ActionAlreadyDisabled
		}
	}
	// A disable-service rule that cannot be carried out refuses the
	// volume: nothing is written, not even the deletions (half a pack
	// could leave the host still broken).
	if err := serviceGate(pf); err != nil {
		return pf, err
	}
	if len(pf.faulty) == 0 && !servicesNeeded(pf.services) {
		// A staged replay is not written: the report drops its counts
		// and says so, except when this run finished an interrupted fix
		// and nothing is left for review (remediated by that fix's plan),
		// where the report is left as it is.
		pf.discardReplay = ev.replay != nil && (pf.review || !pf.finished)
		return pf, nil
	}
	if err := pf.op.CheckWhole(); err != nil {
		return pf, err
	}
	// Staged in this order, and written by Commit in it: the journal
	// replay, the deletions, then the Start values of the services (each
	// planned on the volume as the previous steps leave it).
	var deletion, services *edit.Plan
	err := r.timed("plan", func() (err error) {
		if deletion, err = planAndStage(ev, pf); err != nil {
			return err
		}
		services, err = planServices(ev, pf)
		return err
	})
	if err != nil {
		return pf, err
	}
	all := &edit.Plan{}
	for _, p := range []*edit.Plan{deletion, services} {
		if err := all.Append(p); err != nil {
			return pf, failed(err)
		}
	}
	if len(all.Writes) == 0 && len(all.Deleted) == 0 {
		// Every service was already disabled once re-read (two rules
		// naming one service) and nothing is to be deleted.
		pf.discardReplay = ev.replay != nil && (pf.review || !pf.finished)
		return pf, nil
	}
	if ev.replay != nil {
		// The replay was staged first: the undo journal and the report
		// cover all of it.
		work := all
		all = &edit.Plan{}
		if err := all.Append(ev.replay.Plan); err != nil {
			return pf, failed(err)
		}
		if err := all.Append(work); err != nil {
			return pf, failed(err)
		}
		summary := ev.replay.Summary()
		if r.o.Fix.DryRun {
			summary = "dry run, would be: " + summary
		}
		pf.notes = append(pf.notes, summary)
	}
	pf.plan, pf.reset = all, !ev.js.Clean
	return pf, nil
}

// planAndStage plans the deletion of every faulty file and stages each plan
// in the undo recorder before planning the next, so that each file's plan
// starts from the volume as the previous deletion leaves it (two files of
// one directory edit the same index). It returns the combined plan.
func planAndStage(ev *evaluation, pf *plannedFix) (*edit.Plan, error) {
	var total *edit.Plan
	nv := ev.nv
	opts := edit.DeleteOptions{Unclean: ev.unclean, Hibernated: ntfs.HibernatedRefuse, Now: ev.o.Now}
	for k, i := range pf.faulty {
		path := pf.files[i].Path
		if k > 0 {
			var err error
			if nv, err = pf.op.NTFS(); err != nil {
				return nil, failed(fmt.Errorf("re-open NTFS on the staged changes: %w", err))
			}
		}
		plan, err := edit.PlanDelete(nv, path, opts)
		if err != nil {
			if errors.Is(err, ntfs.ErrRefused) {
				return nil, stoppedAs(StatusRefused, fmt.Errorf("plan the deletion of %s: %w", path, err))
			}
			return nil, failed(fmt.Errorf("plan the deletion of %s: %w", path, err))
		}
		if err := pf.op.Stage(plan); err != nil {
			return nil, failed(fmt.Errorf("stage the deletion of %s (nothing written): %w", path, err))
		}
		if total == nil {
			total = plan
		} else if err := total.Append(plan); err != nil {
			return nil, failed(err)
		}
	}
	return total, nil
}
