package main

import (
	"bytes"
	"debug/pe"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// realBootChainDir returns the cached Debian boot chain, or skips (fails
// with UNBRICK_REQUIRE_BOOTCHAIN=1, as scripts/ci-image.sh sets).
func realBootChainDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("UNBRICK_BOOTCHAIN")
	if dir == "" {
		h, _ := os.UserHomeDir()
		dir = filepath.Join(h, ".cache/unbrick/bootchain")
	}
	if _, err := os.Stat(filepath.Join(dir, "MANIFEST")); err != nil {
		if os.Getenv("UNBRICK_REQUIRE_BOOTCHAIN") == "1" {
			t.Fatalf("boot chain required: %v", err)
		}
		t.Skipf("no boot chain cached in %s; run scripts/fetch-bootchain.sh", dir)
	}
	return dir
}

// TestImageBuildRevokedGrubReal: with a grub whose SBAT says grub,4 (below
// the February 2025 revocation grub,5) the build prints the boot chain
// report, refuses (exit 4) naming the package to update, and writes no
// image.
func TestImageBuildRevokedGrubReal(t *testing.T) {
	src := realBootChainDir(t)
	dir := t.TempDir()
	for _, p := range []string{"MANIFEST", "bin", "boot", "lib", "usr/lib/shim"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join(src, p), filepath.Join(dir, p)); err != nil {
			t.Fatal(err)
		}
	}
	grubRel := "usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed"
	data, err := os.ReadFile(filepath.Join(src, grubRel))
	if err != nil {
		t.Fatal(err)
	}
	f, err := pe.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	sec := f.Section(".sbat")
	if sec == nil {
		t.Fatal("grub has no .sbat section")
	}
	i := bytes.Index(data[sec.Offset:sec.Offset+sec.Size], []byte("\ngrub,5,"))
	if i < 0 {
		t.Fatal("grub's .sbat has no grub,5 entry: not Debian 12's grub")
	}
	data[int(sec.Offset)+i+6] = '4'
	os.MkdirAll(filepath.Join(dir, filepath.Dir(grubRel)), 0o755)
	if err := os.WriteFile(filepath.Join(dir, grubRel), data, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "usb.img")
	code, stdout, stderr := runCLI(t, "image", "build", "--out", out, "--bootchain", dir, "--plaintext-keys")
	if code != 4 {
		t.Fatalf("code %d (want 4, refused), stdout %q, stderr %q", code, stdout, stderr)
	}
	for _, want := range []string{"SBAT grub,4 is revoked", "SbatLevel 2025021800 requires grub,5", "update grub-efi-amd64-signed", "scripts/fetch-bootchain.sh " + dir} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	for _, want := range []string{"boot chain: shim (shim-signed ", "(Microsoft Corporation UEFI CA 2011)", "(Microsoft UEFI CA 2023)",
		"boot chain: grub: SBAT grub,4 ", "REVOKED (grub,4 is below grub,5)", "boot chain: boots on firmware trusting: 2011 CA, 2023 CA"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("image written despite the refusal")
	}
	if _, err := os.Stat(out + ".partial"); err == nil {
		t.Error("partial image left behind")
	}
}
