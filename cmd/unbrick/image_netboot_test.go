package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestImageBuildNetbootFlags(t *testing.T) {
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	ca := filepath.Join(dir, "ca.pem")
	os.WriteFile(ca, []byte("not a certificate"), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--netboot", tree, "--keys", "k.csv"}, "--keys has no effect with --netboot"},
		{[]string{"--netboot", tree, "--out", "x.img"}, "--out has no effect with --netboot"},
		{[]string{"--netboot", tree, "--mode", "wizard"}, "--mode has no effect with --netboot"},
		{[]string{"--netboot", tree, "--format", "iso"}, "--format has no effect with --netboot"},
		{[]string{"--netboot", tree, "--ca", ca}, "--ca: " + ca + ": no PEM certificate"},
		{[]string{"--netboot", tree, "--config-url", "http://h/a b"}, "--config-url: URL"},
		{[]string{"--netboot", tree, "--rules-signers", ca}, "--rules-signers: " + ca},
		{[]string{"--format", "logs", "--out", filepath.Join(dir, "l2.img"), "--rules-signers", ca}, "--rules-signers has no effect with --format logs"},
		{[]string{"--format", "logs", "--out", filepath.Join(dir, "l.img"), "--config-url", "http://h/u.conf"}, "--config-url has no effect with --format logs"},
	} {
		code, _, errs := runCLI(t, append([]string{"image", "build"}, c.args...)...)
		if code != 2 || !strings.Contains(errs, c.want) {
			t.Errorf("%v: code %d, stderr %q, want %q", c.args, code, errs, c.want)
		}
		if _, err := os.Stat(tree); err == nil {
			t.Fatalf("%v: tree written despite the usage error", c.args)
		}
	}
}

// TestImageBuildNetbootReal builds the tree from the real boot chain and
// checks the signatures of its EFI binaries with sbverify (sbsigntool).
func TestImageBuildNetbootReal(t *testing.T) {
	chain := realBootChainDir(t)
	initBin := filepath.Join(chain, "bin/busybox")
	if _, err := os.Stat(initBin); err != nil {
		t.Skipf("no static busybox in the boot chain: %v", err)
	}
	if _, err := os.Stat(filepath.Join(chain, "usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed")); err != nil {
		t.Skipf("boot chain without grubnetx64 (fetched before it was added): run scripts/fetch-bootchain.sh")
	}
	tree := filepath.Join(t.TempDir(), "tree")
	code, stdout, errs := runCLI(t, "image", "build", "--netboot", tree, "--bootchain", chain, "--init", initBin, "--config-url", "http://192.0.2.10/unbrick.conf")
	if code != 0 || !strings.Contains(stdout, "network boot tree") || !strings.Contains(stdout, "boot chain: boots on firmware trusting") {
		t.Fatalf("code %d\nstdout %s\nstderr %s", code, stdout, errs)
	}
	sbverify := needImageTool(t, "sbverify")
	for f, want := range map[string]string{"bootx64.efi": "Microsoft Corporation UEFI CA 2011", "grubx64.efi": "Debian Secure Boot Signer"} {
		out, err := exec.Command(sbverify, "--list", filepath.Join(tree, f)).CombinedOutput()
		if err != nil || !strings.Contains(string(out), want) {
			t.Errorf("sbverify --list %s: %v, want %q\n%s", f, err, want, out)
		}
	}
	cfg, _ := os.ReadFile(filepath.Join(tree, "grub/grub.cfg"))
	if !strings.Contains(string(cfg), "'unbrick.config=http://192.0.2.10/unbrick.conf'") {
		t.Errorf("grub.cfg:\n%s", cfg)
	}
}
