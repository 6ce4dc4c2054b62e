package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/unbrick/unbrick/internal/remedy"
	"github.com/unbrick/unbrick/internal/testcorpus"
)

// TestTargetsFrom: fix over a --targets-from list (comments, blank lines,
// a name listed twice, a second name of one file) works on each disk once
// and records each; an empty list is a usage error, never the host's own
// disks; standard input serves one flag only.
func TestTargetsFrom(t *testing.T) {
	src := testcorpus.Disk(t, "win10-mbr-plain")
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.img"), filepath.Join(dir, "b.img")
	for _, p := range []string{a, b} {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	alias := filepath.Join(dir, "b-alias.img")
	if err := os.Symlink(b, alias); err != nil {
		t.Fatal(err)
	}
	list := filepath.Join(dir, "disks.txt")
	os.WriteFile(list, []byte("# VM disks of host 7\n\n  "+a+"  \n"+b+"\n"+a+"\n"+alias+"\n"), 0o644)
	logs := filepath.Join(dir, "logs")
	code, out, errs := runCLI(t, "fix", "--targets-from", list, "--log", logs, "--journal", filepath.Join(dir, "j"))
	if code != 0 {
		t.Fatalf("fix --targets-from: exit %d\n%s\n%s", code, out, errs)
	}
	got := map[string]string{}
	for _, r := range readRecords(t, logs) {
		if r.Status == "remediated" {
			got[r.Target] += string(r.Status)
		}
	}
	if len(got) != 2 || got[a] != "remediated" || got[b] != "remediated" {
		t.Fatalf("records %v: want one remediated record for each of %s and %s", got, a, b)
	}

	empty := filepath.Join(dir, "empty.txt")
	os.WriteFile(empty, []byte("# nothing yet\n\n"), 0o644)
	code, _, errs = runCLI(t, "scan", "--targets-from", empty)
	if code != 2 || !strings.Contains(errs, "names no target") {
		t.Fatalf("empty list: exit %d, %q; want 2 and \"names no target\"", code, errs)
	}
	code, _, errs = runCLI(t, "fix", "--targets-from", filepath.Join(dir, "missing.txt"), "--log", logs)
	if code != 2 || !strings.Contains(errs, "missing.txt") {
		t.Fatalf("missing list: exit %d, %q", code, errs)
	}
	code, _, errs = runCLI(t, "scan", "--targets-from", "-", "--recovery-password-file", "-")
	if code != 2 || !strings.Contains(errs, "standard input") {
		t.Fatalf("two readers of stdin: exit %d, %q", code, errs)
	}

	// From standard input, with a TARGET argument too: both scanned.
	var so, se bytes.Buffer
	e := &env{Stdin: strings.NewReader(b + "\n"), Stdout: &so, Stderr: &se, Getenv: func(string) string { return "" }}
	if code := run(e, []string{"scan", "--targets-from", "-", "--json", a}); code != 0 {
		t.Fatalf("scan --targets-from -: exit %d\n%s", code, se.String())
	}
	if !strings.Contains(so.String(), `"target":"`+a+`"`) || !strings.Contains(so.String(), `"target":"`+b+`"`) {
		t.Fatalf("scan --targets-from - did not scan both:\n%s", so.String())
	}
}

func TestParseMaxFailures(t *testing.T) {
	for s, want := range map[string]remedy.Waves{
		"":     {},
		"0":    {Limited: true, MaxFailures: 0},
		"10":   {Limited: true, MaxFailures: 10},
		"5%":   {Limited: true, MaxFailures: 5, Percent: true},
		"2.5%": {Limited: true, MaxFailures: 2.5, Percent: true},
	} {
		got, err := parseMaxFailures(s)
		if err != nil || got != want {
			t.Errorf("parseMaxFailures(%q) = %+v, %v; want %+v", s, got, err, want)
		}
	}
	for _, s := range []string{"-1", "1.5", "x", "101%", "5%%"} {
		if _, err := parseMaxFailures(s); err == nil {
			t.Errorf("parseMaxFailures(%q) accepted", s)
		}
	}
}

// TestFixStopsAtMaxFailures: two unreadable targets in the canary wave
// pass --max-failures 1: the disk after them is not started (listed in the
// summary, no record, unchanged); exit 1 for the failures.
func TestFixStopsAtMaxFailures(t *testing.T) {
	dir := t.TempDir()
	good := testcorpus.Disk(t, "win10-mbr-plain")
	sum := sha256File(t, good)
	logs := filepath.Join(dir, "logs")
	code, out, errs := runCLI(t, "fix", "--wave-size", "2", "--max-failures", "1", "--log", logs, "--journal", filepath.Join(dir, "j"),
		filepath.Join(dir, "a.img"), filepath.Join(dir, "b.img"), good)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(out, "not-started") || !strings.Contains(out, "not started (run fix on them again): "+good) {
		t.Fatalf("summary does not list %s as not started:\n%s", good, out)
	}
	if sha256File(t, good) != sum {
		t.Fatal("a target that was not started was written")
	}
	if code, _, errs := runCLI(t, "fix", "--max-failures", "lots", good); code != 2 || !strings.Contains(errs, "--max-failures") {
		t.Fatalf("bad --max-failures: exit %d %q", code, errs)
	}
	if _, err := os.Stat(filepath.Join(logs, "unbrick.jsonl")); err != nil {
		return // no record at all (missing targets are not recorded)
	}
	for _, r := range readRecords(t, logs) {
		if r.Target == good {
			t.Fatalf("a record for a target not started: %+v", r)
		}
	}
}
