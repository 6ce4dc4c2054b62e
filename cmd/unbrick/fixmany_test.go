package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/unbrick/unbrick/internal/fleetlog"
	"github.com/unbrick/unbrick/internal/testcorpus"
)

// recordLines decodes the lines of out that are fleet log records (JSON
// objects), in order, with their line numbers.
func recordLines(t *testing.T, out string) ([]fleetlog.Record, []int) {
	t.Helper()
	var recs []fleetlog.Record
	var at []int
	for i, l := range strings.Split(out, "\n") {
		if !strings.HasPrefix(l, "{") {
			continue
		}
		var r fleetlog.Record
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("line %d: %v\n%s", i, err, l)
		}
		recs = append(recs, r)
		at = append(at, i)
	}
	return recs, at
}

// lineOf is the number of the first line of out that starts with prefix
// (-1: none).
func lineOf(out, prefix string) int {
	for i, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, prefix) {
			return i
		}
	}
	return -1
}

// TestFixManyTargetsOutput: fix over several targets prints each volume's
// report followed by its record as its target finishes, then the fleet
// log count and the summary; the exit code merges every volume's (a
// missing target: 1). --json prints the records only, the volume without
// one on standard error. Records that cannot be saved are printed at the
// end, after the retry, counted on standard error, exit 1.
func TestFixManyTargetsOutput(t *testing.T) {
	a := testcorpus.Disk(t, "win10-mbr-plain")
	b := testcorpus.Disk(t, "win10-mbr-plain")
	dir := t.TempDir()
	gone := filepath.Join(dir, "gone.img")
	logs := filepath.Join(dir, "logs")
	code, out, errs := runCLI(t, "fix", "--parallel", "2", "--log", logs, "--journal", filepath.Join(dir, "j"), a, gone, b)
	if code != 1 {
		t.Fatalf("exit %d, want 1 (a missing target)\n%s\n%s", code, out, errs)
	}
	recs, at := recordLines(t, out)
	if len(recs) != 2 || len(readRecords(t, logs)) != 2 {
		t.Fatalf("%d records printed, %d saved; want 2\n%s", len(recs), len(readRecords(t, logs)), out)
	}
	lines := strings.Split(out, "\n")
	for i, r := range recs {
		if r.Status != fleetlog.StatusRemediated || (r.Target != a && r.Target != b) {
			t.Errorf("record %d: %s %s", i, r.Target, r.Status)
		}
		// The volume's report is right above its record.
		rep := -1
		for j := at[i] - 1; j >= 0; j-- {
			if strings.HasPrefix(lines[j], r.Target+" ") {
				rep = j
				break
			}
			if strings.HasPrefix(lines[j], "{") {
				break
			}
		}
		if rep < 0 {
			t.Errorf("the record of %s does not follow its volume's report:\n%s", r.Target, out)
		}
	}
	fl, sum := lineOf(out, "fleet log: 2 record(s) appended to "+filepath.Join(logs, fleetlog.JSONLName)), lineOf(out, "summary: 3 target(s), 5 volume report(s)")
	if fl < 0 || sum < 0 || fl < at[1] || sum < fl {
		t.Fatalf("want the fleet log line after the records, then the summary:\n%s", out)
	}
	if !strings.Contains(out, gone+" target: ") || !strings.Contains(out, "  failed               1") || !strings.Contains(out, "  remediated           2") {
		t.Fatalf("the missing target's report or the summary counts are missing:\n%s", out)
	}

	// --json: records only; the volume without one on standard error.
	code, out, errs = runCLI(t, "fix", "--json", "--log", logs, "--journal", filepath.Join(dir, "j"), a, gone, b)
	if code != 1 {
		t.Fatalf("--json: exit %d\n%s\n%s", code, out, errs)
	}
	recs, _ = recordLines(t, out)
	if n := len(strings.Split(strings.TrimSpace(out), "\n")); len(recs) != 2 || n != 2 {
		t.Fatalf("--json: %d records in %d lines, want 2 and nothing else\n%s", len(recs), n, out)
	}
	if !strings.Contains(errs, "unbrick fix: "+gone+": failed: ") {
		t.Fatalf("--json: the missing target is not named on standard error:\n%s", errs)
	}

	// A fleet log that cannot be written (its JSONL is a directory, which
	// root cannot write either): both records printed at the end.
	bad := filepath.Join(dir, "badlogs")
	if err := os.MkdirAll(filepath.Join(bad, fleetlog.JSONLName), 0o755); err != nil {
		t.Fatal(err)
	}
	code, out, errs = runCLI(t, "fix", "--log", bad, "--journal", filepath.Join(dir, "j"), a, b)
	if code != 1 || !strings.Contains(errs, "2 fleet log record(s) could not be saved") {
		t.Fatalf("unwritable log: exit %d, want 1 and the count on standard error\n%s\n%s", code, out, errs)
	}
	recs, at = recordLines(t, out)
	if len(recs) != 2 || strings.Count(out, "THE RECORD COULD NOT BE SAVED") != 2 || lineOf(out, "fleet log: 0 record(s) appended") < at[1] {
		t.Fatalf("unwritable log: want both reports and records, then 0 appended:\n%s", out)
	}
}
