package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestImageUsage(t *testing.T) {
	if code, _, _ := runCLI(t, "image"); code != 2 {
		t.Errorf("image: code %d", code)
	}
	if code, _, errs := runCLI(t, "image", "frob"); code != 2 || !strings.Contains(errs, "unknown subcommand") {
		t.Errorf("image frob: %d %q", code, errs)
	}
	if code, _, errs := runCLI(t, "image", "build"); code != 2 || !strings.Contains(errs, "--out") {
		t.Errorf("build without --out: %d %q", code, errs)
	}
	if code, _, _ := runCLI(t, "image", "build", "--out", "x.img", "--mode", "turbo", "--bootchain", t.TempDir()); code != 2 {
		t.Errorf("bad --mode: code %d", code)
	}
	if code, _, _ := runCLI(t, "image", "logs"); code != 2 {
		t.Errorf("logs without image: code %d", code)
	}
}

func TestImageBuildMissingBootChain(t *testing.T) {
	out := filepath.Join(t.TempDir(), "usb.img")
	code, _, errs := runCLI(t, "image", "build", "--out", out, "--bootchain", filepath.Join(t.TempDir(), "none"))
	if code != 1 || !strings.Contains(errs, "boot chain not found") || !strings.Contains(errs, "fetch-bootchain.sh") {
		t.Fatalf("code %d, stderr %q", code, errs)
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("image written despite the error")
	}
}

func TestImageBuildUnreadableConfig(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "unbrick.conf")
	os.WriteFile(bad, []byte("mode = auto\ncolour = blue\n"), 0o644)
	code, _, errs := runCLI(t, "image", "build", "--out", filepath.Join(t.TempDir(), "u.img"), "--config", bad)
	if code != 1 || !strings.Contains(errs, `line 2: unknown setting "colour"`) {
		t.Fatalf("code %d, stderr %q", code, errs)
	}
	code, _, errs = runCLI(t, "image", "build", "--out", filepath.Join(t.TempDir(), "u.img"), "--config", filepath.Join(t.TempDir(), "absent.conf"))
	if code != 1 || !strings.Contains(errs, "config") {
		t.Fatalf("absent config: code %d, stderr %q", code, errs)
	}
}

func TestReadStaticInit(t *testing.T) {
	if _, err := readStaticInit("/bin/sh"); err == nil || !strings.Contains(err.Error(), "dynamically linked") {
		t.Errorf("/bin/sh: %v", err)
	}
	p := filepath.Join(t.TempDir(), "x")
	os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755)
	if _, err := readStaticInit(p); err == nil || !strings.Contains(err.Error(), "not a Linux ELF") {
		t.Errorf("script: %v", err)
	}
}

func TestImageLogsNotAStick(t *testing.T) {
	p := filepath.Join(t.TempDir(), "blank.img")
	os.WriteFile(p, make([]byte, 1<<20), 0o644)
	code, _, errs := runCLI(t, "image", "logs", p)
	if code != 1 || !strings.Contains(errs, "no partition named LOGS") {
		t.Fatalf("code %d, stderr %q", code, errs)
	}
}
