package bootmode

// The parts of the boot-time mode that do not touch the kernel, so tests
// can run them on a fake /sys tree.

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/unbrick/unbrick/image"
)

// blockPart is a partition found in /sys/class/block.
type blockPart struct {
	Name string // "sda2", "nvme0n1p2"
	Disk string // its whole disk: "sda"
}

// findPartByName returns the partition whose GPT partition name is name,
// from the PARTNAME= line the kernel puts in each partition's uevent file
// (block/partitions/efi.c fills it from the GPT entry). Several matches are
// an error: two unbrick sticks are plugged in.
func findPartByName(sysRoot, name string) (*blockPart, error) {
	dirs, err := filepath.Glob(filepath.Join(sysRoot, "class/block/*"))
	if err != nil {
		return nil, err
	}
	var found []*blockPart
	for _, d := range dirs {
		kv := readUevent(filepath.Join(d, "uevent"))
		if kv["DEVTYPE"] != "partition" || kv["PARTNAME"] != name {
			continue
		}
		real, err := filepath.EvalSymlinks(d)
		if err != nil {
			continue
		}
		found = append(found, &blockPart{Name: filepath.Base(d), Disk: filepath.Base(filepath.Dir(real))})
	}
	switch len(found) {
	case 0:
		return nil, nil
	case 1:
		return found[0], nil
	}
	var names []string
	for _, p := range found {
		names = append(names, "/dev/"+p.Name)
	}
	return nil, fmt.Errorf("%d partitions are named %s (%s): unplug all unbrick sticks but one", len(found), name, strings.Join(names, ", "))
}

func readUevent(p string) map[string]string {
	kv := map[string]string{}
	f, err := os.Open(p)
	if err != nil {
		return kv
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			kv[k] = v
		}
	}
	return kv
}

// victimDisk is a whole disk that auto mode offers to the engine.
type victimDisk struct {
	Name  string // "nvme0n1"
	Size  int64  // bytes
	Model string
}

func (d victimDisk) String() string {
	s := fmt.Sprintf("/dev/%s (%d MiB", d.Name, d.Size>>20)
	if d.Model != "" {
		s += ", " + d.Model
	}
	return s + ")"
}

// listVictimDisks lists the whole disks in /sys/block except the stick,
// virtual and optical devices, read-only and empty ones.
func listVictimDisks(sysRoot, stick string) []victimDisk {
	ents, _ := os.ReadDir(filepath.Join(sysRoot, "block"))
	var out []victimDisk
	for _, e := range ents {
		n := e.Name()
		if n == stick {
			continue
		}
		skip := false
		for _, p := range []string{"loop", "ram", "zram", "sr", "fd", "dm-", "md", "nbd", "mmcblk0boot", "mmcblk1boot"} {
			if strings.HasPrefix(n, p) {
				skip = true
			}
		}
		if skip {
			continue
		}
		dir := filepath.Join(sysRoot, "block", n)
		if readSysString(filepath.Join(dir, "ro")) == "1" {
			continue
		}
		sectors, _ := strconv.ParseInt(readSysString(filepath.Join(dir, "size")), 10, 64)
		if sectors == 0 {
			continue
		}
		out = append(out, victimDisk{Name: n, Size: sectors * 512, Model: readSysString(filepath.Join(dir, "device/model"))})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// blockNames is the sorted list of /sys/class/block entries, used to wait
// until device discovery has settled.
func blockNames(sysRoot string) string {
	dirs, _ := filepath.Glob(filepath.Join(sysRoot, "class/block/*"))
	for i := range dirs {
		dirs[i] = filepath.Base(dirs[i])
	}
	sort.Strings(dirs)
	return strings.Join(dirs, " ")
}

// noLogsHint says what to do when no LOGS partition appeared. With a CD
// drive present the machine most likely started from the unbrick ISO as a
// CD or virtual media, whose LOGS partition a CD drive cannot show
// (image/doc.go, "Hybrid ISO"). The initramfs loads no CD driver, so a
// drive shows as a SCSI device of peripheral type 5 (CD/DVD, SPC-4
// "Peripheral device type") in /sys/bus/scsi/devices/*/type, or as sr*
// where sr_mod is loaded.
func noLogsHint(sysRoot string) string {
	cd := false
	if srs, _ := filepath.Glob(filepath.Join(sysRoot, "class/block/sr[0-9]*")); len(srs) > 0 {
		cd = true
	}
	types, _ := filepath.Glob(filepath.Join(sysRoot, "bus/scsi/devices/*/type"))
	for _, t := range types {
		if readSysString(t) == "5" {
			cd = true
		}
	}
	if cd {
		return "started from a CD or virtual media? A CD has no writable LOGS partition: attach a LOGS disk (unbrick image build --format logs) as a second virtual disk or USB stick, or rebuild the ISO with --config-url to take the settings from the network"
	}
	return "this is not an unbrick stick, or its USB port/controller is not supported"
}

func readSysString(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// fixArgs is the command line auto mode runs: the engine's own `fix`, with
// logs and undo journals on the stick and the victim disks as targets.
func fixArgs(cmd string, keys, rules []string, logDir, journalDir string, disks []victimDisk) []string {
	args := []string{cmd}
	for _, k := range keys {
		args = append(args, "--keys", k)
	}
	for _, r := range rules {
		args = append(args, "--rules", r)
	}
	args = append(args, "--log", logDir, "--journal", journalDir)
	for _, d := range disks {
		args = append(args, "/dev/"+d.Name)
	}
	return args
}

// shipArgs is the ship command that sends the run's records to the
// receivers unbrick.conf names (nil when it names none), trusting caFile
// when it is set, and the undo journals in journalDir too when it is set
// (a network boot without a LOGS disk: they only live in memory, so the
// receiver gets a longer wait).
func shipArgs(cfg image.Config, logDir, caFile, journalDir string) []string {
	if cfg.LogURL == "" && cfg.Syslog == "" {
		return nil
	}
	wait := "20s"
	if journalDir != "" {
		wait = "90s"
	}
	args := []string{"ship", "--log", logDir, "--log-wait", wait}
	if cfg.LogURL != "" {
		args = append(args, "--log-url", cfg.LogURL)
	}
	if cfg.Syslog != "" {
		args = append(args, "--syslog", cfg.Syslog)
	}
	if caFile != "" {
		args = append(args, "--log-ca", caFile)
	}
	if journalDir != "" && cfg.LogURL != "" {
		args = append(args, "--journal", journalDir)
	}
	return args
}

// minLogsFree is the free space the LOGS partition must have before a fix
// starts: undo journals hold before-images of every changed sector, and
// they are written before anything on the PC's disk changes.
const minLogsFree = 8 << 20

// checkLogsSpace refuses a run when the LOGS partition has less than
// minLogsFree bytes free, with a message that says how to make room.
func checkLogsSpace(free int64) error {
	if free >= minLogsFree {
		return nil
	}
	return fmt.Errorf("the LOGS partition is full (%d KiB free, %d KiB needed for the undo journal): on any PC, move old files out of logs/ and journal/ on the UNBRICK drive, then boot again; nothing was changed", free>>10, minLogsFree>>10)
}

// bootRecord is the summary written to logs/boot-TIME.txt on the stick.
type bootRecord struct {
	Time       time.Time
	Version    string
	Kernel     string
	SecureBoot string
	Lockdown   string
	Modules    string
	SBATLevel  string // SbatLevelRT as shim left it, "" when absent
	Config     string // settings URL of a network boot (redacted)
	Network    string // interface and lease, "none", or "" when not used
	Stick      string
	Disks      []victimDisk
	Keys       string
	Mode       string
	Result     string
	After      string
	Uptime     string // kernel uptime when the record was written
	Problems   []string
}

func (r *bootRecord) text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "unbrick boot record\r\n")
	line := func(k, v string) { fmt.Fprintf(&b, "%-12s %s\r\n", k+":", v) }
	line("time", r.Time.UTC().Format(time.RFC3339))
	line("version", r.Version)
	line("kernel", r.Kernel)
	line("secure_boot", r.SecureBoot)
	line("lockdown", r.Lockdown)
	line("modules", r.Modules)
	if r.SBATLevel != "" {
		line("sbat_level", r.SBATLevel)
	}
	if r.Config != "" {
		line("config", r.Config)
	}
	if r.Network != "" {
		line("network", r.Network)
	}
	line("stick", r.Stick)
	var ds []string
	for _, d := range r.Disks {
		ds = append(ds, d.String())
	}
	if len(ds) == 0 {
		ds = []string{"none"}
	}
	line("disks", strings.Join(ds, "; "))
	line("keys", r.Keys)
	line("mode", r.Mode)
	line("result", r.Result)
	line("after", r.After)
	if r.Uptime != "" {
		line("uptime", r.Uptime)
	}
	for _, p := range r.Problems {
		line("problem", p)
	}
	return b.String()
}

// packsOnly drops from the files of the stick's rules/ directory the
// detached signatures (PACK.sig) and the allowed-signers file: they go
// beside the packs, not in their place.
func packsOnly(files []string, cfg image.Config) []string {
	var out []string
	for _, f := range files {
		if strings.HasSuffix(strings.ToLower(f), ".sig") || (cfg.RulesSigners != "" && filepath.ToSlash(f) == filepath.ToSlash(filepath.Join(filepath.Dir(filepath.Dir(f)), cfg.RulesSigners))) {
			continue
		}
		out = append(out, f)
	}
	return out
}

// rulesSignersPath is the allowed-signers file rule packs are checked
// against: rules_signers of unbrick.conf on the stick, else the one built
// into the initramfs (image build --rules-signers), else none. A
// rules_signers in settings fetched over the network is not used: the
// signers would come from the server whose packs they are meant to check.
func rulesSignersPath(cfg image.Config, haveStick bool, stickDir string, builtIn bool) string {
	switch {
	case cfg.RulesSigners != "" && haveStick:
		return filepath.Join(stickDir, cfg.RulesSigners)
	case builtIn:
		return image.InitrdRulesSigners
	}
	return ""
}

// withSigners adds --rules-signers FILE after the subcommand of args
// (nothing when file is "").
func withSigners(args []string, file string) []string {
	if file == "" || len(args) == 0 {
		return args
	}
	return append([]string{args[0], "--rules-signers", file}, args[1:]...)
}
