package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/unbrick/unbrick/internal/fleetlog"
	"github.com/unbrick/unbrick/internal/keys"
	"github.com/unbrick/unbrick/internal/testcorpus"
)

const (
	fixRecoveryPassword = "284867-596541-514998-422114-660297-261613-215424-199408"
	fixPassword         = "password12!@"
	fixRPProtector      = "3C116B76-C67B-484E-B439-CE2ED68B561E"
)

func sha256File(t *testing.T, p string) string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil))
}

func manifestSHA(t *testing.T, variant string) string {
	m := testcorpus.LoadManifest(t)
	return m.Variant(t, variant)["sha256"].(string)
}

// readRecords reads DIR/unbrick.jsonl.
func readRecords(t *testing.T, dir string) []fleetlog.Record {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, fleetlog.JSONLName))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []fleetlog.Record
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r fleetlog.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		out = append(out, r)
	}
	return out
}

// grepSecrets fails when a secret appears in any output or in any file
// under dirs.
func grepSecrets(t *testing.T, secrets []string, outputs []string, dirs ...string) {
	t.Helper()
	blobs := map[string]string{}
	for i, o := range outputs {
		blobs["output "+string(rune('A'+i))] = o
	}
	for _, d := range dirs {
		filepath.Walk(d, func(p string, fi os.FileInfo, err error) error {
			if err == nil && fi.Mode().IsRegular() && !strings.HasSuffix(p, ".img") {
				b, _ := os.ReadFile(p)
				blobs[p] = string(b)
			}
			return nil
		})
	}
	if len(blobs) < 2 {
		t.Fatal("nothing to grep")
	}
	for _, s := range secrets {
		for name, b := range blobs {
			if strings.Contains(b, s) {
				t.Errorf("secret %q... found in %s", s[:4], name)
			}
		}
	}
}

// TestCLIFixKeyExport: fix a BitLocker disk with a key export matched by
// protector ID, then again (already-clean), then undo; dry run and scan
// leave the image alone; no secret anywhere.
func TestCLIFixKeyExport(t *testing.T) {
	const variant = "win10-xts128-both"
	img := testcorpus.Disk(t, variant)
	dir := t.TempDir()
	keysCSV := filepath.Join(dir, "BitLockerKeys.csv")
	os.WriteFile(keysCSV, []byte("KeyID,RecoveryKey\n{FA4E0016-0000-4000-8000-000000000016},000000-243111-244222-245333-246444-247555-248666-249777\n"+
		"{"+strings.ToLower(fixRPProtector)+"},"+fixRecoveryPassword+"\n"), 0o600)
	logDir := filepath.Join(dir, "logs")
	var outs []string

	code, out, errs := runCLI(t, "scan", img, "--keys", keysCSV)
	outs = append(outs, out, errs)
	if code != 0 || !strings.Contains(out, "W10-XTS-BOTH") || !strings.Contains(out, "matched by protector id") ||
		!strings.Contains(out, "C-00000291-00000000-00000032.sys") || !strings.Contains(out, "status:        scanned") {
		t.Fatalf("scan: code %d\n%s\n%s", code, out, errs)
	}
	code, out, errs = runCLI(t, "fix", "--dry-run", "--keys", keysCSV, "--log", logDir, img)
	outs = append(outs, out, errs)
	if code != 0 || !strings.Contains(out, "would-delete") || sha256File(t, img) != manifestSHA(t, variant) {
		t.Fatalf("dry run: code %d, image changed? \n%s\n%s", code, out, errs)
	}
	code, out, errs = runCLI(t, "fix", img, "--keys", keysCSV, "--log", logDir, "--technician", "alice", "--json")
	outs = append(outs, out, errs)
	if code != 0 {
		t.Fatalf("fix: code %d\n%s\n%s", code, out, errs)
	}
	var rec fleetlog.Record
	if err := json.Unmarshal([]byte(strings.SplitN(out, "\n", 2)[0]), &rec); err != nil {
		t.Fatalf("fix --json output %q: %v", out, err)
	}
	if rec.Status != fleetlog.StatusRemediated || rec.ProtectorID != fixRPProtector || rec.RecoveryKeyID != fixRPProtector ||
		rec.Technician != "alice" || rec.JournalFile == "" || rec.Host.ComputerName != "W10-XTS-BOTH" {
		t.Fatalf("record %+v", rec)
	}
	code, out, errs = runCLI(t, "fix", img, "--keys", keysCSV, "--log", logDir)
	outs = append(outs, out, errs)
	if code != 0 || !strings.Contains(out, "status:        already-clean") {
		t.Fatalf("second fix: code %d\n%s", code, out)
	}
	recs := readRecords(t, logDir)
	if len(recs) != 3 || recs[0].Status != fleetlog.StatusDryRun || recs[1].Status != fleetlog.StatusRemediated || recs[2].Status != fleetlog.StatusAlreadyClean {
		t.Fatalf("log has %d records: %+v", len(recs), recs)
	}
	code, out, errs = runCLI(t, "undo", "--journal", rec.JournalFile, "--log", logDir, img)
	outs = append(outs, out, errs)
	if code != 0 || sha256File(t, img) != manifestSHA(t, variant) {
		t.Fatalf("undo: code %d, sha256-identical %v\n%s\n%s", code, sha256File(t, img) == manifestSHA(t, variant), out, errs)
	}
	// The undo is in the fleet log, and the report counts the host as
	// undone (its newest record), no longer as fixed.
	recs = readRecords(t, logDir)
	if last := recs[len(recs)-1]; len(recs) != 4 || last.Status != fleetlog.StatusUndone || last.UndoneRun != rec.RunID ||
		last.VolumeID != rec.VolumeID || last.JournalFile != rec.JournalFile {
		t.Fatalf("after undo, log has %d records, last %+v", len(recs), last)
	}
	code, out, errs = runCLI(t, "report", logDir)
	outs = append(outs, out, errs)
	if !regexp.MustCompile(`(?m)^undone\s+1$`).MatchString(out) || !regexp.MustCompile(`(?m)^remediated\s+0$`).MatchString(out) {
		t.Fatalf("report after undo: code %d\n%s\n%s", code, out, errs)
	}
	grepSecrets(t, []string{fixRecoveryPassword, "000000-243111-244222"}, outs, logDir)
}

// TestCLIWrongKey: a wrong key is exit 3 with a locked record, nothing
// written, no secret printed.
func TestCLIWrongKey(t *testing.T) {
	const variant = "win10-xts128-recoverypw"
	img := testcorpus.Disk(t, variant)
	logDir := filepath.Join(t.TempDir(), "logs")
	wrong := "111111-222222-333333-444444-555555-666666-777777-888888"
	code, out, errs := runCLI(t, "fix", img, "--recovery-password", wrong, "--log", logDir)
	if code != 3 || !strings.Contains(out, "status:        locked") {
		t.Fatalf("code %d\n%s\n%s", code, out, errs)
	}
	recs := readRecords(t, logDir)
	if len(recs) != 1 || recs[0].Status != fleetlog.StatusLocked || recs[0].VolumeID == "" {
		t.Fatalf("records %+v", recs)
	}
	if sha256File(t, img) != manifestSHA(t, variant) {
		t.Fatal("a locked volume was written")
	}
	// No key at all: still locked, and the message names the key ID to find.
	code, out, _ = runCLI(t, "fix", img, "--log", logDir)
	if code != 3 || !strings.Contains(out, fixRPProtector) {
		t.Fatalf("no key: code %d\n%s", code, out)
	}
	grepSecrets(t, []string{wrong}, []string{out, errs}, logDir)
}

// TestCLIParallelPlainAndPassword: two targets at once, one plain NTFS and
// one BitLocker unlocked with a password; the exit code merges both.
func TestCLIParallelPlainAndPassword(t *testing.T) {
	plain := testcorpus.Disk(t, "win10-mbr-plain")
	cbc := testcorpus.Disk(t, "win7-cbc128-diffuser-password")
	logDir := filepath.Join(t.TempDir(), "logs")
	code, out, errs := runCLI(t, "fix", "--parallel", "2", "--password", fixPassword, "--log", logDir, plain, cbc)
	if code != 0 {
		t.Fatalf("code %d\n%s\n%s", code, out, errs)
	}
	recs := readRecords(t, logDir)
	if len(recs) != 2 {
		t.Fatalf("%d records", len(recs))
	}
	for _, r := range recs {
		if r.Status != fleetlog.StatusRemediated {
			t.Errorf("%s: %s %s", r.Target, r.Status, r.Error)
		}
	}
	grepSecrets(t, []string{fixPassword}, []string{out, errs}, logDir)
}

func TestCLIFixUsage(t *testing.T) {
	for _, args := range [][]string{
		{"fix", "--unclean=maybe", "x.img"},
		{"fix", "--parallel", "0", "x.img"},
		{"fix", "--bogus"},
		{"scan", "--rules", "/nonexistent/rules.json", "x.img"},
	} {
		if code, _, _ := runCLI(t, args...); code != 2 {
			t.Errorf("%v: code %d, want 2", args, code)
		}
	}
	// An unreadable target: scan says 1.
	if code, out, _ := runCLI(t, "scan", filepath.Join(t.TempDir(), "missing.img")); code != 1 {
		t.Errorf("scan of a missing image: code %d\n%s", code, out)
	}
}

// TestCLIFixSealedKeys: --keys accepts an age-sealed bundle; the
// passphrase comes from UNBRICK_KEYS_PASSPHRASE.
func TestCLIFixSealedKeys(t *testing.T) {
	const variant = "win10-xts128-recoverypw"
	img := testcorpus.Disk(t, variant)
	dir := t.TempDir()
	bundle := filepath.Join(dir, "keys.age")
	f, err := os.Create(bundle)
	if err != nil {
		t.Fatal(err)
	}
	entries := []keys.Entry{{KeyID: fixRPProtector, RecoveryPassword: fixRecoveryPassword, Source: "export.csv", Line: 2}}
	if err := keys.Seal(f, entries, keys.SealOptions{Passphrase: "correct horse battery", WorkFactor: 10}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	logDir := filepath.Join(dir, "logs")
	code, out, errs := runCLIEnv(t, map[string]string{"UNBRICK_KEYS_PASSPHRASE": "correct horse battery"}, "fix", "--keys", bundle, "--log", logDir, img)
	if code != 0 || !strings.Contains(out, "status:        remediated") {
		t.Fatalf("code %d\n%s\n%s", code, out, errs)
	}
	code, _, errs2 := runCLIEnv(t, nil, "scan", "--keys", bundle, img)
	if code != 2 || !strings.Contains(errs2, "passphrase") {
		t.Fatalf("no passphrase: code %d, %s", code, errs2)
	}
	grepSecrets(t, []string{fixRecoveryPassword, "correct horse battery"}, []string{out, errs, errs2}, logDir)
}
