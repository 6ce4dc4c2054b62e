//go:build linux

package bootmode

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/unbrick/unbrick/image"
	"github.com/unbrick/unbrick/internal/logship"
	"github.com/unbrick/unbrick/internal/redact"
)

const (
	stickDir     = "/stick"
	runDir       = "/run/unbrick"
	runKeysDir   = "/run/unbrick/keys"
	shimLockGUID = "605dab50-e046-4300-abb6-3dd810dd8b23"
	efiGlobal    = "8be4df61-93ca-11d2-aa0d-00e098032b8c"
)

// booter carries the state of one boot: where output goes (every active
// console, plus a transcript for the stick) and the record being built.
// Everything shown and kept passes through one redactor (internal/redact),
// the one the fleet log and the CLI's output streams use.
type booter struct {
	cli       CLI
	consoles  []*os.File
	out       *redact.Writer // the consoles and log
	log       bytes.Buffer   // the screen transcript, saved as logs/boot-TIME.log
	rec       bootRecord
	cfg       image.Config
	stickOK   bool
	attention bool // the run needs the technician to read the screen
	lines     chan string
	readers   sync.WaitGroup
}

func (b *booter) say(format string, a ...any) {
	fmt.Fprintf(b.out, format+"\n", a...)
	b.flush()
}

// setOut makes w (the consoles and the transcript) the output, behind the
// redactor.
func (b *booter) setOut(w io.Writer) {
	b.flush()
	b.out = redact.NewWriter(w)
}

// flush passes on what the redactor held back (a tail that could have
// begun a secret), before a prompt, the transcript is saved, or the
// machine goes down.
func (b *booter) flush() {
	if b.out != nil {
		b.out.Flush()
	}
}

func (b *booter) problem(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	b.rec.Problems = append(b.rec.Problems, msg)
	b.say("PROBLEM: %s", msg)
}

// Main is the boot-time mode, for Detect's Boot: main calls it before it
// parses the command line. It never returns: it ends with power-off,
// reboot, or a shell followed by power-off.
func Main(cli CLI) {
	b := &booter{cli: cli, cfg: image.DefaultConfig()}
	b.setOut(io.MultiWriter(os.Stdout, &b.log))
	// Secrets in the environment (the kernel passes unknown name=value
	// parameters of its command line to init) stay registered for the
	// whole boot: the summary and the boot record come after run.
	if cli.RegisterSecrets != nil {
		cli.RegisterSecrets()
	}
	defer func() {
		if r := recover(); r != nil {
			b.problem("internal error: %v", r)
			b.say("%s", debug.Stack())
			b.finish()
		}
	}()
	b.run()
	b.finish()
}

func (b *booter) run() {
	b.mountEarly()
	b.openConsoles()
	info := readKV("/" + strings.TrimPrefix(image.InitrdBuildInfo, "/"))
	b.rec = bootRecord{Time: time.Now(), Version: b.cli.Version, Kernel: kernelRelease(), Mode: "-", Result: "not run", After: b.cfg.After, Keys: "none"}
	b.say("\n==== unbrick %s: boot-time mode (kernel %s) ====", b.rec.Version, b.rec.Kernel)
	b.loadModules()
	b.mountFirmwareFS()
	b.rec.SecureBoot = secureBootState()
	b.rec.Lockdown = lockdownState()
	b.say("Secure Boot: %s; kernel lockdown: %s", b.rec.SecureBoot, b.rec.Lockdown)

	b.rec.SBATLevel = sbatLevelState()
	if b.rec.SBATLevel != "" {
		b.say("SBAT level: %s", b.rec.SBATLevel)
	}

	params := parseCmdline(readSysString("/proc/cmdline"))
	var part *blockPart
	if params.Config != "" {
		// A network boot: a LOGS disk is used when one is attached, but
		// not waited for long.
		b.rec.Config = logship.RedactURL(params.Config)
		part = b.waitForStick(5*time.Second, false)
	} else {
		if part = b.waitForStick(20*time.Second, true); part == nil {
			return
		}
	}
	if part != nil {
		if err := mountStick(part.Name); err != nil {
			b.problem("cannot mount the LOGS partition /dev/%s (FAT): %v; check it on a PC (chkdsk) or rebuild the stick", part.Name, err)
			return
		}
		b.stickOK = true
		b.rec.Stick = fmt.Sprintf("/dev/%s (LOGS = /dev/%s)", part.Disk, part.Name)
		b.say("Stick: %s", b.rec.Stick)
	} else {
		b.rec.Stick = "none (network boot: logs and journals in memory until sent)"
	}

	var cfg image.Config
	var err error
	var trust *x509.CertPool
	trustNote := ""
	if pem, err := os.ReadFile(image.InitrdCA); err == nil {
		if trust, err = image.ParseCA("the CA built into this boot image", pem); err != nil {
			b.problem("%v: rebuild the boot image with a valid --ca", err)
			return
		}
		trustNote = "built into this boot image (--ca)"
	}
	var fetch *fetcher
	netUp := func() bool {
		if b.rec.Network != "" {
			return true
		}
		b.say("Network: asking DHCP on every wired port ...")
		desc, err := bringUpNetwork(30 * time.Second)
		if err != nil {
			b.rec.Network = "none"
			b.problem("NO NETWORK: %v", err)
			return false
		}
		b.rec.Network = desc
		b.say("Network: %s", desc)
		return true
	}
	if params.Config != "" {
		if !netUp() {
			b.rec.Result = "not run: no network"
			return
		}
		fetch = newFetcher(trust, trustNote)
		b.say("Settings: %s", b.rec.Config)
		data, err := fetch.get(context.Background(), params.Config, "settings (unbrick.conf)", maxFetchConfig)
		if err != nil {
			b.problem("CANNOT GET THE SETTINGS: %v; nothing was changed", err)
			b.rec.Result = "not run: no settings"
			return
		}
		if cfg, err = image.ParseConfig(bytes.NewReader(data)); err != nil {
			b.problem("%v: fix unbrick.conf at %s and boot again; nothing was changed", err, b.rec.Config)
			return
		}
	} else if cfg, err = readStickConfig(); err != nil {
		b.problem("%v: fix the file on any PC (it is on the UNBRICK drive) and boot again; nothing was changed", err)
		return
	}
	b.cfg = cfg
	b.rec.After = cfg.After
	b.rec.Mode = cfg.Mode
	b.setFont(info["font_ter16x32"] == "yes")

	// The CA the settings name replaces the built-in one for everything
	// after the settings.
	caFile := ""
	if trust != nil {
		caFile = image.InitrdCA
	}
	if cfg.CA != "" {
		var pem []byte
		if params.Config != "" {
			ref, err := resolveRef(params.Config, cfg.CA)
			if err == nil && !strings.HasPrefix(ref, "https://") {
				err = fmt.Errorf("ca = %s comes over plain http, so anyone on the path could replace it: serve the settings over https or build the CA into the image with --ca", logship.RedactURL(ref))
			}
			if err == nil {
				pem, err = fetch.get(context.Background(), ref, "CA certificate (ca)", maxFetchConfig)
			}
			if err != nil {
				b.problem("%v; nothing was changed", err)
				return
			}
		} else if pem, err = os.ReadFile(filepath.Join(stickDir, cfg.CA)); err != nil {
			b.problem("ca = %s: %v: put the CA certificate (PEM) on the UNBRICK drive; nothing was changed", cfg.CA, err)
			return
		}
		if trust, err = image.ParseCA("ca = "+cfg.CA, pem); err != nil {
			b.problem("%v; nothing was changed", err)
			return
		}
		caFile = filepath.Join(runDir, "ca.pem")
		if err := os.WriteFile(caFile, pem, 0o644); err != nil {
			b.problem("keep the CA: %v", err)
			return
		}
		trustNote = "ca = " + cfg.CA
	}
	keysURL, rulesURL := params.Keys, params.Rules
	if keysURL == "" && cfg.KeysURL != "" {
		keysURL, _ = resolveRef(params.Config, cfg.KeysURL)
	}
	if rulesURL == "" && cfg.RulesURL != "" {
		rulesURL, _ = resolveRef(params.Config, cfg.RulesURL)
	}
	if (cfg.NeedsNetwork() || keysURL != "" || rulesURL != "") && b.rec.Network == "" {
		netUp()
	}
	fetch = newFetcher(trust, trustNote)

	b.settleDisks(time.Duration(cfg.DiskWait) * time.Second)
	stickDisk := ""
	if part != nil {
		stickDisk = part.Disk
	}
	b.rec.Disks = listVictimDisks("/sys", stickDisk)
	if len(b.rec.Disks) == 0 {
		b.problem("no disk found (besides the unbrick drive and CDs): is the PC's disk behind a RAID/VMD controller that is switched off, or is it not connected?")
	}
	for _, d := range b.rec.Disks {
		b.say("Disk: %s", d)
	}
	var keys, rules []string
	if b.stickOK {
		keys = b.openKeys(filepath.Join(stickDir, "keys"))
		rules, _ = filepath.Glob(filepath.Join(stickDir, "rules", "*"))
		rules = packsOnly(rules, cfg)
	}
	if keysURL != "" {
		p, err := b.fetchTo(fetch, keysURL, "key export", maxFetchKeys, filepath.Join(runKeysDir, "net"), keysOverHTTPOK)
		if err != nil {
			b.problem("%v; nothing was changed", err)
			b.rec.Result = "not run: keys not fetched"
			return
		}
		keys = append(keys, b.openKeys(filepath.Dir(p))...)
	}
	if rulesURL != "" {
		// The pack and its detached signature (PACK.sig) beside it; fix
		// checks the signature against the built-in signers.
		p, err := b.fetchTo(fetch, rulesURL, "rules", maxFetchRules, filepath.Join(runDir, "rules"), rulesOverHTTPOK)
		if err == nil {
			sigURL := strings.SplitN(rulesURL, "?", 2)[0] + ".sig"
			var sig []byte
			if sig, err = fetch.get(context.Background(), sigURL, "rules signature", maxFetchConfig); err == nil {
				err = os.WriteFile(p+".sig", sig, 0o600)
			}
		}
		if err != nil {
			b.problem("%v; nothing was changed", err)
			b.rec.Result = "not run: rules not fetched"
			return
		}
		rules = append(rules, p)
	}
	_, statErr := os.Stat(image.InitrdRulesSigners)
	signers := rulesSignersPath(cfg, b.stickOK, stickDir, statErr == nil)
	if cfg.RulesSigners != "" && !b.stickOK {
		b.say("NOTE: rules_signers in settings fetched over the network is not used: build the signers into the boot image (image build --rules-signers FILE)")
	}

	logDir, journalDir := filepath.Join(stickDir, "logs"), filepath.Join(stickDir, "journal")
	shipJournals, err := journalPlace(b.stickOK, cfg)
	if err != nil {
		b.problem("%v", err)
		b.rec.Result = "refused: no place for undo journals"
		return
	}
	if b.stickOK {
		var st unix.Statfs_t
		if err := unix.Statfs(stickDir, &st); err != nil {
			b.problem("cannot read the free space of the LOGS partition: %v", err)
			return
		}
		if err := checkLogsSpace(int64(st.Bavail) * int64(st.Bsize)); err != nil {
			b.problem("%v", err)
			b.rec.Result = "refused: LOGS partition full"
			return
		}
	} else {
		logDir, journalDir = filepath.Join(runDir, "logs"), filepath.Join(runDir, "journal")
		for _, d := range []string{logDir, journalDir} {
			if err := os.MkdirAll(d, 0o700); err != nil {
				b.problem("%v", err)
				return
			}
		}
		if err := reachable(context.Background(), cfg.LogURL, 10*time.Second); err != nil {
			b.problem("the log receiver that keeps the undo journals of this network boot is not reachable: %v; nothing was changed", err)
			b.rec.Result = "refused: log receiver unreachable"
			return
		}
	}
	switch cfg.Mode {
	case "wizard":
		if !b.hasCommand("wizard") {
			b.problem("wizard is not available in this build: set mode = auto in unbrick.conf on the UNBRICK drive, or build the stick with a newer unbrick")
			b.rec.Result = "not run: wizard not available"
			return
		}
		// The wizard owns the screen and keyboard: give it the console itself.
		b.stopReaders()
		code := b.cli.Run(os.Stdin, os.Stdout, os.Stderr, withSigners(fixArgs("wizard", keys, rules, logDir, journalDir, b.rec.Disks), signers))
		b.rec.Result = fmt.Sprintf("wizard exit %d", code)
	default:
		if !b.hasCommand("fix") {
			b.problem("fix is not available in this build: nothing was changed on the disks (build the stick with an unbrick that has the fix command)")
			b.rec.Result = "not run: fix not available"
			return
		}
		if len(b.rec.Disks) == 0 {
			b.rec.Result = "not run: no disks"
			return
		}
		args := withSigners(fixArgs("fix", keys, rules, logDir, journalDir, b.rec.Disks), signers)
		b.say("\nRunning: unbrick %s", strings.Join(args, " "))
		code := b.cli.Run(strings.NewReader(""), b.out, b.out, args)
		b.rec.Result = fmt.Sprintf("fix exit %d (%s)", code, exitMeaning(code))
		b.attention = code != 0
	}
	if cfg.LogCA != "" && b.stickOK {
		caFile = filepath.Join(stickDir, cfg.LogCA)
	}
	journal := ""
	if shipJournals {
		journal = journalDir
	}
	if args := shipArgs(cfg, logDir, caFile, journal); args != nil && b.hasCommand("ship") {
		b.say("\nSending the fleet log records: unbrick %s", strings.Join(args, " "))
		if code := b.cli.Run(strings.NewReader(""), b.out, b.out, args); code != 0 {
			if b.stickOK {
				b.say("Some records were not sent: they stay in logs/ship on the stick; send them from any PC with unbrick ship --log <stick>/logs and the same receiver.")
			} else {
				b.problem("records or undo journals of this network boot were NOT delivered to %s and are lost when this machine powers off: check the receiver, then boot again (a fixed disk is left as it is)", logship.RedactURL(cfg.LogURL))
				b.attention = true
			}
		}
	}
}

// fetchTo fetches rawURL (checked by allowed first) into dir, named by
// the URL's last path element, and returns the file's path.
func (b *booter) fetchTo(f *fetcher, rawURL, what string, limit int64, dir string, allowed func(string) error) (string, error) {
	if err := allowed(rawURL); err != nil {
		return "", err
	}
	b.say("Fetching the %s: %s", what, logship.RedactURL(rawURL))
	data, err := f.get(context.Background(), rawURL, what, limit)
	if err != nil {
		return "", err
	}
	name := path.Base(strings.SplitN(rawURL, "?", 2)[0])
	if name == "" || name == "/" || name == "." || strings.ContainsAny(name, `\:`) {
		name = "fetched"
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		return "", err
	}
	return p, nil
}

// sbatLevelState is the SBAT revocation level shim applied for this boot,
// from the SbatLevelRT variable shim mirrors for the OS (its first line
// and the entries, joined with "; "), or "" when shim left none.
func sbatLevelState() string {
	data, err := os.ReadFile("/sys/firmware/efi/efivars/SbatLevelRT-" + shimLockGUID)
	if err != nil || len(data) <= 4 {
		return ""
	}
	var lines []string
	for _, l := range strings.Split(string(bytes.TrimRight(data[4:], "\x00\n")), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "; ")
}

// hasCommand reports whether the CLI has the subcommand name.
func (b *booter) hasCommand(name string) bool {
	return b.cli.HasCommand != nil && b.cli.HasCommand(name)
}

func exitMeaning(code int) string {
	switch code {
	case 0:
		return "ok"
	case 1:
		return "failure"
	case 2:
		return "usage"
	case 3:
		return "locked: no usable key"
	case 4:
		return "refused: unsafe state or policy"
	case 5:
		return "needs review"
	}
	return "unknown"
}

// finish writes the boot record and transcript, unmounts the stick and
// carries out the "after" action.
func (b *booter) finish() {
	if f := strings.Fields(readSysString("/proc/uptime")); len(f) > 0 {
		b.rec.Uptime = f[0] + " s"
	}
	b.say("\n==== summary ====\n%s", strings.ReplaceAll(b.rec.text(), "\r\n", "\n"))
	b.flush()
	if b.stickOK {
		b.saveLogs(filepath.Join(stickDir, "logs"))
		unix.Sync()
		if err := unmountStick(); err != nil {
			b.say("PROBLEM: unmount the stick: %v", err)
		}
	}
	unix.Sync()
	after := b.cfg.After
	if (len(b.rec.Problems) > 0 || b.attention) && after != "shell" {
		verb := map[string]string{"poweroff": "power off", "reboot": "reboot"}[after]
		b.say("\nNot everything went well (see above). Press Enter to %s now; it happens by itself in 60 s.", verb)
		b.waitEnter(60 * time.Second)
	}
	switch after {
	case "shell":
		if _, err := os.Stat(image.InitrdBusybox); err != nil {
			b.say("No shell on this stick (build it with --after shell). Powering off.")
			break
		}
		b.say("Starting a shell (busybox). Type exit to power off.")
		b.flush()
		cmd := exec.Command("/bin/sh")
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
		cmd.Env = []string{"PATH=/bin", "HOME=/", "TERM=linux"}
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
		cmd.Run()
	case "reboot":
		b.say("Rebooting.")
		unix.Reboot(unix.LINUX_REBOOT_CMD_RESTART)
	}
	b.say("Powering off.")
	unix.Sync()
	unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	// reboot(2) does not return for process 1; if it did, do not let the
	// kernel panic over an exiting init.
	for {
		time.Sleep(time.Hour)
	}
}

// saveLogs writes the boot record (boot-TIME.txt) and the screen
// transcript (boot-TIME.log) into dir, both redacted.
func (b *booter) saveLogs(dir string) {
	stamp := b.rec.Time.UTC().Format("20060102T150405Z")
	recPath := filepath.Join(dir, "boot-"+stamp+".txt")
	if err := writeSynced(recPath, redact.Bytes([]byte(b.rec.text()))); err != nil {
		b.say("PROBLEM: cannot write the boot record %s: %v", recPath, err)
	} else {
		b.say("Boot record written to the stick: logs/boot-%s.txt", stamp)
	}
	// b.log was written through the redactor; redacting the whole again
	// also catches a secret split across the writes of two writers.
	b.flush()
	writeSynced(filepath.Join(dir, "boot-"+stamp+".log"), transcript(b.log.Bytes()))
}

// transcript is the saved form of the screen transcript: CRLF line ends
// (it is read on Windows PCs), redacted.
func transcript(log []byte) []byte {
	return redact.Bytes(bytes.ReplaceAll(log, []byte("\n"), []byte("\r\n")))
}

func writeSynced(p string, data []byte) error {
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (b *booter) mountEarly() {
	for _, m := range []struct{ src, dir, fs string }{
		{"proc", "/proc", "proc"}, {"sysfs", "/sys", "sysfs"}, {"devtmpfs", "/dev", "devtmpfs"},
		{"tmpfs", "/run", "tmpfs"}, {"tmpfs", "/tmp", "tmpfs"},
	} {
		os.MkdirAll(m.dir, 0o755)
		if err := unix.Mount(m.src, m.dir, m.fs, unix.MS_NOSUID, ""); err != nil && !errors.Is(err, unix.EBUSY) {
			fmt.Fprintf(os.Stderr, "unbrick: mount %s: %v\n", m.dir, err)
		}
	}
	os.MkdirAll(runKeysDir, 0o700)
}

func (b *booter) mountFirmwareFS() {
	if _, err := os.Stat("/sys/firmware/efi/efivars"); err == nil {
		unix.Mount("efivarfs", "/sys/firmware/efi/efivars", "efivarfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC|unix.MS_RDONLY, "")
	}
	unix.Mount("securityfs", "/sys/kernel/security", "securityfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
}

// loadModules loads the initramfs' modules in the order the image builder
// resolved, with finit_module(2). Failures are logged and tolerated (a
// module for hardware the PC lacks may refuse with ENODEV).
func (b *booter) loadModules() {
	list, err := os.ReadFile(image.InitrdModulesList)
	if err != nil {
		b.problem("no module list in the initramfs: %v", err)
		return
	}
	start := time.Now()
	var total, loaded int
	var failed []string
	for _, p := range strings.Fields(string(list)) {
		total++
		f, err := os.Open(p)
		if err == nil {
			err = unix.FinitModule(int(f.Fd()), "", 0)
			f.Close()
		}
		if err == nil || errors.Is(err, unix.EEXIST) {
			loaded++
			continue
		}
		failed = append(failed, fmt.Sprintf("%s: %v", strings.TrimSuffix(filepath.Base(p), ".ko"), err))
	}
	b.rec.Modules = fmt.Sprintf("%d of %d loaded in %.1fs", loaded, total, time.Since(start).Seconds())
	if len(failed) > 0 {
		b.rec.Modules += " (not loaded: " + strings.Join(failed, "; ") + ")"
	}
	b.say("Modules: %s", b.rec.Modules)
}

// waitForStick waits up to limit for the partition named LOGS to appear.
// When it must (a stick or ISO boot), its absence is a problem; on a
// network boot a LOGS disk is optional.
func (b *booter) waitForStick(limit time.Duration, must bool) *blockPart {
	deadline := time.Now().Add(limit)
	for {
		part, err := findPartByName("/sys", image.LogsPartName)
		if err != nil {
			b.problem("%v", err)
			return nil
		}
		if part != nil {
			return part
		}
		if time.Now().After(deadline) {
			if must {
				b.problem("no partition named LOGS after %s: %s; block devices seen: %s", limit, noLogsHint("/sys"), blockNames("/sys"))
			}
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// settleDisks waits until the set of block devices has not changed for 2 s,
// at most limit.
func (b *booter) settleDisks(limit time.Duration) {
	deadline := time.Now().Add(limit)
	last, since := blockNames("/sys"), time.Now()
	for time.Now().Before(deadline) && time.Since(since) < 2*time.Second {
		time.Sleep(250 * time.Millisecond)
		if cur := blockNames("/sys"); cur != last {
			last, since = cur, time.Now()
		}
	}
}

// stickRW is where the LOGS partition is really mounted; what the run sees
// is stickDir, a read-only view of it with only logs/ and journal/
// writable, so nothing else on the stick can change (key files,
// unbrick.conf).
const stickRW = "/run/stick-rw"

func mountStick(part string) error {
	const flags = unix.MS_NOATIME | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	for _, d := range []string{stickRW, stickDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if err := unix.Mount("/dev/"+part, stickRW, "vfat", flags, ""); err != nil {
		return err
	}
	for _, d := range []string{"logs", "journal"} {
		if err := os.MkdirAll(filepath.Join(stickRW, d), 0o755); err != nil {
			unix.Unmount(stickRW, 0)
			return fmt.Errorf("create %s/ on the stick: %w", d, err)
		}
	}
	steps := []struct {
		src, dst string
		flags    uintptr
	}{
		{stickRW, stickDir, unix.MS_BIND},
		{"", stickDir, unix.MS_REMOUNT | unix.MS_BIND | unix.MS_RDONLY | flags},
		{filepath.Join(stickRW, "logs"), filepath.Join(stickDir, "logs"), unix.MS_BIND},
		{filepath.Join(stickRW, "journal"), filepath.Join(stickDir, "journal"), unix.MS_BIND},
	}
	for _, st := range steps {
		if err := unix.Mount(st.src, st.dst, "", st.flags, ""); err != nil {
			unmountStick()
			return fmt.Errorf("bind mount %s: %w", st.dst, err)
		}
	}
	return nil
}

// unmountStick undoes mountStick; unmounting the real mount last writes
// everything back to the stick.
func unmountStick() error {
	for _, d := range []string{filepath.Join(stickDir, "journal"), filepath.Join(stickDir, "logs"), stickDir} {
		unix.Unmount(d, 0)
	}
	return unix.Unmount(stickRW, 0)
}

func readStickConfig() (image.Config, error) {
	p := filepath.Join(stickDir, image.ConfigName)
	f, err := os.Open(p)
	if err != nil {
		return image.DefaultConfig(), fmt.Errorf("cannot read %s on the stick: %v", image.ConfigName, err)
	}
	defer f.Close()
	return image.ParseConfig(f)
}

func secureBootState() string {
	data, err := os.ReadFile("/sys/firmware/efi/efivars/SecureBoot-" + efiGlobal)
	switch {
	case err != nil && os.IsNotExist(err):
		if _, e := os.Stat("/sys/firmware/efi"); e != nil {
			return "off (legacy BIOS boot)"
		}
		return "unknown (no SecureBoot variable)"
	case err != nil:
		return "unknown (" + err.Error() + ")"
	case len(data) >= 5 && data[4] == 1:
		return "on"
	}
	return "off"
}

func lockdownState() string {
	s := readSysString("/sys/kernel/security/lockdown")
	if i := strings.IndexByte(s, '['); i >= 0 {
		if j := strings.IndexByte(s[i:], ']'); j > 0 {
			return s[i+1 : i+j]
		}
	}
	if s == "" {
		return "unknown"
	}
	return s
}

func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(u.Release[:])
}

func readKV(p string) map[string]string {
	m := map[string]string{}
	data, _ := os.ReadFile(p)
	for _, l := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = v
		}
	}
	return m
}
