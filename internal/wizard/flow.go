package wizard

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/unbrick/unbrick/internal/exitcode"
	"github.com/unbrick/unbrick/internal/fleetlog"
	"github.com/unbrick/unbrick/internal/remedy"
	"github.com/unbrick/unbrick/ntfs"
)

// wizard is one run of the flow.
type wizard struct {
	cfg Config
	ui  UI
	// cache holds the key of every BitLocker volume unlocked so far (by the
	// first scan, with the command line's keys and key exports, or in the
	// key dialog): the preview and the fix reuse it, so each key is derived
	// once per run. Never shown, never logged.
	cache *remedy.KeyCache
	// tracked are the volumes the fleet log tracks (Windows system volumes
	// and locked volumes that could be one), by volKey: the preview and
	// the fix work on these only.
	tracked map[string]bool

	mu sync.Mutex
	// stretches counts the 2^20-round key derivations of the whole run, by
	// BitLocker volume GUID (tests and benchmarks).
	stretches map[string]int
}

func newWizard(cfg Config) *wizard {
	return &wizard{cfg: cfg, ui: cfg.UI, cache: remedy.NewKeyCache(), tracked: map[string]bool{}, stretches: map[string]int{}}
}

// count adds the key derivations of an engine call's reports to the run's
// total and returns the reports.
func (w *wizard) count(vols []*remedy.Volume) []*remedy.Volume {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, v := range vols {
		if v.KeyDerivations > 0 {
			w.stretches[v.VolumeID] += v.KeyDerivations
		}
	}
	return vols
}

// selectTracked is a Hooks.Select accepting the tracked volumes only.
func (w *wizard) selectTracked(target string, partition int) bool {
	for k := range w.tracked {
		if strings.HasPrefix(k, fmt.Sprintf("%s\x00%d\x00", target, partition)) {
			return true
		}
	}
	return false
}

func volKey(v *remedy.Volume) string {
	return fmt.Sprintf("%s\x00%d\x00%d", v.Target, v.Partition, v.Offset)
}

// Run runs the wizard and returns the process exit code (as `unbrick fix`
// would for the same outcomes). It never writes to a disk itself: scans,
// dry runs and the fix are the engine's (internal/remedy).
func Run(ctx context.Context, cfg Config) int {
	return newWizard(cfg).runCode(ctx)
}

func (w *wizard) runCode(ctx context.Context) int {
	cfg := w.cfg
	code, err := w.run(ctx)
	if errors.Is(err, ErrAborted) {
		fmt.Fprintln(cfg.Out, "unbrick wizard: left by the user; nothing was written to any disk.")
		return exitcode.Failure
	}
	if err != nil {
		fmt.Fprintf(cfg.Out, "unbrick wizard: %v\n", err)
		return exitcode.Failure
	}
	return code
}

// scanOptions are the engine options of the first scan: the command
// line's keys and key exports, and the key cache that keeps what they open.
func (w *wizard) scanOptions() remedy.Options {
	o := w.cfg.Options
	o.Keys.Cache = w.cache
	return o
}

// workOptions are the engine options of the preview and the fix: the
// tracked volumes only, and no key but the cache's, so that no key is
// derived twice and no key that already failed is tried again (a volume
// skipped in the key dialog stays locked at no cost).
func (w *wizard) workOptions() remedy.Options {
	o := w.cfg.Options
	o.Keys.Export, o.Keys.Typed = nil, nil
	o.Keys.Cache = w.cache
	o.Hooks.Select = w.selectTracked
	return o
}

func (w *wizard) run(ctx context.Context) (int, error) {
	welcome := fmt.Sprintf("unbrick %s\n%s\n\n"+
		"This wizard finds Windows on this computer's disks, unlocks BitLocker with\n"+
		"a recovery key, and deletes the faulty CrowdStrike channel file of 19 July 2024.\n"+
		"Nothing is written to a disk before you confirm, and an undo journal is kept.\n\n"+
		"Disks: %s", w.cfg.Version, machineLine(w.cfg.Options.Identity.SMBIOS), strings.Join(w.cfg.Targets, ", "))
	if err := w.ui.Show("Welcome: unbrick help-desk wizard", welcome); err != nil {
		return 0, err
	}

	// The stick must take the fleet log and undo journal before any disk
	// is touched.
	for {
		perr := probeWritable(w.cfg.LogDir)
		if perr == nil {
			perr = probeWritable(w.cfg.JournalDir)
		}
		if perr == nil {
			break
		}
		retry, err := w.ui.Confirm("The stick cannot store the log",
			"unbrick keeps a log record (with the confirmation code for the help desk) and an undo\n"+
				"journal on the stick before it changes a disk. Writing to "+w.cfg.LogDir+" failed:\n  "+perr.Error()+"\n\n"+
				"The stick is read-only (check its write-protect switch) or its LOGS partition is full.\n"+
				"Nothing was written to any disk. Fix the stick, then try again.", "Try again", "Quit")
		if err != nil {
			return 0, err
		}
		if !retry {
			return exitcode.Refused, w.ui.Show("Nothing was done", "No disk was changed. Remove the stick and restart the computer when you are ready.")
		}
	}

	var vols []*remedy.Volume
	w.ui.Busy("Looking for Windows", "Reading the disks (nothing is written) ...", func(func(string)) {
		vols = w.count(remedy.Scan(ctx, w.cfg.Targets, w.scanOptions()))
	})
	if err := ctx.Err(); err != nil {
		return 0, err
	}

	candidates := 0
	for _, v := range vols {
		if v.Windows || v.Status == remedy.StatusLocked {
			candidates++
		}
		if v.Record {
			w.tracked[volKey(v)] = true
		}
	}
	if candidates == 0 {
		code := w.recordUnfixed(vols)
		body := "No Windows installation was found on: " + strings.Join(w.cfg.Targets, ", ") + "\n\n" + volumesText(vols) +
			"\nIf this computer does have Windows, its disk may be hidden behind a RAID or Intel RST/VMD\n" +
			"controller: do NOT change the firmware's storage mode (Windows would stop starting);\n" +
			"call the help desk. Nothing was written to any disk.\n\n" +
			"Confirmation code:  " + code + "\nRead the confirmation code to the help desk."
		if err := w.ui.Show("No Windows found", body); err != nil {
			return 0, err
		}
		fmt.Fprintf(w.cfg.Out, "unbrick wizard: no Windows found; nothing was written; confirmation code %s\n", code)
		return remedy.ExitCode(vols, false), nil
	}
	if err := w.ui.Show("Disks and Windows volumes found", volumesText(vols)); err != nil {
		return 0, err
	}

	// Unlock every locked volume, one at a time.
	for i, v := range vols {
		if v.Status != remedy.StatusLocked || v.BitLocker == nil {
			continue
		}
		res, err := w.unlockDialog(ctx, v)
		if err != nil {
			return 0, err
		}
		if res.vol != nil {
			// Unlocked, it may turn out not to be a Windows system volume:
			// then it is neither previewed nor fixed.
			delete(w.tracked, volKey(v))
			vols[i] = res.vol
			if res.vol.Record {
				w.tracked[volKey(res.vol)] = true
			}
		}
	}

	// Preview (an engine dry run), with the journal choice where needed.
	o := w.workOptions()
	var dry []*remedy.Volume
	for {
		od := o
		od.Fix.DryRun, od.Hooks.Log, od.Fix.JournalDir = true, nil, ""
		w.ui.Busy("Preparing the preview", "Planning the changes (nothing is written) ...", func(func(string)) {
			dry = w.count(remedy.Fix(ctx, w.cfg.Targets, od))
		})
		// Unclean journals are replayed by default (as Windows does when
		// it starts); the technician is asked only about those unbrick
		// cannot replay, unless the policy was set on the command line.
		if o.Fix.UncleanFallback != "" || (o.Fix.Unclean != "" && o.Fix.Unclean != ntfs.UncleanReplay) {
			break
		}
		unclean := []*remedy.Volume{}
		for _, v := range dry {
			if v.Status == remedy.StatusRefused && v.Journal != nil && v.Journal.State == "unclean" {
				unclean = append(unclean, v)
			}
		}
		if len(unclean) == 0 {
			break
		}
		reset, err := w.askJournal(unclean)
		if err != nil {
			return 0, err
		}
		if !reset {
			break
		}
		o.Fix.UncleanFallback = ntfs.UncleanReset
	}

	toDelete, toDisable := 0, 0
	var fixable []*remedy.Volume // volumes with files to delete or services to disable
	for _, v := range dry {
		if (!v.Windows && v.Status != remedy.StatusLocked) || v.Status == remedy.StatusSkipped {
			continue
		}
		n := countAction(v, remedy.ActionWouldDelete)
		ns := len(servicesToDisable(v))
		toDelete += n
		toDisable += ns
		if n > 0 || ns > 0 {
			fixable = append(fixable, v)
		}
		var title, body string
		switch v.Status {
		case remedy.StatusDryRun:
			title = fmt.Sprintf("Preview: %d file(s) to delete", n)
			if ns > 0 {
				title += fmt.Sprintf(", %d driver service(s) to disable", ns)
			}
			body = previewText(v)
		case remedy.StatusAlreadyClean:
			title, body = "Preview: already clean", volumeName(v)+" ("+where(v)+")\n\nNo faulty file was found: nothing will be changed on this volume.\n"+keptText(v)
		case remedy.StatusRefused:
			title, body = "Preview: this volume will NOT be changed", volumeName(v)+" ("+where(v)+")\n\n"+refusalText(v)
		case remedy.StatusLocked:
			title, body = "Preview: locked, will NOT be changed", volumeName(v)+" ("+where(v)+")\n\n"+statusAdvice(v)
		default:
			title, body = "Preview: "+string(v.Status), volumeName(v)+" ("+where(v)+")\n\n"+statusAdvice(v)
		}
		if err := w.ui.Show(title, body); err != nil {
			return 0, err
		}
	}

	if len(fixable) > 1 {
		keep, err := w.chooseVolumes(fixable, toDelete, toDisable)
		if err != nil {
			return 0, err
		}
		if len(keep) == len(fixable) {
			return w.fix(ctx, o)
		}
		if len(keep) == 0 {
			return w.notConfirmed()
		}
		// Fix only the chosen volumes; the others are left alone and not
		// logged, as if the wizard had never been run on them.
		for _, v := range fixable {
			if !keep[volKey(v)] {
				delete(w.tracked, volKey(v))
			}
		}
		return w.fix(ctx, o)
	}
	if toDelete > 0 || toDisable > 0 {
		title, what := fixQuestion(toDelete, toDisable, "preview")
		yes := "Yes, delete them"
		if toDisable > 0 {
			yes = "Yes, make the changes"
		}
		ok, err := w.ui.Confirm(title,
			what+" An undo journal is written to the stick\n"+
				"first, and the disk is checked afterwards. Do not switch the computer off until the\n"+
				"wizard says it is done.", yes, "No, change nothing")
		if err != nil {
			return 0, err
		}
		if !ok {
			return w.notConfirmed()
		}
	}
	return w.fix(ctx, o)
}

// fixQuestion words the question before a fix that deletes files and
// disables driver services: its title and the sentence saying what will
// happen to what the preview (or previews, as listed names it) showed.
func fixQuestion(files, services int, listed string) (title, what string) {
	if services == 0 {
		return fmt.Sprintf("Delete %d file(s) now?", files), "The files listed in the " + listed + " will be deleted."
	}
	return upperFirst(changesText(files, services)) + " now?", "The changes listed in the " + listed + " will be made."
}

// notConfirmed ends the run when the user declines the fix.
func (w *wizard) notConfirmed() (int, error) {
	if err := w.ui.Show("Nothing was changed", "You chose not to make the changes. No disk was changed.\nRemove the stick and restart the computer, or run the wizard again."); err != nil {
		return 0, err
	}
	fmt.Fprintln(w.cfg.Out, "unbrick wizard: not confirmed; nothing was written.")
	return exitcode.OK, nil
}

// chooseVolumes asks, when several volumes have files to delete, whether to
// fix all of them, one of them, or none, and returns the chosen volumes
// (by volKey). The safe answer, nothing, comes first.
func (w *wizard) chooseVolumes(fixable []*remedy.Volume, files, services int) (map[string]bool, error) {
	opts := []Option{
		{Label: "No, change nothing", Value: "none"},
		{Label: fmt.Sprintf("Yes, delete them on all %d volumes", len(fixable)), Value: "all"},
	}
	title, what := fixQuestion(files, services, "previews")
	if services > 0 {
		opts[1].Label = fmt.Sprintf("Yes, make the changes on all %d volumes", len(fixable))
	}
	for i, v := range fixable {
		opts = append(opts, Option{Label: "Only on " + volumeName(v) + " (" + where(v) + ")", Value: fmt.Sprint(i)})
	}
	c, err := w.ui.Choose(title,
		what+" An undo journal is written to the stick\n"+
			"first, and each disk is checked afterwards. Do not switch the computer off until the\n"+
			"wizard says it is done. You can also fix one volume only.", opts)
	if err != nil {
		return nil, err
	}
	keep := map[string]bool{}
	for i, v := range fixable {
		if c == "all" || c == fmt.Sprint(i) {
			keep[volKey(v)] = true
		}
	}
	return keep, nil
}

// askJournal explains an unclean NTFS journal and asks what to do.
func (w *wizard) askJournal(vols []*remedy.Volume) (bool, error) {
	var names []string
	for _, v := range vols {
		names = append(names, volumeName(v)+" ("+where(v)+")")
	}
	why := ""
	for _, v := range vols {
		if v.Journal.ReplayImpossible != "" {
			why = "\n\nunbrick normally finishes those changes first, exactly as Windows does when it\n" +
				"starts, but it cannot here:\n  " + v.Journal.ReplayImpossible
			break
		}
	}
	body := strings.Join(names, "\n") + "\n\n" +
		"Windows stopped (the crash) with file system changes still in its journal. Reading\n" +
		"the disk past those changes could miss newer data, so unbrick does not write there on\n" +
		"its own." + why + "\n\nYou can choose:\n\n" +
		"- Reset the journal, as Linux's ntfsfix does, then delete the faulty file. Changes\n" +
		"  Windows had not finished are dropped (usually just the last seconds before the\n" +
		"  crash), and Windows runs a disk check at the next start.\n" +
		"- Leave the volume unchanged: it is reported as refused and the help desk decides.\n"
	v, err := w.ui.Choose("Windows did not shut down cleanly", body, []Option{
		{Label: "Leave the volume unchanged (refused)", Value: "leave"},
		{Label: "Reset the journal and fix (disk check at next start)", Value: "reset"},
	})
	return v == "reset", err
}

// refusalText explains a refusal in plain words.
func refusalText(v *remedy.Volume) string {
	s := "unbrick will not write to this volume:\n  " + v.Error + "\n"
	if j := v.Journal; j != nil {
		switch {
		case j.Hibernated:
			s += "\nWindows was hibernated (or Fast Startup saved its session). Writing now would be\n" +
				"lost or cause damage when Windows resumes. Call the help desk."
		case j.State == "unclean":
			s += "\nYou chose to leave the unclean journal alone. Call the help desk."
		}
	}
	return s
}

// keptText lists the matched files that stay.
func keptText(v *remedy.Volume) string {
	var b strings.Builder
	for _, f := range v.Files {
		if f.Verdict != remedy.VerdictFaulty {
			b.WriteString("Stays:\n" + fileLine(f))
		}
	}
	return b.String()
}

// recordUnfixed writes the fleet log records of a scan that found nothing
// to fix (no Windows, or only volumes unbrick cannot recognise), so that a
// fleet report never counts this host as fine, and returns their
// confirmation codes.
func (w *wizard) recordUnfixed(vols []*remedy.Volume) string {
	log, err := fleetlog.Open(w.cfg.LogDir)
	if err != nil {
		return "(none: the log could not be opened: " + err.Error() + ")"
	}
	o := w.scanOptions()
	o.Identity.RunID = remedy.NewRunID(time.Now())
	var codes []string
	for _, v := range vols {
		if !v.Record {
			continue
		}
		r := v.FleetRecord(&o)
		if err := log.Append(r); err != nil {
			codes = append(codes, "(none: the log record could not be written: "+err.Error()+")")
			continue
		}
		codes = append(codes, r.ConfirmationCode)
	}
	if len(codes) == 0 {
		return "(none)"
	}
	return strings.Join(codes, ", ")
}

// fix runs the engine's fix with the fleet log, then shows the outcomes.
func (w *wizard) fix(ctx context.Context, o remedy.Options) (int, error) {
	log, err := fleetlog.Open(w.cfg.LogDir)
	if err != nil {
		return exitcode.Refused, w.ui.Show("The stick cannot store the log", "Opening the log failed: "+err.Error()+"\nNothing was written to any disk.")
	}
	o.Fix.JournalDir = w.cfg.JournalDir
	o.Identity.RunID = remedy.NewRunID(time.Now())
	var mu sync.Mutex
	codes := map[string]string{}
	var progress func(string)
	o.Hooks.Progress = func(v *remedy.Volume, s remedy.Step) {
		if progress != nil {
			if line := stepText(s); line != "" {
				progress(where(v) + ": " + line)
			}
		}
	}
	o.Hooks.Log = func(v *remedy.Volume) error {
		r := v.FleetRecord(&o)
		if err := log.Append(r); err != nil {
			return err
		}
		mu.Lock()
		codes[volKey(v)] = r.ConfirmationCode
		mu.Unlock()
		if progress != nil {
			progress(fmt.Sprintf("%s: %s (%s)", where(v), v.Status, since(v.Duration)))
		}
		return nil
	}
	var vols []*remedy.Volume
	// The engine's apply is never cancelled half-way: Fix gets a context
	// that an interrupt does not cancel, and Busy holds SIGINT/SIGTERM/
	// SIGHUP and Ctrl-C until it returns.
	interrupted := w.ui.Busy("Fixing: do not switch the computer off",
		"Writing the undo journal, deleting, checking. Ctrl-C waits until the disk is consistent.",
		func(p func(string)) {
			progress = p
			vols = w.count(remedy.Fix(context.WithoutCancel(ctx), w.cfg.Targets, o))
		})

	var sum strings.Builder
	var screens []struct{ title, body string }
	for _, v := range vols {
		if !v.Record {
			continue
		}
		code := codes[volKey(v)]
		if code == "" {
			code = "(none: the log record could not be written)"
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%s (%s)\n\n", volumeName(v), where(v))
		fmt.Fprintf(&b, "Result:             %s\n", strings.ToUpper(string(v.Status)))
		fmt.Fprintf(&b, "Confirmation code:  %s\n\n", code)
		for _, f := range v.Files {
			if f.Action == remedy.ActionDeleted {
				fmt.Fprintf(&b, "Deleted: %s (%s)\n", f.Path, sizeText(f.Size))
			}
		}
		for _, sv := range disabledServices(v) {
			fmt.Fprintf(&b, "Disabled driver service: %s (%s)\n", sv.Service, sv.String())
		}
		b.WriteString(statusAdvice(v) + "\n\n")
		b.WriteString("Read the confirmation code to the help desk.\n")
		screens = append(screens, struct{ title, body string }{"Result: " + string(v.Status), b.String()})
		fmt.Fprintln(&sum, resultLine(v, code))
	}
	final := "Remove the stick and restart the computer."
	if interrupted {
		final = "You asked to stop: the fix was finished first, so no volume is half-written.\n" + final
	}
	for i, s := range screens {
		body := s.body
		if i == len(screens)-1 {
			body += "\n" + final
		}
		if err := w.ui.Show(s.title, body); err != nil && !errors.Is(err, ErrAborted) {
			return remedy.ExitCode(vols, false), err
		}
	}
	fmt.Fprint(w.cfg.Out, sum.String())
	fmt.Fprintf(w.cfg.Out, "fleet log: %s\n%s\n", log.Dir(), final)
	return remedy.ExitCode(vols, false), nil
}

// stepText is the progress line for an engine step ("" for none).
func stepText(s remedy.Step) string {
	switch s {
	case remedy.StepUnlock:
		return "opening BitLocker"
	case remedy.StepEvaluate:
		return "checking the files"
	case remedy.StepPlan:
		return "planning the deletion"
	case remedy.StepJournal:
		return "writing the undo journal to the stick"
	case remedy.StepWrite:
		return "deleting the faulty file(s)"
	case remedy.StepVerify:
		return "checking the disk after writing"
	}
	return ""
}
