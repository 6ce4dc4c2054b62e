package remedy

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/unbrick/unbrick/bitlocker"
	"github.com/unbrick/unbrick/internal/disk"
	"github.com/unbrick/unbrick/internal/redact"
	"github.com/unbrick/unbrick/internal/rules"
	"github.com/unbrick/unbrick/internal/undo"
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
	o     *Options
	t     *disk.Target
	c     *disk.Candidate
	v     *Volume
	fix   bool
	flush *Flusher

	sec  *disk.Section
	rec  *undo.Recorder // fix (and dry run): stages writes
	bl   *bitlocker.Volume
	view interface {
		io.ReaderAt
		io.WriterAt
	} // what NTFS lives on
	size int64
	nv   *ntfs.Volume
	js   *ntfs.JournalState
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
	p.sec = p.t.Section(p.c)
	var base interface {
		io.ReaderAt
		io.WriterAt
	} = p.sec
	if p.sec.Short() {
		p.v.Notes = append(p.v.Notes, p.sec.ShortWarning())
	}
	if p.fix {
		// Dry runs stage too (in memory, never committed), so that their
		// plans are exactly what a fix would write.
		p.rec = undo.NewRecorder(p.sec, p.c.Offset, p.sec.Size())
		base = p.rec
	}
	p.view, p.size = base, p.sec.Size()
	if p.c.Kind == disk.BitLocker {
		p.v.Record = true // a locked volume that could be a Windows system volume
		if err := p.timed("unlock", func() error { return p.unlock(base) }); err != nil {
			return err
		}
	}
	nv, err := ntfs.Open(p.view, p.size)
	if err != nil {
		p.v.Record = true // unreadable: it may be the Windows volume
		return failed(fmt.Errorf("open NTFS: %w", err))
	}
	p.nv = nv
	info := nv.Info()
	p.v.Label = info.Label
	if p.bl == nil {
		p.v.VolumeID = fmt.Sprintf("%016X", info.Serial)
	}
	if p.fix {
		wrote, err := p.finishInterrupted()
		if err != nil {
			p.v.Record = true
			return err
		}
		if wrote {
			// The disk changed under the open file system: read it again.
			if p.nv, err = ntfs.Open(p.view, p.size); err != nil {
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
	if p.sec.Short() || (p.bl != nil && p.bl.Short()) {
		return refused("the image ends before the volume does: a volume unbrick cannot see whole is never modified")
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

// commit writes the undo journal and then the staged writes.
func (p *pipeline) commit() error {
	if p.o.JournalDir == "" {
		return refused("no journal directory: unbrick never writes without an undo journal")
	}
	p.progress(StepJournal)
	f, path, err := createJournal(p.o.JournalDir, p.o.RunID, p.v.VolumeID)
	if err != nil {
		return refused("%v: nothing was written", err)
	}
	jf := &journalProgress{JournalFile: f, p: p}
	// The name is for humans; like everything unbrick writes, it passes
	// the redactor (a path can hold a secret typed by mistake).
	target := redact.String(p.t.Path())
	if p.v.Disk != "" {
		target += " [" + p.v.Disk + "]"
	}
	h := undo.Header{Created: p.o.now(), RunID: p.o.RunID, VolumeID: p.v.VolumeID,
		Target: target, TargetSize: p.t.Size()}
	var sync func() error
	if p.flush != nil {
		sync = p.flush.Sync
	}
	res, err := p.rec.Commit(jf, h, sync)
	cerr := f.Close()
	if errors.Is(err, undo.ErrJournal) || errors.Is(err, undo.ErrDiskChanged) {
		os.Remove(path)
		return refused("%v: nothing was written", err)
	}
	p.v.JournalFile = path
	if err != nil {
		return failed(fmt.Errorf("%w (%d of %d writes made; run 'unbrick undo --journal %s %s' to put the disk back)",
			err, res.Applied, res.Writes, path, p.t.Path()))
	}
	if res.Warning != "" {
		p.v.Notes = append(p.v.Notes, res.Warning)
	} else if cerr != nil {
		p.v.Notes = append(p.v.Notes, "closing the undo journal: "+cerr.Error())
	}
	return nil
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

// journalProgress reports StepWrite to Options.Progress once the undo
// journal is on the stick (its first successful Sync): the recorder writes
// the disk only after that.
type journalProgress struct {
	undo.JournalFile
	p      *pipeline
	synced bool
}

func (j *journalProgress) Sync() error {
	err := j.JournalFile.Sync()
	if err == nil && !j.synced {
		j.synced = true
		j.p.progress(StepWrite)
	}
	return err
}
