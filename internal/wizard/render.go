package wizard

import (
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/unbrick/unbrick/internal/hostid"
	"github.com/unbrick/unbrick/internal/remedy"
)

// machineLine describes the machine from its SMBIOS identity.
func machineLine(s *hostid.SMBIOS) string {
	if s == nil {
		return "Machine: not read (working on disk images, or /sys/class/dmi is missing)"
	}
	parts := []string{}
	for _, p := range []string{s.Vendor, s.Model} {
		if p = strings.TrimSpace(p); p != "" {
			parts = append(parts, p)
		}
	}
	m := strings.Join(parts, " ")
	if m == "" {
		m = "unknown maker and model"
	}
	if s.Serial != "" {
		m += ", serial " + s.Serial
	}
	return "Machine: " + m
}

// sizeText renders a byte count for people.
func sizeText(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// where names a volume's place: "disk.img, partition 3".
func where(v *remedy.Volume) string {
	switch v.Partition {
	case 0:
		return v.Target + " (whole disk)"
	case -1:
		return v.Target
	}
	return fmt.Sprintf("%s, partition %d", v.Target, v.Partition)
}

// volumeName is the short name of a volume: its computer name if known.
func volumeName(v *remedy.Volume) string {
	if v.ComputerName != "" {
		return "Windows of " + v.ComputerName
	}
	if v.BitLocker != nil {
		if f := strings.Fields(v.BitLocker.Description); len(f) > 0 {
			return "BitLocker volume of " + f[0]
		}
		return "BitLocker volume"
	}
	return "volume"
}

// encryptionText says how a volume is encrypted and whether it is open.
func encryptionText(v *remedy.Volume) string {
	bl := v.BitLocker
	if bl == nil {
		return "not encrypted"
	}
	s := "BitLocker " + bl.Method
	if bl.Unlocked {
		s += ", unlocked"
		if bl.UnlockMethod != "" {
			s += " (" + bl.UnlockMethod + ")"
		}
	} else {
		s += ", LOCKED"
	}
	return s
}

// journalText explains the NTFS journal state in plain words.
func journalText(j *remedy.JournalInfo) string {
	if j == nil {
		return "not read"
	}
	s := j.State
	switch j.State {
	case "clean":
		s = "clean (Windows shut down properly or crashed without pending changes)"
	case "unclean":
		s = "unclean (Windows stopped with changes not yet written; unbrick finishes them first, as Windows does at start)"
		if j.ReplayImpossible != "" {
			s = "unclean (Windows stopped with changes not yet written, which unbrick cannot finish: you will be asked)"
		}
	case "hibernated":
		s = "hibernated (Windows is asleep in hiberfil.sys)"
	}
	if j.Dirty {
		s += "; check-disk scheduled"
	}
	return s
}

// volumesText is the "what was found" screen.
func volumesText(vols []*remedy.Volume) string {
	var b strings.Builder
	nWin := 0
	for _, v := range vols {
		if v.Status == remedy.StatusSkipped {
			fmt.Fprintf(&b, "- %s: %s %s, not Windows (%s)\n", where(v), sizeText(v.Size), v.Kind, labelOr(v.Label, "no label"))
			continue
		}
		if v.Windows {
			nWin++
		}
		fmt.Fprintf(&b, "- %s: %s\n", where(v), volumeName(v))
		fmt.Fprintf(&b, "    size %s, %s\n", sizeText(v.Size), encryptionText(v))
		if v.Windows {
			name := v.ComputerName
			if name == "" {
				name = "(not readable)"
			}
			fmt.Fprintf(&b, "    Windows: yes, computer name %s\n", name)
			fmt.Fprintf(&b, "    journal: %s\n", journalText(v.Journal))
			fmt.Fprintf(&b, "    faulty files: %d\n", countVerdict(v, remedy.VerdictFaulty))
		} else if v.Status == remedy.StatusLocked {
			fmt.Fprintf(&b, "    Windows: cannot tell until it is unlocked\n")
		} else if v.Error != "" {
			fmt.Fprintf(&b, "    problem: %s\n", v.Error)
		}
	}
	if nWin > 1 {
		fmt.Fprintf(&b, "\n%d Windows installations were found; the wizard handles each of them.\n", nWin)
	}
	return b.String()
}

func labelOr(s, def string) string {
	if s == "" {
		return def
	}
	return "label " + s
}

// countAction counts the volume's files with the given action.
func countAction(v *remedy.Volume, action string) int {
	return countFiles(v, func(f *remedy.File) bool { return f.Action == action })
}

// countVerdict counts the volume's files with the given verdict.
func countVerdict(v *remedy.Volume, verdict string) int {
	return countFiles(v, func(f *remedy.File) bool { return f.Verdict == verdict })
}

// countFiles counts the volume's files for which match holds.
func countFiles(v *remedy.Volume, match func(*remedy.File) bool) int {
	n := 0
	for i := range v.Files {
		if match(&v.Files[i]) {
			n++
		}
	}
	return n
}

// fileLine renders one file of the preview: name, size, last-write time,
// and why.
func fileLine(f remedy.File) string {
	return fmt.Sprintf("  %s\n    in %s\n    %s, last written %s\n    why: %s\n",
		path.Base(f.Path), path.Dir(f.Path), sizeText(f.Size), f.MTime.UTC().Format("2006-01-02 15:04:05 UTC"), f.Reason)
}

// servicesToDisable returns the volume's disable-service rules that have
// bytes to write (a Start value not yet 4 in a selected control set).
func servicesToDisable(v *remedy.Volume) []remedy.Service {
	return servicesWhere(v, (*remedy.Service).Needed)
}

// disabledServices returns the volume's services this run disabled.
func disabledServices(v *remedy.Volume) []remedy.Service {
	return servicesWhere(v, func(s *remedy.Service) bool { return s.Action == remedy.ActionDisabled })
}

// servicesWhere returns the volume's services for which keep holds.
func servicesWhere(v *remedy.Volume, keep func(*remedy.Service) bool) []remedy.Service {
	var out []remedy.Service
	for i := range v.Services {
		if keep(&v.Services[i]) {
			out = append(out, v.Services[i])
		}
	}
	return out
}

// serviceLine renders one driver service of the preview or the result:
// its name, the rule, and the Start value in each control set.
func serviceLine(s remedy.Service) string {
	return fmt.Sprintf("  %s (rule %s)\n    %s\n", s.Service, s.Rule, s.String())
}

// changesText names what a fix does in plain words: "delete 2 file(s)",
// "disable 1 driver service(s)", or both.
func changesText(files, services int) string {
	var parts []string
	if files > 0 {
		parts = append(parts, fmt.Sprintf("delete %d file(s)", files))
	}
	if services > 0 {
		parts = append(parts, fmt.Sprintf("disable %d driver service(s)", services))
	}
	return strings.Join(parts, " and ")
}

// previewText is the dry run's report on one volume: what will be deleted,
// which driver services will be disabled, and what stays.
func previewText(v *remedy.Volume) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s)\n\n", volumeName(v), where(v))
	var del, keep []remedy.File
	for _, f := range v.Files {
		if f.Action == remedy.ActionWouldDelete {
			del = append(del, f)
		} else {
			keep = append(keep, f)
		}
	}
	if len(del) > 0 {
		fmt.Fprintf(&b, "Will be DELETED (%d):\n", len(del))
		for _, f := range del {
			b.WriteString(fileLine(f))
		}
		b.WriteString("\n")
	}
	if svcs := servicesToDisable(v); len(svcs) > 0 {
		fmt.Fprintf(&b, "Driver services to DISABLE (%d): Windows will not load them at its next start\n(their Start value is set to 4 in the registry; the undo journal can set it back):\n", len(svcs))
		for _, sv := range svcs {
			b.WriteString(serviceLine(sv))
		}
		b.WriteString("\n")
	}
	if len(keep) > 0 {
		fmt.Fprintf(&b, "Stays (matched the rule's name but not its faulty time) (%d):\n", len(keep))
		for _, f := range keep {
			b.WriteString(fileLine(f))
		}
		b.WriteString("\n")
	}
	b.WriteString(replayText(v.Journal, true))
	b.WriteString("Everything else on the volume stays as it is.")
	if v.PlanWrites > 0 {
		fmt.Fprintf(&b, " (%d disk writes, %s; an undo journal is saved first.)", v.PlanWrites, sizeText(v.PlanBytes))
	}
	b.WriteString("\n")
	return b.String()
}

// replayText explains a journal replay in plain words: how many changes
// Windows had committed but not yet written, of which kinds, and that they
// are (or were) redone first. Empty when there was no replay.
func replayText(j *remedy.JournalInfo, preview bool) string {
	if j == nil || (len(j.Replayed) == 0 && j.RolledBack == 0) {
		if j != nil && j.Reset {
			return "The journal of unfinished changes is emptied first (as ntfsfix does); Windows checks\nthe disk at its next start.\n\n"
		}
		return ""
	}
	n := 0
	var kinds []string
	for op, c := range j.Replayed {
		n += c
		kinds = append(kinds, fmt.Sprintf("%s %d", op, c))
	}
	sort.Strings(kinds)
	verb, undo := "were finished first", "were undone"
	if preview {
		verb, undo = "are finished first", "are undone"
	}
	s := ""
	if n > 0 {
		s = fmt.Sprintf("Windows crashed with %d change(s) in its journal that it had committed but not yet\n"+
			"written to the disk. They %s, exactly as Windows would at its next start\n"+
			"(journal replay: %s), in the same undo journal as the deletion.\n", n, verb, strings.Join(kinds, ", "))
	}
	if j.RolledBack > 0 {
		s += fmt.Sprintf("%d half-done change(s) that Windows had not committed %s first, as Windows\n"+
			"would at its next start, in the same undo journal as the deletion.\n", j.RolledBack, undo)
	}
	return s + "\n"
}

// statusAdvice says in plain words what an outcome means and what to do.
func statusAdvice(v *remedy.Volume) string {
	switch v.Status {
	case remedy.StatusRemediated:
		done := "The faulty file was deleted"
		if n := len(disabledServices(v)); n > 0 && countAction(v, remedy.ActionDeleted) > 0 {
			done = "The faulty file was deleted and the driver service(s) disabled"
		} else if n > 0 {
			done = "The driver service(s) were disabled"
		}
		return replayText(v.Journal, false) + done + ", and the disk was checked afterwards. Windows should start normally."
	case remedy.StatusAlreadyClean:
		return "No faulty file is on this Windows: nothing was changed. If it still does not start, the cause is something else: call the help desk."
	case remedy.StatusLocked:
		s := "This volume stayed locked (no key), so nothing was changed."
		if id := recoveryKeyID(v); id != "" {
			s += " Get the recovery key with ID " + ShortKeyID(id) + " (full ID " + id + ") from the help desk and run the wizard again."
		}
		return s
	case remedy.StatusRefused:
		return "Nothing was written: " + v.Error + ". Give this screen's code to the help desk; they will decide what to do."
	case remedy.StatusNeedsReview:
		return "A person must decide: " + v.Error + ". Give this screen's code to the help desk."
	case remedy.StatusUnrecognized, remedy.StatusNoWindows:
		return "Nothing was written: " + v.Error + ". Give this screen's code to the help desk."
	case remedy.StatusBusy:
		return "Nothing was written: " + v.Error + "."
	case remedy.StatusFailed:
		s := "Something went wrong: " + v.Error + "."
		if v.JournalFile != "" {
			s += " The undo journal " + v.JournalFile + " can put the disk back ('unbrick undo')."
		}
		return s + " Give this screen's code to the help desk."
	}
	return v.Error
}

// resultLine is the plain one-line summary of a volume's outcome printed
// after the wizard ends, e.g. for the technician's notes.
func resultLine(v *remedy.Volume, code string) string {
	return fmt.Sprintf("%s: %s: %s, confirmation code %s", where(v), volumeName(v), v.Status, code)
}

// since formats a duration for the progress screen.
func since(d time.Duration) string { return d.Round(time.Millisecond).String() }

// upperFirst capitalises the first letter of an ASCII sentence.
func upperFirst(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
