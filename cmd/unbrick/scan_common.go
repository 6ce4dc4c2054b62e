package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/unbrick/unbrick/internal/disk"
	"github.com/unbrick/unbrick/internal/hostid"
	"github.com/unbrick/unbrick/internal/inputfile"
	"github.com/unbrick/unbrick/internal/remedy"
	"github.com/unbrick/unbrick/internal/rules"
)

// engineOptions builds the remediation engine's options shared by scan and
// fix from the key flags and --rules. Errors are usage errors (exit 2).
// The rules pack is loaded and checked (signature, allowed signer,
// expiry: rulesFlags.load) before any key is read or disk opened, and
// returned for the fleet records (nil for the built-in rule).
//
// Key exports (--keys, age-sealed ones opened with --passphrase-file, then
// UNBRICK_KEYS_PASSPHRASE, then a prompt) become the engine's key set.
func engineOptions(e *env, kf *keyFlags, rf *rulesFlags) (remedy.Options, *rules.Pack, error) {
	var o remedy.Options
	pack, err := rf.load()
	if err != nil {
		return o, nil, err
	}
	ks, err := kf.resolve(e)
	if err != nil {
		return o, nil, err
	}
	ko := ks.engineKeys()
	o.Keys.Typed, o.Keys.Export = ko.Typed, ko.Export
	if pack != nil {
		o.Rules = pack.Set
	}
	o.Identity.ToolVersion = toolVersion()
	return o, pack, nil
}

// maxTargetList bounds a --targets-from file read whole: room for about a
// hundred thousand paths.
const maxTargetList = 16 << 20

// readTargetList reads a --targets-from list: one TARGET per line, blank
// lines and lines starting with '#' skipped, surrounding spaces trimmed
// ("-" reads standard input). A list that names no target is an error:
// an empty batch must never fall back to the host's own disks.
func readTargetList(e *env, path string) ([]string, error) {
	b, err := inputfile.ReadOrStdin(path, e.Stdin, "--targets-from list", maxTargetList)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.ContainsRune(line, 0) {
			return nil, fmt.Errorf("--targets-from %s: a line holds a zero byte: is it a list of paths, one per line?", path)
		}
		out = append(out, line)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--targets-from %s names no target (one disk image or block device per line; '#' starts a comment)", path)
	}
	return out, nil
}

// gatherTargets is the TARGET arguments followed by the --targets-from
// list (if any). The engine works on each disk once, however often and
// under whatever names it is listed. Errors are usage errors.
func gatherTargets(e *env, args []string, listFile string, kf *keyFlags) ([]string, error) {
	if listFile == "" {
		return args, nil
	}
	if listFile == inputfile.Stdin && kf != nil && kf.recoveryPasswordFile == inputfile.Stdin {
		return nil, fmt.Errorf("--targets-from and --recovery-password-file cannot both read standard input: give one of them a file")
	}
	list, err := readTargetList(e, listFile)
	if err != nil {
		return nil, err
	}
	return append(append([]string(nil), args...), list...), nil
}

// resolveTargets returns the TARGETs given, or with none the host's disks
// (Linux: /sys/block, without the boot medium, loop/RAM/optical and
// read-only devices; Windows: \\.\PhysicalDriveN without the disks of
// %SystemRoot% and of unbrick.exe); in that case unbrick runs on the host
// itself and its SMBIOS identity is read.
func resolveTargets(e *env, args []string, o *remedy.Options) ([]string, error) {
	if len(args) > 0 {
		return args, nil
	}
	disks, skipped, err := disk.Discover(discoverOptions(runtime.GOOS, o.Fix.JournalDir))
	if err != nil {
		return nil, fmt.Errorf("find the host's disks: %w (name TARGETs: disk images or block devices)", err)
	}
	for _, s := range skipped {
		fmt.Fprintf(e.Stderr, "skipping %s: %s\n", s.Name, s.Reason)
	}
	if len(disks) == 0 {
		return nil, errors.New("no disk found to work on (name TARGETs: disk images or block devices)")
	}
	var out []string
	for _, d := range disks {
		out = append(out, d.Path)
	}
	o.Identity.OnHost = true
	if s, err := hostid.ReadSMBIOS(""); err == nil {
		o.Identity.SMBIOS = s
		o.Keys.Serial = s.Serial
	}
	return out, nil
}

// discoverOptions: on Windows the disk that will hold the undo journals is
// never a target too. On WinPE unbrick.exe runs from the RAM disk X:, so
// the stick it booted from is only known as the place its logs and
// journals go (scripts/winpe's start.cmd puts them there). On Linux the
// defaults stay (the executable's and /'s disks).
func discoverOptions(goos, journalDir string) disk.DiscoverOptions {
	var o disk.DiscoverOptions
	if goos != "windows" || journalDir == "" {
		return o
	}
	// The directory may not exist yet: its nearest existing parent is on
	// the same volume.
	p := journalDir
	for {
		if _, err := os.Stat(p); err == nil {
			break
		}
		parent := filepath.Dir(p)
		if parent == p {
			return o
		}
		p = parent
	}
	o.BootPaths = []string{p}
	return o
}

// printVolume renders one volume report for humans.
func printVolume(w io.Writer, v *remedy.Volume) {
	var b strings.Builder
	where := fmt.Sprintf("partition %d", v.Partition)
	switch v.Partition {
	case 0:
		where = "whole target"
	case -1:
		where = "target"
	}
	target := v.Target
	if v.Container != "" {
		target += " (" + v.Container + ")"
	}
	fmt.Fprintf(&b, "%s %s: offset %d, %s, %s", target, where, v.Offset, sizeString(v.Size), v.Kind)
	if v.PartName != "" {
		fmt.Fprintf(&b, " %q", v.PartName)
	}
	if v.Disk != "" {
		fmt.Fprintf(&b, " [disk %s]", v.Disk)
	}
	b.WriteString("\n")
	if bl := v.BitLocker; bl != nil {
		fmt.Fprintf(&b, "  encryption:    BitLocker %s (%s), volume {%s}", bl.Method, bl.MethodCode, bl.VolumeGUID)
		if bl.Description != "" {
			fmt.Fprintf(&b, ", description %q", bl.Description)
		}
		b.WriteString("\n")
		for _, p := range bl.Protectors {
			mark := ""
			if bl.Unlocked && p.ID == bl.ProtectorID {
				mark = "  <- unlocked"
			}
			fmt.Fprintf(&b, "  protector:     %-20s {%s}%s\n", p.Type, p.ID, mark)
		}
		if bl.Unlocked {
			fmt.Fprintf(&b, "  lock state:    unlocked with %s", bl.UnlockMethod)
			if bl.KeySource != "" {
				fmt.Fprintf(&b, " from %s", bl.KeySource)
			}
			if bl.KeyMatch != "" && bl.KeyMatch != "typed" {
				fmt.Fprintf(&b, " (matched by %s)", bl.KeyMatch)
			}
			b.WriteString("\n")
		} else {
			b.WriteString("  lock state:    locked\n")
		}
	} else if v.Kind == "NTFS" {
		b.WriteString("  encryption:    none\n")
	}
	if v.Label != "" || v.VolumeID != "" {
		fmt.Fprintf(&b, "  volume:        label %q, id %s\n", v.Label, v.VolumeID)
	}
	if v.Windows {
		name := v.ComputerName
		if name == "" {
			name = "(unknown)"
		}
		fmt.Fprintf(&b, "  windows:       yes, computer name %s\n", name)
	}
	if j := v.Journal; j != nil {
		fmt.Fprintf(&b, "  journal:       %s (%s); dirty flag %v", j.State, j.Detail, j.Dirty)
		if j.Reset {
			b.WriteString("; emptied (reset)")
		}
		b.WriteString("\n")
		if j.ReplayImpossible != "" {
			fmt.Fprintf(&b, "                 not replayable: %s\n", j.ReplayImpossible)
		}
	}
	for _, f := range v.Files {
		fmt.Fprintf(&b, "  file:          %s\n", f.Path)
		fmt.Fprintf(&b, "                 %d bytes, last written %s, sha256 %s\n", f.Size, f.MTime.Format(time.RFC3339), f.SHA256)
		fmt.Fprintf(&b, "                 %s", f.Reason)
		if f.Action != "" && f.Action != remedy.ActionNone {
			fmt.Fprintf(&b, " -> %s", f.Action)
		}
		b.WriteString("\n")
	}
	for _, sv := range v.Services {
		fmt.Fprintf(&b, "  service:       %s (rule %s, disable-service): %s", sv.Service, sv.Rule, sv.Verdict)
		if sv.Action != "" && sv.Action != remedy.ActionNone && sv.Action != sv.Verdict {
			fmt.Fprintf(&b, " -> %s", sv.Action)
		}
		b.WriteString("\n")
		if len(sv.ControlSets) > 0 {
			fmt.Fprintf(&b, "                 %s\n", sv.String())
		}
		if sv.Reason != "" {
			fmt.Fprintf(&b, "                 %s\n", sv.Reason)
		}
	}
	if v.Windows && len(v.Files) == 0 && v.Status != remedy.StatusLocked && len(v.Rules) > len(v.Services) {
		fmt.Fprintf(&b, "  files:         no file matches the rules (%s)\n", strings.Join(v.Rules, ", "))
	}
	if v.PlanText != "" {
		b.WriteString("  plan:\n")
		for _, l := range strings.Split(strings.TrimRight(v.PlanText, "\n"), "\n") {
			b.WriteString("    " + l + "\n")
		}
	}
	for _, n := range v.Notes {
		fmt.Fprintf(&b, "  note:          %s\n", n)
	}
	if v.JournalFile != "" {
		fmt.Fprintf(&b, "  undo journal:  %s\n", v.JournalFile)
	}
	if len(v.Phases) > 0 {
		b.WriteString("  timing:       ")
		for _, ph := range []string{"unlock", "replay", "evaluate", "plan", "write", "verify"} {
			if ms, ok := v.Phases[ph]; ok {
				fmt.Fprintf(&b, " %s %.1f ms,", ph, ms)
			}
		}
		fmt.Fprintf(&b, " total %.1f ms\n", float64(v.Duration.Microseconds())/1000)
	}
	fmt.Fprintf(&b, "  status:        %s", v.Status)
	if v.Error != "" {
		fmt.Fprintf(&b, ": %s", v.Error)
	}
	b.WriteString("\n")
	if v.FinishedRun != "" {
		fmt.Fprintf(&b, "  finished:      the interrupted fix of run %s was completed from its undo journal first\n", v.FinishedRun)
	}
	if v.LogError != "" {
		fmt.Fprintf(&b, "  fleet log:     THE RECORD COULD NOT BE SAVED (%s); it is printed below: keep this output\n", v.LogError)
	}
	b.WriteString("\n")
	io.WriteString(w, b.String())
}

func sizeString(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d bytes", n)
}
