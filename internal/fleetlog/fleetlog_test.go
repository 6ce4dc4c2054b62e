package fleetlog

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

const secretPW = "284867-596541-514998-422114-660297-261613-215424-199408"

func sample(host, vol string, status Status, t time.Time) *Record {
	return &Record{
		Time: t, ToolVersion: "test", RunID: "run-" + t.Format("150405"), Technician: "alice",
		Host:   Host{ComputerName: host, BitLockerName: "DESKTOP-QNI1MMF", Serial: "SN-" + host},
		Target: "/dev/sda", Disk: "QEMU HARDDISK QM00001", Partition: 3, VolumeID: vol, Encryption: "AES-XTS-128",
		Protectors: []string{"3C116B76-C67B-484E-B439-CE2ED68B561E"}, ProtectorID: "3C116B76-C67B-484E-B439-CE2ED68B561E",
		RecoveryKeyID: "3C116B76-C67B-484E-B439-CE2ED68B561E", UnlockMethod: "recovery password", KeySource: "keys.csv:2",
		Rules: []string{"crowdstrike-2024-07-19"},
		Files: []File{{Path: "Windows/System32/drivers/CrowdStrike/C-00000291-00000000-00000032.sys", Size: 40960,
			MTime: time.Date(2024, 7, 19, 4, 9, 27, 0, time.UTC), SHA256: strings.Repeat("ab", 32), Action: "deleted", Reason: "faulty", Rule: "crowdstrike-2024-07-19"}},
		Status: status, Duration: 152 * time.Millisecond, JournalFile: "journal/x.journal",
		JournalReplayed: map[string]int{"UpdateResidentValue": 2}, JournalAction: "replayed",
	}
}

func TestAppendAndRead(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs", "sub")
	l, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2024, 7, 19, 9, 0, 0, 0, time.FixedZone("CEST", 7200))
	recs := []*Record{
		sample("PC1", "8E6909F1-6BA3-49EA-BF8D-EC83FAB656CD", StatusLocked, t0),
		sample("PC1", "8E6909F1-6BA3-49EA-BF8D-EC83FAB656CD", StatusRemediated, t0.Add(time.Hour)),
		sample("PC2", "2D07AD36-231D-4AE6-B995-21F7E5FBDC34", StatusNeedsReview, t0),
	}
	var wg sync.WaitGroup
	for _, r := range recs {
		wg.Add(1)
		go func(r *Record) { defer wg.Done(); _ = l.Append(r) }(r)
	}
	wg.Wait()
	data, err := os.ReadFile(filepath.Join(dir, JSONLName))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines", len(lines))
	}
	var top map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &top); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"time", "tool_version", "run_id", "technician", "host", "target", "disk", "partition", "volume_id",
		"protector_id", "recovery_key_id", "unlock_method", "rules", "files", "status", "duration_ms", "journal_file", "confirmation_code"} {
		if _, ok := top[f]; !ok {
			t.Errorf("record lacks %q: %s", f, lines[0])
		}
	}
	if !strings.HasSuffix(top["time"].(string), "Z") || top["duration_ms"].(float64) != 152 {
		t.Errorf("time %v duration %v", top["time"], top["duration_ms"])
	}
	got, probs, err := ReadPaths([]string{filepath.Dir(dir)})
	if err != nil || len(probs) != 0 || len(got) != 3 {
		t.Fatalf("read: %d records, %v, %v", len(got), probs, err)
	}
	for _, g := range got {
		if !CheckCode(g.ConfirmationCode, g.RunID, g.VolumeID, g.Status) {
			t.Errorf("code %s does not check", g.ConfirmationCode)
		}
	}
	// CSV: header once, three rows, same codes.
	cf, _ := os.Open(filepath.Join(dir, CSVName))
	rows, err := csv.NewReader(cf).ReadAll()
	cf.Close()
	if err != nil || len(rows) != 4 || !reflect.DeepEqual(rows[0], CSVHeader) {
		t.Fatalf("csv: %v %v", rows, err)
	}
	for _, row := range rows[1:] {
		if len(row) != len(CSVHeader) || row[len(row)-1] != "replayed" {
			t.Errorf("csv row %v: want %d columns ending with journal_action", row, len(CSVHeader))
		}
	}
	// A torn last line is reported, not fatal.
	f, _ := os.OpenFile(filepath.Join(dir, JSONLName), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"time":"2024-07-19T10:00:00Z","status":"remed`)
	f.Close()
	got, probs, err = ReadPaths([]string{filepath.Join(dir, JSONLName)})
	if err != nil || len(got) != 3 || len(probs) != 1 || probs[0].Line != 4 {
		t.Errorf("torn: %d %v %v", len(got), probs, err)
	}
	if err := l.Append(&Record{Status: "fixed"}); err == nil {
		t.Error("bad status accepted")
	}
}

func TestNoSecretsInLogs(t *testing.T) {
	// Records cannot hold a secret: no field is meant for one. If one slips
	// into free text (an error message, a name), it is scrubbed.
	dir := t.TempDir()
	l, _ := Open(dir)
	r := sample("PC1", "V1", StatusFailed, time.Now())
	r.Error = "unlock: wrong recovery password " + secretPW + " for protector X"
	r.Technician = strings.ReplaceAll(secretPW, "-", "")
	r.Files[0].Reason = strings.ReplaceAll(secretPW, "-", " ")
	if err := l.Append(r); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{JSONLName, CSVName} {
		b, _ := os.ReadFile(filepath.Join(dir, name))
		for _, g := range strings.Split(secretPW, "-") {
			if bytes.Contains(b, []byte(g)) {
				t.Errorf("%s holds a password group %s:\n%s", name, g, b)
			}
		}
		if !bytes.Contains(b, []byte(Redacted)) {
			t.Errorf("%s: nothing redacted", name)
		}
	}
	// And the type has no field whose name suggests a secret.
	rt := reflect.TypeOf(Record{})
	for i := 0; i < rt.NumField(); i++ {
		n := strings.ToLower(rt.Field(i).Name)
		if strings.Contains(n, "password") || n == "key" || strings.Contains(n, "secret") || strings.Contains(n, "fvek") {
			t.Errorf("Record has field %s", rt.Field(i).Name)
		}
	}
}

func TestConfirmationCode(t *testing.T) {
	c := ConfirmationCode("run-1", "8e6909f1-6ba3-49ea-bf8d-ec83fab656cd", StatusRemediated)
	if len(c) != 8 || strings.Trim(c, codeAlphabet) != "" || strings.ContainsAny(c, "ILOU") {
		t.Fatalf("code %q", c)
	}
	if c != ConfirmationCode("run-1", "8E6909F1-6BA3-49EA-BF8D-EC83FAB656CD", StatusRemediated) {
		t.Error("volume ID case changes the code")
	}
	for _, other := range []string{ConfirmationCode("run-2", "8E6909F1-6BA3-49EA-BF8D-EC83FAB656CD", StatusRemediated),
		ConfirmationCode("run-1", "2D07AD36-231D-4AE6-B995-21F7E5FBDC34", StatusRemediated),
		ConfirmationCode("run-1", "8E6909F1-6BA3-49EA-BF8D-EC83FAB656CD", StatusNeedsReview)} {
		if other == c {
			t.Error("code ignores an input")
		}
	}
	typed := strings.ToLower(c[:4]) + "-" + c[4:]
	typed = strings.NewReplacer("0", "o", "1", "l").Replace(typed)
	if !CheckCode(typed, "run-1", "8E6909F1-6BA3-49EA-BF8D-EC83FAB656CD", StatusRemediated) {
		t.Errorf("typed %q does not check", typed)
	}
	// Independent witness: the first 40 bits of SHA-256 of the documented
	// preimage, computed by coreutils sha256sum, in Crockford base 32.
	const preimage = "unbrick-confirmation/1\x00run-1\x008E6909F1-6BA3-49EA-BF8D-EC83FAB656CD\x00remediated"
	if want := crockfordOfSha256sum(t, preimage); want != "" && want != c {
		t.Errorf("code %s, sha256sum gives %s", c, want)
	}
}

func TestMergeAndInventory(t *testing.T) {
	t0 := time.Date(2024, 7, 19, 8, 0, 0, 0, time.UTC)
	mk := func(r *Record, line int) LoadedRecord {
		Prepare(r)
		return LoadedRecord{Record: *r, File: "x", Line: line}
	}
	locked := sample("", "VOL-A", StatusLocked, t0) // locked: no computer name yet
	locked.RecoveryKeyID, locked.ProtectorID, locked.UnlockMethod = "", "", ""
	fixed := sample("PC-A", "VOL-A", StatusRemediated, t0.Add(time.Hour))
	again := sample("PC-A", "VOL-A", StatusAlreadyClean, t0.Add(2*time.Hour)) // second run on the same host
	again.RecoveryKeyID = "AAAAAAAA-0000-0000-0000-000000000001"
	review := sample("PC-B", "VOL-B", StatusNeedsReview, t0)
	review.Host.Serial = "To Be Filled By O.E.M."
	other := sample("PC-C", "VOL-C", StatusFailed, t0)
	other.Host.Serial = "To Be Filled By O.E.M." // junk serial must not merge PC-B and PC-C
	other.RecoveryKeyID = ""
	recs := []LoadedRecord{mk(locked, 1), mk(fixed, 2), mk(again, 3), mk(review, 4), mk(other, 5)}
	s := Merge(recs)
	if len(s.Hosts) != 3 {
		t.Fatalf("%d hosts: %+v", len(s.Hosts), s.Hosts)
	}
	if h := s.Hosts[0]; h.Latest.Host.Name() != "PC-A" || h.Latest.Status != StatusAlreadyClean || h.Records != 3 {
		t.Errorf("PC-A: %+v", h)
	}
	if s.Counts[StatusAlreadyClean] != 1 || s.Counts[StatusNeedsReview] != 1 || s.Counts[StatusFailed] != 1 || s.Counts[StatusLocked] != 0 {
		t.Errorf("counts %v", s.Counts)
	}
	if len(s.Keys) != 2 || s.Keys[0].KeyID != "3C116B76-C67B-484E-B439-CE2ED68B561E" || s.Keys[1].KeyID != "AAAAAAAA-0000-0000-0000-000000000001" {
		t.Errorf("keys %+v", s.Keys)
	}
	inv := []InventoryItem{{Name: "pc-a.corp.example"}, {Name: "PC-D"}, {KeyIDs: []string{"{3c116b76-c67b-484e-b439-ce2ed68b561e}"}}, {KeyIDs: []string{"BBBBBBBB-0000-0000-0000-000000000002"}}, {Serial: "sn-pc-a"}}
	ns := NeverSeen(inv, recs)
	if len(ns) != 2 || ns[0].Name != "PC-D" || ns[1].KeyIDs[0] != "BBBBBBBB-0000-0000-0000-000000000002" {
		t.Errorf("never seen: %+v", ns)
	}
}

func TestLoadInventory(t *testing.T) {
	dir := t.TempDir()
	list := filepath.Join(dir, "hosts.txt")
	os.WriteFile(list, []byte("# fleet\r\nPC-1\r\n\r\npc-2\r\n"), 0o600)
	it, err := LoadInventory(list, keysOpts())
	if err != nil || len(it) != 2 || it[1].Name != "pc-2" {
		t.Errorf("host list: %+v %v", it, err)
	}
	csvf := filepath.Join(dir, "hosts.csv")
	os.WriteFile(csvf, []byte("\ufeffDevice Name;Serial Number;Owner\nPC-1;SN1;bob\n;SN2;eve\n"), 0o600)
	it, err = LoadInventory(csvf, keysOpts())
	if err != nil || len(it) != 2 || it[0].Name != "PC-1" || it[1].Serial != "SN2" {
		t.Errorf("host csv: %+v %v", it, err)
	}
	it, err = LoadInventory("../keys/testdata/ad-csvde.csv", keysOpts())
	if err != nil || len(it) != 2 || it[0].Name != "PC-ACCT-01" || len(it[0].KeyIDs) != 2 {
		t.Errorf("key export: %+v %v", it, err)
	}
	bad := filepath.Join(dir, "bad.txt")
	os.WriteFile(bad, []byte("PC 1 is here\n"), 0o600)
	if _, err := LoadInventory(bad, keysOpts()); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("bad list: %v", err)
	}
}
