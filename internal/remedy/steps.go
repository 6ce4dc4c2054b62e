package remedy

import (
	"errors"
	"fmt"
	"time"

	"github.com/unbrick/unbrick/internal/disk"
	"github.com/unbrick/unbrick/internal/hostid"
	"github.com/unbrick/unbrick/internal/rules"
	"github.com/unbrick/unbrick/ntfs"
	"github.com/unbrick/unbrick/ntfs/edit"
	"github.com/unbrick/unbrick/ntfs/replay"
)

// SystemHive is the file whose presence makes a volume a Windows system
// volume.
const SystemHive = "Windows/System32/config/SYSTEM"

// The work on one BitLocker or NTFS candidate is five steps, each taking
// the previous step's value and returning the next:
//
//	open(*volumeRun)          (*openedVolume, error)
//	evaluate(*openedVolume)   (*evaluation, error)
//	plan(*evaluation)         (*plannedFix, error)   fix only
//	commit(*plannedFix)       (*committedFix, error) fix, not a dry run
//	verify(*committedFix)     error
//
// A step that fails still returns its value (never nil) with what it
// found, for the report. runSteps copies each value into the report
// (report methods) and says how far the volume got (an end); settle alone
// turns that into Status and Error.

// volumeRun is what every step of one volume shares and never changes:
// the call's options, the target, the candidate, and the report, which
// the hooks (Progress, Approve) see as it is so far and which collects the
// step timings (Phases).
type volumeRun struct {
	o        *Options
	t        *disk.Target
	c        *disk.Candidate
	fix      bool   // Fix (dry run included), not Scan
	diskName string // the block device's model and serial, for the journal
	v        *Volume
}

func (r *volumeRun) writing() bool { return r.o.writing(r.fix) }

// progress tells Hooks.Progress that the volume enters step s.
func (r *volumeRun) progress(s Step) {
	if r.o.Hooks.Progress != nil {
		r.o.Hooks.Progress(r.v, s)
	}
}

// timed runs part of a step and records its wall time in the report. The
// parts named like a Step are reported to Hooks.Progress as they start
// (evaluate is reported before the journal state is read; write reports
// journal and write itself).
func (r *volumeRun) timed(name string, f func() error) error {
	switch s := Step(name); s {
	case StepUnlock, StepPlan, StepVerify:
		r.progress(s)
	}
	start := time.Now()
	err := f()
	if r.v.Phases == nil {
		r.v.Phases = map[string]float64{}
	}
	r.v.Phases[name] = float64(time.Since(start).Microseconds()) / 1000
	return err
}

// runSteps runs the steps on one candidate, copying each step's value
// into the report, and says how far the volume got.
func runSteps(r *volumeRun) end {
	ov, err := open(r)
	ov.report(r.v)
	if err != nil {
		return end{err: err}
	}
	if !ov.windows {
		return end{reached: reachedNotWindows}
	}
	r.progress(StepEvaluate)
	ev, err := evaluate(ov)
	ev.report(r.v)
	if err != nil {
		return end{err: err}
	}
	if !r.fix {
		return end{reached: reachedScanned}
	}
	pf, err := plan(ev)
	pf.report(r.v)
	switch {
	case err != nil:
		return end{err: err}
	case pf.plan == nil:
		return end{reached: reachedNothingToDo, review: pf.review, causes: pf.causes, finished: pf.finished}
	case r.o.Fix.DryRun:
		return end{reached: reachedPlanned}
	}
	cf, err := commit(pf)
	cf.report(r.v)
	if err != nil {
		return end{err: err}
	}
	if err := verify(cf); err != nil {
		return end{err: err}
	}
	for _, i := range pf.faulty {
		r.v.Files[i].Action = ActionDeleted
	}
	for i := range r.v.Services {
		if r.v.Services[i].Needed() {
			r.v.Services[i].Action = ActionDisabled
		}
	}
	return end{reached: reachedVerified, review: pf.review, causes: pf.causes}
}

// openedVolume is step 1's value: the volume opened, an interrupted
// earlier fix finished, and whether it is a Windows system volume.
type openedVolume struct {
	*volumeRun
	// op is the opened volume (Open's): partition, BitLocker, and in fix
	// mode (dry run included) the undo recorder that stages every write.
	// It is nil only when nothing could be opened.
	op *Opened
	// nv is NTFS as the disk holds it now (after a finished interrupted
	// fix); nil if NTFS could not be read.
	nv          *ntfs.Volume
	label       string // the NTFS label
	interrupted interruptedFix
	windows     bool // SystemHive is there
	host        hostIdentity
	notes       []string
	// record: the fleet log tracks the volume (it is, or could be, a
	// Windows system volume).
	record bool
}

// open is step 1: the partition (in fix mode, dry run included, wrapped in
// an undo.Recorder that stages every write in memory), BitLocker unlocked
// with the engine's key policy, NTFS, an interrupted earlier fix finished
// (fix), SystemHive looked up and the host identified from it.
func open(r *volumeRun) (*openedVolume, error) {
	// Every BitLocker or NTFS volume is tracked until it is shown not to
	// be a Windows system volume (no SYSTEM hive): one that cannot be
	// unlocked, opened or read may be the host's Windows, and the fleet
	// log must say so.
	ov := &openedVolume{volumeRun: r, record: true}
	// Dry runs stage too (in memory, never committed), so that their
	// plans are exactly what a fix would write.
	err := r.timed("unlock", func() (err error) {
		ov.op, err = openCandidate(r.t, r.c, &r.o.Keys, r.fix, false)
		return err
	})
	op := ov.op
	if op != nil {
		ov.notes = append(ov.notes, op.Notes...)
		if op.Section.Short() {
			ov.notes = append(ov.notes, op.Section.ShortWarning())
		}
	}
	if err != nil {
		return ov, err
	}
	nv, err := op.NTFS()
	if err != nil {
		return ov, failed(fmt.Errorf("open NTFS: %w", err))
	}
	ov.nv, ov.label = nv, nv.Info().Label
	if r.fix {
		var err error
		ov.interrupted, err = finishInterrupted(r, op)
		ov.notes = append(ov.notes, ov.interrupted.notes...)
		if err != nil {
			return ov, err
		}
		if ov.interrupted.wrote {
			// The disk changed under the open file system: read it again.
			if ov.nv, err = op.NTFS(); err != nil {
				return ov, failed(fmt.Errorf("open NTFS after finishing the interrupted fix: %w", err))
			}
		}
	}
	if _, err := ov.nv.Stat(SystemHive); err != nil {
		if (errors.Is(err, ntfs.ErrNotFound) || errors.Is(err, ntfs.ErrNotDirectory)) && op.Short() {
			// Past the end of a cut image reads give zeros: a missing
			// hive proves nothing there.
			return ov, refused("%s not found, but the image ends before the volume does: unbrick cannot tell whether this is a Windows volume; nothing was written (use the whole disk image)", SystemHive)
		}
		if errors.Is(err, ntfs.ErrNotFound) || errors.Is(err, ntfs.ErrNotDirectory) {
			if _, werr := ov.nv.Stat("Windows/System32"); werr == nil {
				// A Windows directory without its SYSTEM hive is a
				// damaged Windows volume, not a data volume.
				return ov, stoppedAs(StatusNeedsReview, fmt.Errorf("the volume has Windows/System32 but %s cannot be found (%v): a damaged Windows volume; nothing was written: check it with chkdsk or by other means", SystemHive, err))
			}
			ov.notes = append(ov.notes, "not a Windows system volume (no "+SystemHive+")")
			ov.record = false
			return ov, nil
		}
		return ov, failed(fmt.Errorf("look up %s: %w", SystemHive, err))
	}
	ov.windows, ov.record = true, true
	ov.host = readIdentity(ov.nv)
	ov.notes = append(ov.notes, ov.host.notes...)
	return ov, nil
}

// report copies step 1's findings into the report.
func (ov *openedVolume) report(v *Volume) {
	v.Record = ov.record
	v.Notes = append(v.Notes, ov.notes...)
	if op := ov.op; op != nil {
		v.KeyDerivations += op.KeyDerivations
		if op.BitLocker != nil {
			v.BitLocker = op.BitLockerInfo
			v.Encryption = "BitLocker " + op.BitLockerInfo.Method
		}
		v.VolumeID = op.VolumeID
	}
	if ov.nv != nil {
		v.Label = ov.label
	}
	if ov.interrupted.journalFile != "" {
		v.FinishedRun, v.JournalFile = ov.interrupted.finishedRun, ov.interrupted.journalFile
	}
	v.Windows = ov.windows
	if ov.windows {
		v.ComputerName, v.clockTZ = ov.host.computerName, ov.host.timeZone
	}
}

// evaluation is step 2's value: the journal state, the journal replay
// staged (fix) and the rules' verdicts.
type evaluation struct {
	*volumeRun
	op *Opened
	nv *ntfs.Volume // after the staged replay, if any
	js *ntfs.JournalState
	// replay is the journal replay staged before the deletion (fix with
	// Unclean replay on an unclean journal); nil otherwise.
	replay *replay.ReplayResult
	// unclean is the journal policy in force for this volume: the
	// option's, or its fallback once a replay proved impossible.
	unclean ntfs.UncleanPolicy
	// replayRefusal: the journal could not be replayed and the fallback
	// is refuse; plan returns it (the files are evaluated first).
	replayRefusal error
	// finished: this run finished an interrupted fix of the volume (step
	// 1), which fixed it if nothing is left to delete.
	finished bool

	journal *JournalInfo
	label   string // the label after the staged replay
	rules   []string
	files   []File
	// services: what each disable-service rule found in the SYSTEM hive.
	services []Service
	notes    []string
}

// report copies step 2's findings into the report.
func (ev *evaluation) report(v *Volume) {
	if ev.journal != nil {
		v.Journal = ev.journal
	}
	if ev.replay != nil {
		v.Label = ev.label
	}
	v.Notes = append(v.Notes, ev.notes...)
	if ev.rules != nil {
		v.Rules = ev.rules
	}
	v.Files = ev.files
	v.Services = ev.services
}

// plannedFix is step 3's value: the files classified (faulty, kept, left
// for review) and, unless there is nothing to delete, the combined plan
// (journal replay, then the deletions), staged in op's recorder.
type plannedFix struct {
	*volumeRun
	op       *Opened
	files    []File // the evaluation's, with the actions decided
	services []Service
	faulty   []int // indexes into files
	review   bool  // a match is left for review
	causes   rules.Cause
	finished bool // the evaluation's
	// replay is the staged journal replay, part of plan (nil: none).
	replay *replay.ReplayResult
	// discardReplay: a replay was staged but nothing is to be deleted,
	// so it is not written.
	discardReplay bool
	// plan is everything to write; nil when nothing is to be deleted (or
	// planning failed).
	plan  *edit.Plan
	reset bool // the plan empties the journal first
	notes []string
}

// report copies step 3's decisions into the report.
func (pf *plannedFix) report(v *Volume) {
	v.Files = pf.files
	v.Services = pf.services
	if pf.discardReplay && v.Journal != nil {
		v.Journal.Replayed, v.Journal.ReplaySkipped, v.Journal.RolledBack = nil, 0, 0
		v.Notes = append(v.Notes, "the NTFS journal needs a replay but nothing is to be deleted: the replay was not written")
	}
	if pf.plan == nil {
		return
	}
	v.Notes = append(v.Notes, pf.notes...)
	v.PlanWrites, v.PlanBytes = len(pf.plan.Writes), pf.plan.Bytes()
	v.Notes = append(v.Notes, pf.plan.Notes...)
	v.Journal.Reset = pf.reset
	if pf.o.Fix.DryRun {
		v.PlanText = pf.plan.String()
		for _, i := range pf.faulty {
			v.Files[i].Action = ActionWouldDelete
		}
		for i := range v.Services {
			if v.Services[i].Needed() {
				v.Services[i].Action = ActionWouldDisable
			}
		}
	}
}

// committedFix is step 4's value: the undo journal written and the plan
// on the disk.
type committedFix struct {
	*volumeRun
	op          *Opened
	deleted     []edit.DeletedFile
	services    []Service // disable-service rules; those Needed were written
	replayed    bool      // the plan began with a journal replay
	journalFile string
	warning     string
}

// report copies step 4's outcome into the report.
func (cf *committedFix) report(v *Volume) {
	if cf.journalFile != "" {
		v.JournalFile = cf.journalFile
	}
	if cf.warning != "" {
		v.Notes = append(v.Notes, cf.warning)
	}
}

// hostIdentity is what the SYSTEM hive says about the host.
type hostIdentity struct {
	computerName string
	timeZone     *hostid.TimeZone
	notes        []string
}
