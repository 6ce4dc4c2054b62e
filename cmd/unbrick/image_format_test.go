package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// needImageTool returns an external checker, skipping the test when it is
// not installed (failing under CI, which installs scripts/test-packages.txt).
func needImageTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not installed", name)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

func TestImageBuildFormatFlags(t *testing.T) {
	out := filepath.Join(t.TempDir(), "x.img")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--format", "dvd"}, `unknown image format "dvd"`},
		{[]string{"--format", "logs", "--esp-fat32"}, "--esp-fat32 has no effect with --format logs: the LOGS disk holds no boot files"},
		{[]string{"--format", "logs", "--init", "/bin/true"}, "--init has no effect with --format logs"},
	} {
		code, _, errs := runCLI(t, append([]string{"image", "build", "--out", out}, c.args...)...)
		if code != 2 || !strings.Contains(errs, c.want) {
			t.Errorf("%v: code %d, stderr %q, want %q", c.args, code, errs, c.want)
		}
		if _, err := os.Stat(out); err == nil {
			t.Fatalf("%v: image written despite the usage error", c.args)
		}
	}
}

// TestImageLogsReadsLogsImage builds a LOGS disk (--format logs, no boot
// chain needed), lets mtools write a boot record and a journal into it as
// the booted PC would, and reads them back with `image logs`.
func TestImageLogsReadsLogsImage(t *testing.T) {
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys.csv")
	os.WriteFile(keys, []byte("KeyID,RecoveryKey\nA,111111-111111-111111-111111-111111-111111-111111-111111\n"), 0o644)
	img := filepath.Join(dir, "logs.img")
	code, stdout, errs := runCLI(t, "image", "build", "--format", "logs", "--out", img, "--keys", keys, "--plaintext-keys", "--mode", "wizard",
		"--bootchain", filepath.Join(dir, "no-chain-needed"))
	if code != 2 || !strings.Contains(errs, "--bootchain has no effect with --format logs") {
		t.Fatalf("--bootchain with logs: code %d, stderr %q", code, errs)
	}
	code, stdout, errs = runCLI(t, "image", "build", "--format", "logs", "--out", img, "--keys", keys, "--plaintext-keys", "--mode", "wizard")
	if code != 0 || !strings.Contains(stdout, "LOGS disk 18 MiB (LOGS 16 MiB FAT16), mode wizard") || !strings.Contains(stdout, "attach it beside the ISO") {
		t.Fatalf("build: code %d\nstdout %s\nstderr %s", code, stdout, errs)
	}
	if strings.Contains(stdout, "boot chain:") {
		t.Error("the logs format checked a boot chain")
	}
	// Linux writes logs/ and journal/ at boot; here mtools does, at the
	// LOGS partition's offset (LBA 2048).
	vol := img + "@@1M"
	rec := filepath.Join(dir, "boot-20261207T030000Z.txt")
	os.WriteFile(rec, []byte("unbrick boot record\r\nresult:      fix exit 0 (ok)\r\n"), 0o644)
	jr := filepath.Join(dir, "run.journal")
	os.WriteFile(jr, []byte("journal bytes"), 0o644)
	mcopy := needImageTool(t, "mcopy")
	for _, c := range [][]string{{rec, "::/logs/"}, {jr, "::/journal/"}} {
		if out, err := exec.Command(mcopy, "-i", vol, c[0], c[1]).CombinedOutput(); err != nil {
			t.Fatalf("mcopy %s: %v\n%s", c[0], err, out)
		}
	}
	if out, err := exec.Command(needImageTool(t, "mtype"), "-i", vol, "::/unbrick.conf").Output(); err != nil || !strings.Contains(string(out), "mode = wizard") {
		t.Fatalf("unbrick.conf via mtools: %v\n%s", err, out)
	}
	ext := filepath.Join(dir, "out")
	code, stdout, errs = runCLI(t, "image", "logs", img, "--cat", "--extract", ext)
	if code != 0 || !strings.Contains(stdout, "/logs/boot-20261207T030000Z.txt") || !strings.Contains(stdout, "fix exit 0 (ok)") ||
		!strings.Contains(stdout, "13 /journal/run.journal") {
		t.Fatalf("image logs: code %d\nstdout %s\nstderr %s", code, stdout, errs)
	}
	if got, _ := os.ReadFile(filepath.Join(ext, "journal", "run.journal")); string(got) != "journal bytes" {
		t.Errorf("extracted journal: %q", got)
	}
	if got, _ := os.ReadFile(filepath.Join(ext, "logs", "boot-20261207T030000Z.txt")); !strings.Contains(string(got), "unbrick boot record") {
		t.Errorf("extracted record: %q", got)
	}
}

// TestImageLogsOnISO: an ISO without a GPT (made by xorriso here, or an
// unbrick ISO from before the hybrid layout) has no LOGS; the error says
// where the logs are.
func TestImageLogsOnISO(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "tree"), 0o755)
	os.WriteFile(filepath.Join(dir, "tree", "README.txt"), []byte("x"), 0o644)
	iso := filepath.Join(dir, "x.iso")
	if out, err := exec.Command(needImageTool(t, "xorriso"), "-as", "mkisofs", "-quiet", "-o", iso, filepath.Join(dir, "tree")).CombinedOutput(); err != nil {
		t.Fatalf("xorriso: %v\n%s", err, out)
	}
	code, _, errs := runCLI(t, "image", "logs", iso)
	if code != 1 || !strings.Contains(errs, "ISO 9660 image") || !strings.Contains(errs, "--format logs") {
		t.Fatalf("code %d, stderr %q", code, errs)
	}
}

// TestImageBuildISOReal builds --format iso from the real boot chain
// (busybox-static of the chain stands in for the static /init) and checks
// with xorriso that it boots as UEFI El Torito.
func TestImageBuildISOReal(t *testing.T) {
	chain := realBootChainDir(t)
	initBin := filepath.Join(chain, "bin/busybox")
	if _, err := os.Stat(initBin); err != nil {
		t.Skipf("no static busybox in the boot chain: %v", err)
	}
	iso := filepath.Join(t.TempDir(), "unbrick.iso")
	code, stdout, errs := runCLI(t, "image", "build", "--format", "iso", "--out", iso, "--bootchain", chain, "--init", initBin)
	if code != 0 || !strings.Contains(stdout, "boot chain: boots on firmware trusting") || !strings.Contains(stdout, ": hybrid ISO ") ||
		!strings.Contains(stdout, "attach a LOGS disk beside it") || !strings.Contains(stdout, "Rufus: DD Image mode") {
		t.Fatalf("code %d\nstdout %s\nstderr %s", code, stdout, errs)
	}
	// Its stick view: image logs finds the LOGS partition the GPT names
	// (empty logs/ and journal/: no output, exit 0; without LOGS it is 1).
	if code, out, errs := runCLI(t, "image", "logs", iso); code != 0 || errs != "" {
		t.Errorf("image logs on the hybrid ISO: code %d\n%s\n%s", code, out, errs)
	}
	out, err := exec.Command(needImageTool(t, "xorriso"), "-indev", iso, "-report_el_torito", "plain").CombinedOutput()
	if err != nil || !regexpMatch(`(?m)^El Torito boot img :\s+1\s+UEFI\s+y\s+none\s`, string(out)) || !strings.Contains(string(out), "/boot/efi.img") {
		t.Errorf("xorriso: %v\n%s", err, out)
	}
	if code, _, errs := runCLI(t, "image", "build", "--format", "iso", "--out", iso, "--bootchain", chain, "--init", initBin); code != 1 || !strings.Contains(errs, "already exists") {
		t.Errorf("second build over the ISO: code %d, %q", code, errs)
	}
}

func regexpMatch(re, s string) bool { return regexp.MustCompile(re).MatchString(s) }
