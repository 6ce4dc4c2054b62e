package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/unbrick/unbrick/internal/fleetlog"
)

func writeLog(t *testing.T, dir string, recs ...*fleetlog.Record) {
	t.Helper()
	l, err := fleetlog.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := l.Append(r); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReport(t *testing.T) {
	root := t.TempDir()
	t0 := time.Date(2024, 7, 19, 8, 0, 0, 0, time.UTC)
	rec := func(host, vol string, st fleetlog.Status, at time.Time, key string) *fleetlog.Record {
		return &fleetlog.Record{Time: at, RunID: "run-" + at.Format("1504"), ToolVersion: "t", Host: fleetlog.Host{ComputerName: host},
			Target: "/dev/sda", Partition: 3, VolumeID: vol, Status: st, RecoveryKeyID: key}
	}
	// Stick 1: PC-ACCT-01 locked, LT-SALES-17 needs review. Stick 2: PC-ACCT-01 fixed later.
	writeLog(t, filepath.Join(root, "stick1"),
		&fleetlog.Record{Time: t0, RunID: "r1", Status: fleetlog.StatusLocked, VolumeID: "VOL-1", Host: fleetlog.Host{BitLockerName: "PC-ACCT-01"}},
		rec("LT-SALES-17", "VOL-2", fleetlog.StatusNeedsReview, t0, ""))
	writeLog(t, filepath.Join(root, "stick2"),
		rec("PC-ACCT-01", "VOL-1", fleetlog.StatusRemediated, t0.Add(time.Hour), "FA4E0001-0000-4000-8000-000000000001"))

	csvPath := filepath.Join(root, "out.csv")
	code, out, errs := runCLI(t, "report", root, "--inventory", "../../internal/keys/testdata/ad-csvde.csv", "--csv", csvPath)
	if code != 0 {
		t.Fatalf("code %d: %s", code, errs)
	}
	for _, want := range []string{"3 record(s), 2 host(s)", "remediated     1", "needs-review   1", "locked         0",
		"{FA4E0001-0000-4000-8000-000000000001}  PC-ACCT-01", "never seen in the logs (0)"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	f, _ := os.Open(csvPath)
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(rows) != 3 || rows[2][0] != "PC-ACCT-01" || rows[2][4] != "remediated" {
		t.Errorf("csv %v %v", rows, err)
	}
	// A host list with one host never seen.
	hosts := filepath.Join(root, "hosts.txt")
	os.WriteFile(hosts, []byte("PC-ACCT-01\nLT-SALES-17\nPC-NEVER-9\n"), 0o600)
	code, out, _ = runCLI(t, "report", "--json", "--inventory", hosts, filepath.Join(root, "stick1"), filepath.Join(root, "stick2", "unbrick.jsonl"))
	// JSON Lines: one line per host, per host never seen, then the summary.
	var js struct {
		Counts    map[string]int
		Hosts     []fleetlog.Record
		KeysUsed  []string
		NeverSeen []string
	}
	for _, l := range jsonLines(t, out) {
		var line struct {
			Type     string
			Name     string
			Counts   map[string]int
			KeysUsed []string `json:"recovery_keys_used"`
			fleetlog.Record
		}
		if err := json.Unmarshal(l, &line); err != nil || code != 0 {
			t.Fatalf("json: %v %d\n%s", err, code, out)
		}
		switch line.Type {
		case "host":
			js.Hosts = append(js.Hosts, line.Record)
		case "never-seen":
			js.NeverSeen = append(js.NeverSeen, line.Name)
		case "summary":
			js.Counts, js.KeysUsed = line.Counts, line.KeysUsed
		default:
			t.Errorf("line of type %q: %s", line.Type, l)
		}
	}
	if len(js.NeverSeen) != 1 || js.NeverSeen[0] != "PC-NEVER-9" || js.Counts["remediated"] != 1 || len(js.KeysUsed) != 1 || len(js.Hosts) != 2 {
		t.Errorf("json summary %+v", js)
	}
	// Confirmation-code lookup.
	c := fleetlog.ConfirmationCode("run-0900", "VOL-1", fleetlog.StatusRemediated)
	code, out, _ = runCLI(t, "report", "--code", strings.ToLower(c), root)
	if code != 0 || !strings.Contains(out, "host PC-ACCT-01, volume VOL-1, status remediated") || !strings.Contains(out, "code recomputed: true") {
		t.Errorf("--code: %d %s", code, out)
	}
	if code, _, _ := runCLI(t, "report", "--code", "ZZZZZZZZ", root); code != 1 {
		t.Errorf("unknown code: %d", code)
	}
	if code, _, _ := runCLI(t, "report"); code != 2 {
		t.Errorf("no args: %d", code)
	}
	if code, _, _ := runCLI(t, "report", filepath.Join(root, "nope")); code != 1 {
		t.Errorf("missing dir: %d", code)
	}
}

// TestReportJournalActions: hosts whose NTFS journal a fix emptied are
// listed for the help desk even when a later record of theirs is clean;
// replayed journals are counted.
func TestReportJournalActions(t *testing.T) {
	root := t.TempDir()
	t0 := time.Date(2024, 7, 19, 8, 0, 0, 0, time.UTC)
	rec := func(host, vol string, st fleetlog.Status, at time.Time, action string) *fleetlog.Record {
		return &fleetlog.Record{Time: at, RunID: "run-" + at.Format("1504"), ToolVersion: "t", Host: fleetlog.Host{ComputerName: host},
			Target: "/dev/sda", Partition: 3, VolumeID: vol, Status: st, JournalAction: action}
	}
	writeLog(t, filepath.Join(root, "stick"),
		rec("PC-RESET-01", "VOL-1", fleetlog.StatusRemediated, t0, "reset"),
		rec("PC-RESET-01", "VOL-1", fleetlog.StatusAlreadyClean, t0.Add(time.Hour), ""),
		rec("PC-REPLAY-02", "VOL-2", fleetlog.StatusRemediated, t0, "replayed"),
		rec("PC-CLEAN-03", "VOL-3", fleetlog.StatusRemediated, t0, ""))
	code, out, errs := runCLI(t, "report", root)
	if code != 0 {
		t.Fatalf("code %d: %s", code, errs)
	}
	for _, want := range []string{"NTFS journals replayed before the fix (as Windows does at start): 1 host(s)",
		"check these hosts): 1\n  PC-RESET-01\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	code, out, _ = runCLI(t, "report", "--json", root)
	lines := jsonLines(t, out)
	var js struct {
		Type         string
		JournalReset []string `json:"journal_reset_hosts"`
	}
	if err := json.Unmarshal(lines[len(lines)-1], &js); code != 0 || err != nil || js.Type != "summary" || len(js.JournalReset) != 1 || js.JournalReset[0] != "PC-RESET-01" {
		t.Errorf("json: code %d, %v, %+v\n%s", code, err, js, out)
	}
}

// jsonLines splits JSON Lines output (scan, fix and report --json) into
// its lines, checking that each is one JSON object.
func jsonLines(t *testing.T, out string) [][]byte {
	t.Helper()
	var lines [][]byte
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if !json.Valid([]byte(l)) || !strings.HasPrefix(l, "{") {
			t.Fatalf("not a JSON object on one line: %q\nin\n%s", l, out)
		}
		lines = append(lines, []byte(l))
	}
	return lines
}
