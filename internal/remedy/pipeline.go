package remedy

import (
	"errors"
	"fmt"
	"time"

	"github.com/unbrick/unbrick/internal/disk"
	"github.com/unbrick/unbrick/internal/rules"
	"github.com/unbrick/unbrick/ntfs"
)

// SystemHive is the file whose presence makes a volume a Windows system
// volume.
const SystemHive = "Windows/System32/config/SYSTEM"

// outcome is a pipeline step's verdict: a status and the error explaining it.
type outcome struct {
	status Status
	err    error
}

func (o *outcome) Error() string { return o.err.Error() }
func (o *outcome) Unwrap() error { return o.err }

func refused(format string, a ...any) error {
	return &outcome{StatusRefused, fmt.Errorf(format, a...)}
}
func failed(err error) error { return &outcome{StatusFailed, err} }

// pipeline processes one candidate volume.
type pipeline struct {
	o   *Options
	t   *disk.Target
	c   *disk.Candidate
	v   *Volume
	fix bool

	// op is the opened volume (Open's): partition, BitLocker, and in fix
	// mode (dry run included) the undo recorder that stages every write.
	op *Opened
	nv *ntfs.Volume
	js *ntfs.JournalState
	// replay is the journal replay staged before the deletion
	// (--unclean=replay on an unclean journal); nil otherwise.
	replay *ntfs.ReplayResult
	// unclean is the journal policy in force for this volume: the
	// option's, or its fallback once a replay proved impossible.
	unclean ntfs.UncleanPolicy
	// replayRefusal: the journal could not be replayed and the fallback
	// is refuse; journalPolicy returns it.
	replayRefusal error

	faulty []int // indexes into v.Files
}

func (p *pipeline) writing() bool { return p.fix && !p.o.DryRun }

// run executes the steps and turns the first error into the volume status.
func (p *pipeline) run() {
	err := p.steps()
	if err == nil {
		return
	}
	var oc *outcome
	if errors.As(err, &oc) {
		p.v.Status = oc.status
	} else {
		p.v.Status = StatusFailed
	}
	p.v.Error = err.Error()
}

func (p *pipeline) steps() error {
	if p.c.Kind == disk.BitLocker {
		p.v.Record = true // a locked volume that could be a Windows system volume
	}
	// Dry runs stage too (in memory, never committed), so that their
	// plans are exactly what a fix would write.
	var op *Opened
	err := p.timed("unlock", func() (err error) {
		op, err = openCandidate(p.t, p.c, p.o.keyOptions(), p.fix, false)
		return err
	})
	if op != nil {
		p.v.Notes = append(p.v.Notes, op.Notes...)
		p.v.KeyDerivations += op.KeyDerivations
		if op.BitLocker != nil {
			p.v.BitLocker = op.BitLockerInfo
			p.v.Encryption = "BitLocker " + op.BitLockerInfo.Method
			p.v.VolumeID = op.VolumeID
		}
		if op.Section.Short() {
			p.v.Notes = append(p.v.Notes, op.Section.ShortWarning())
		}
	}
	if err != nil {
		return err
	}
	p.op = op
	nv, err := op.NTFS()
	if err != nil {
		p.v.Record = true // unreadable: it may be the Windows volume
		return failed(fmt.Errorf("open NTFS: %w", err))
	}
	p.nv = nv
	info := nv.Info()
	p.v.Label = info.Label
	p.v.VolumeID = op.VolumeID
	if p.fix {
		wrote, err := p.finishInterrupted()
		if err != nil {
			p.v.Record = true
			return err
		}
		if wrote {
			// The disk changed under the open file system: read it again.
			if p.nv, err = op.NTFS(); err != nil {
				return failed(fmt.Errorf("open NTFS after finishing the interrupted fix: %w", err))
			}
			nv = p.nv
			info = nv.Info()
		}
	}
	if _, err := nv.Stat(SystemHive); err != nil {
		if errors.Is(err, ntfs.ErrNotFound) || errors.Is(err, ntfs.ErrNotDirectory) {
			p.v.Windows = false
			p.v.Status = StatusSkipped
			p.v.Notes = append(p.v.Notes, "not a Windows system volume (no "+SystemHive+")")
			p.v.Record = false
			return nil
		}
		return failed(fmt.Errorf("look up %s: %w", SystemHive, err))
	}
	p.v.Windows = true
	p.v.Record = true
	p.identity()
	p.progress(StepEvaluate)
	if err := p.journalState(); err != nil {
		return err
	}
	p.unclean = p.o.uncleanPolicy()
	if p.fix && p.unclean == ntfs.UncleanReplay && !p.js.Clean && !p.js.Hibernation.Live() {
		// Replay first (staged, nothing written yet), so that the files
		// are evaluated on the volume as Windows would see it.
		if err := p.timed("replay", p.replayJournal); err != nil {
			return err
		}
	}
	if !p.fix && !p.js.Clean && !p.js.Hibernation.Live() {
		p.replayVerdict()
	}
	if err := p.timed("evaluate", p.evaluate); err != nil {
		return err
	}
	if !p.fix {
		p.v.Status = StatusScanned
		return nil
	}
	return p.remediate()
}

// remediate plans, journals, applies and verifies the deletion of the
// faulty files.
func (p *pipeline) remediate() error {
	// An unclean journal makes what we read untrustworthy (the journal may
	// hold newer metadata): refuse before anything else, even "clean".
	if err := p.journalPolicy(); err != nil {
		return err
	}
	review := false
	var causes rules.Cause
	for i := range p.v.Files {
		f := &p.v.Files[i]
		switch f.Verdict {
		case VerdictFaulty:
			p.faulty = append(p.faulty, i)
		case VerdictNeedsReview:
			if p.o.Approve != nil && p.o.Approve(p.v, *f) {
				f.Verdict = VerdictFaulty
				f.Reason += "; deletion approved by the technician"
				p.faulty = append(p.faulty, i)
				continue
			}
			f.Action = ActionReview
			review = true
			causes |= f.cause
		default:
			f.Action = ActionKept
		}
	}
	if len(p.faulty) == 0 {
		if p.v.FinishedRun != "" && !review {
			// This run finished an interrupted fix: the host is fixed now,
			// by that fix's plan, not found clean.
			p.v.Status = StatusRemediated
			return nil
		}
		if review {
			p.v.Status = StatusNeedsReview
			p.v.Error = "a file matched a rule but needs review (" + causes.String() + "): a human must decide"
		} else {
			p.v.Status = StatusAlreadyClean
		}
		if p.replay != nil {
			p.v.Journal.Replayed, p.v.Journal.ReplaySkipped, p.v.Journal.RolledBack = nil, 0, 0
			p.v.Notes = append(p.v.Notes, "the NTFS journal needs a replay but nothing is to be deleted: the replay was not written")
		}
		return nil
	}
	if err := p.op.CheckWhole(); err != nil {
		return err
	}
	var plan *ntfs.Plan
	err := p.timed("plan", func() (err error) { plan, err = p.planAndStage(); return err })
	if err != nil {
		return err
	}
	if p.replay != nil {
		// The replay was staged first: the undo journal and the report
		// cover both.
		all := &ntfs.Plan{}
		if err := all.Append(p.replay.Plan); err != nil {
			return failed(err)
		}
		if err := all.Append(plan); err != nil {
			return failed(err)
		}
		plan = all
		summary := p.replay.Summary()
		if p.o.DryRun {
			summary = "dry run, would be: " + summary
		}
		p.v.Notes = append(p.v.Notes, summary)
	}
	p.v.PlanWrites, p.v.PlanBytes = len(plan.Writes), plan.Bytes()
	p.v.Notes = append(p.v.Notes, plan.Notes...)
	p.v.Journal.Reset = !p.js.Clean // the plan empties the journal first
	if p.o.DryRun {
		p.v.PlanText = plan.String()
		for _, i := range p.faulty {
			p.v.Files[i].Action = ActionWouldDelete
		}
		p.v.Status = StatusDryRun
		return nil
	}
	if err := p.timed("write", p.commit); err != nil {
		return err
	}
	if err := p.timed("verify", p.verify); err != nil {
		return err
	}
	if err := p.verifyReplay(); err != nil {
		return err
	}
	for _, i := range p.faulty {
		p.v.Files[i].Action = ActionDeleted
	}
	if review {
		p.v.Status = StatusNeedsReview
		p.v.Error = "faulty files deleted; another match needs review (" + causes.String() + "): a human must decide"
	} else {
		p.v.Status = StatusRemediated
	}
	return nil
}

// commit writes the undo journal and then the staged writes (Opened's
// Commit: the one write path).
func (p *pipeline) commit() error {
	p.progress(StepJournal)
	c, err := p.op.Commit(JournalOptions{Dir: p.o.JournalDir, RunID: p.o.RunID, Disk: p.v.Disk, Now: p.o.now(),
		Journaled: func() { p.progress(StepWrite) }})
	if c != nil {
		p.v.JournalFile = c.JournalFile
		if c.Warning != "" {
			p.v.Notes = append(p.v.Notes, c.Warning)
		}
	}
	return err
}

// timed runs one step and records its wall time in the report. The steps
// named like a Step are reported to Options.Progress as they start
// (evaluate is reported before the journal state is read; write reports
// journal and write itself).
func (p *pipeline) timed(name string, f func() error) error {
	switch s := Step(name); s {
	case StepUnlock, StepPlan, StepVerify:
		p.progress(s)
	}
	start := time.Now()
	err := f()
	if p.v.Phases == nil {
		p.v.Phases = map[string]float64{}
	}
	p.v.Phases[name] = float64(time.Since(start).Microseconds()) / 1000
	return err
}
