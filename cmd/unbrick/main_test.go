package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
)

// runCLI runs the command line in-process and returns exit code, stdout and stderr.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
	code := run(e, args)
	return code, out.String(), errb.String()
}

func TestVersion(t *testing.T) {
	code, out, _ := runCLI(t, "version")
	if code != 0 || !strings.HasPrefix(out, "unbrick ") {
		t.Fatalf("version: code %d, out %q", code, out)
	}
}

func TestUsageErrors(t *testing.T) {
	if code, _, _ := runCLI(t); code != 2 {
		t.Errorf("no args: code %d, want 2", code)
	}
	if code, _, errs := runCLI(t, "frobnicate"); code != 2 || !strings.Contains(errs, "unknown command") {
		t.Errorf("unknown command: code %d, stderr %q", code, errs)
	}
	if code, _, _ := runCLI(t, "version", "extra"); code != 2 {
		t.Errorf("version extra: code %d, want 2", code)
	}
}

// TestMain gives the wizard harness a directory for its binary, and
// removes it and the undo journals `ntfs rm` writes to its default
// directory (unbrick-logs/journal, fix's default) when the tests are done,
// so that nothing is left behind.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "unbrick-test-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	_, err = os.Stat(defaultLogDir)
	existed := err == nil
	code := m.Run()
	os.RemoveAll(dir)
	if !existed {
		os.RemoveAll(defaultLogDir)
	}
	os.Exit(code)
}

func TestHasCommand(t *testing.T) {
	if !hasCommand("image") || !hasCommand("fix") || !hasCommand("wizard") || hasCommand("no-such-command") {
		t.Fatal("hasCommand does not follow the command tree")
	}
}
