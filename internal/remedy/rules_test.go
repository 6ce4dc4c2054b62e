package remedy

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/unbrick/unbrick/bitlocker"
	"github.com/unbrick/unbrick/internal/keys"
	"github.com/unbrick/unbrick/internal/rules"
	"github.com/unbrick/unbrick/internal/testcorpus"
	"github.com/unbrick/unbrick/internal/undo"
)

func parseRules(t *testing.T, js string) *rules.Set {
	t.Helper()
	s, err := rules.Parse("test-rules.json", []byte(js), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestNeedsReviewWritesNothing: a 291 file outside both windows (as on a
// host whose clock was wrong) is needs-review (exit 5), never
// already-clean, and nothing is written.
func TestNeedsReviewWritesNothing(t *testing.T) {
	v := oneVariant(t, "win10-plain-ntfs")
	img := testcorpus.Disk(t, v.name)
	o, _ := fixOpts(t, v)
	o.Rules = parseRules(t, `{"format": "unbrick-rules/1", "rules": [{
		"id": "shifted-window", "directory": "Windows/System32/drivers/CrowdStrike", "name": "C-00000291*.sys",
		"faulty_when": [{"modified_from": "2024-07-19T05:00:00Z", "modified_before": "2024-07-19T05:10:00Z"}],
		"good_when": [{"modified_from": "2024-07-19T06:00:00Z"}]}]}`)
	vols := fix(t, img, o)
	vol := volumeOf(t, vols, v)
	if vol.Status != StatusNeedsReview || ExitCode(vols, false) != 5 {
		t.Fatalf("status %s exit %d (%s)", vol.Status, ExitCode(vols, false), vol.Error)
	}
	if len(vol.Files) != 1 || vol.Files[0].Action != ActionReview {
		t.Fatalf("files %+v", vol.Files)
	}
	if fileSHA256(t, img) != v.sha256() {
		t.Fatal("needs-review volume was written")
	}
	// The technician approves (the wizard's Approve hook): deleted.
	asked := 0
	o.Fix.Approve = func(_ *Volume, f File) bool { asked++; return strings.HasSuffix(f.Path, "-00000032.sys") }
	vol = volumeOf(t, fix(t, img, o), v)
	if asked != 1 || vol.Status != StatusRemediated || vol.Files[0].Action != ActionDeleted || !strings.Contains(vol.Files[0].Reason, "approved") {
		t.Fatalf("approved: asked %d, %s %+v", asked, vol.Status, vol.Files)
	}
	mustVerify(t, img, v.name, "--expect", "fixed")
}

// extractPartition copies a partition of a disk image into its own file
// (tools/ntfs-check reads a volume image).
func extractPartition(t *testing.T, img string, off, size int64) string {
	t.Helper()
	in, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	p := filepath.Join(t.TempDir(), "volume.img")
	out, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if _, err := io.Copy(out, io.NewSectionReader(in, off, size)); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestFixSeveralFilesOneDirectory: three files of one directory deleted in
// one run (each plan staged before the next is made: they edit the same
// index); the independent tools/ntfs-check finds the volume consistent,
// a second run is already-clean, undo is byte-identical.
func TestFixSeveralFilesOneDirectory(t *testing.T) {
	v := oneVariant(t, "win10-plain-ntfs")
	img := testcorpus.Disk(t, v.name)
	o, _ := fixOpts(t, v)
	o.Rules = parseRules(t, `{"format": "unbrick-rules/1", "rules": [{
		"id": "channel-29x", "directory": "Windows/System32/drivers/CrowdStrike", "name": "C-0000029*.sys",
		"max_files": 4,
		"faulty_when": [{"modified_from": "2024-07-01T00:00:00Z", "modified_before": "2024-07-20T00:00:00Z"}]},
		{"id": "channel-285", "directory": "Windows/System32/drivers/CrowdStrike", "name": "C-00000285*.sys",
		"faulty_when": [{"modified_from": "2024-07-01T00:00:00Z", "modified_before": "2024-07-20T00:00:00Z"}]}]}`)
	vols := fix(t, img, o)
	vol := volumeOf(t, vols, v)
	if vol.Status != StatusRemediated {
		t.Fatalf("status %s (%s)", vol.Status, vol.Error)
	}
	deleted := 0
	for _, f := range vol.Files {
		if f.Action == ActionDeleted {
			deleted++
		}
	}
	if deleted != 3 {
		t.Fatalf("deleted %d files, want 3: %+v", deleted, vol.Files)
	}
	check := testcorpus.Path(t, "tools/ntfs-check")
	part := extractPartition(t, img, vol.Offset, vol.Size)
	if out, err := exec.Command(check, part).CombinedOutput(); err != nil {
		t.Fatalf("tools/ntfs-check: %v\n%s", err, out)
	}
	again := volumeOf(t, fix(t, img, o), v)
	if again.Status != StatusAlreadyClean || len(again.Files) != 0 {
		t.Fatalf("second run: %s, %d files", again.Status, len(again.Files))
	}
	j, err := undo.ReadFile(vol.JournalFile)
	if err != nil {
		t.Fatal(err)
	}
	restore(t, img, j)
	if fileSHA256(t, img) != v.sha256() {
		t.Fatal("undo of a three-file fix is not byte-identical")
	}
}

// TestScanUnsupportedAndGarbage: a target that is no disk at all fails to
// scan with exit 1; the scan of many targets in parallel keeps their order.
func TestScanUnsupportedAndGarbage(t *testing.T) {
	junk := filepath.Join(t.TempDir(), "junk.img")
	os.WriteFile(junk, []byte(strings.Repeat("not a disk ", 1000)), 0o600)
	missing := filepath.Join(t.TempDir(), "missing.img")
	vols := Scan(context.Background(), []string{junk, missing}, Options{Parallel: 2})
	if len(vols) != 2 || vols[0].Target != junk || vols[1].Target != missing {
		t.Fatalf("reports %+v", vols)
	}
	if vols[1].Status != StatusFailed || ExitCode(vols, true) != 1 {
		t.Fatalf("missing target: %s, exit %d", vols[1].Status, ExitCode(vols, true))
	}
}

// TestMalformedKeyNotEchoed: a mistyped recovery password gives a locked
// volume whose error names the problem but quotes no digit of the secret.
func TestMalformedKeyNotEchoed(t *testing.T) {
	v := oneVariant(t, "win10-xts128-recoverypw")
	img := testcorpus.Disk(t, v.name)
	typo := "284867-596541-514998-422114-660297-261613-215424-199409"
	vols := Scan(context.Background(), []string{img}, Options{Keys: KeyOptions{Typed: []TypedKey{{Key: bitlocker.RecoveryPassword(typo), Source: "typed"}}}})
	vol := volumeOf(t, vols, v)
	if vol.Status != StatusLocked || !strings.Contains(vol.Error, "group 8") {
		t.Fatalf("status %s error %q", vol.Status, vol.Error)
	}
	if strings.Contains(vol.Error, "199409") {
		t.Fatalf("error quotes a group of the secret: %q", vol.Error)
	}
}

// TestKeyMatchByComputerName: an export row without a key ID, listed for
// the computer name BitLocker wrote into the metadata description, opens
// the volume; a row for another protector ID is never tried.
func TestKeyMatchByComputerName(t *testing.T) {
	v := oneVariant(t, "win10-xts128-recoverypw")
	img := testcorpus.Disk(t, v.name)
	_, secret := v.unlock()
	set := keys.NewSet([]keys.Entry{
		{KeyID: "FA4E0016-0000-4000-8000-000000000016", RecoveryPassword: "000000-243111-244222-245333-246444-247555-248666-249777", ComputerName: "DESKTOP-QNI1MMF", Source: "export.csv", Line: 2},
		{RecoveryPassword: secret, ComputerName: "desktop-qni1mmf.corp.example", Source: "export.csv", Line: 3},
	})
	vols := Scan(context.Background(), []string{img}, Options{Keys: KeyOptions{Export: set}})
	bl := volumeOf(t, vols, v).BitLocker
	if bl == nil || !bl.Unlocked || bl.KeyMatch != "computer name" || !strings.HasPrefix(bl.KeySource, "export.csv:3") {
		t.Fatalf("BitLocker %+v", bl)
	}
	b, _ := json.Marshal(vols)
	if strings.Contains(string(b), secret) || strings.Contains(string(b), "243111") {
		t.Fatal("a recovery password reached the report")
	}
}

// TestExitCodeMerge: a locked disk and a fixed disk in one run give 3.
func TestExitCodeMerge(t *testing.T) {
	bl := oneVariant(t, "win10-xts128-recoverypw")
	plain := oneVariant(t, "win10-mbr-plain")
	imgs := []string{testcorpus.Disk(t, bl.name), testcorpus.Disk(t, plain.name)}
	o, _ := fixOpts(t, plain)
	o.Parallel = 2
	vols := fix(t, imgs[0], o) // no key: locked
	vols = append(vols, fix(t, imgs[1], o)...)
	if c := ExitCode(vols, false); c != 3 {
		t.Fatalf("exit %d, want 3", c)
	}
	both := Fix(context.Background(), imgs, o)
	if both[0].Target != imgs[0] || ExitCode(both, false) != 3 {
		t.Fatalf("parallel run: order %s, exit %d", both[0].Target, ExitCode(both, false))
	}
}

// TestSameTargetTwice: a disk named twice (directly and through a symlink)
// is processed once, even in parallel.
func TestSameTargetTwice(t *testing.T) {
	v := oneVariant(t, "win10-plain-ntfs")
	img := testcorpus.Disk(t, v.name)
	link := filepath.Join(t.TempDir(), "link.img")
	if err := os.Symlink(img, link); err != nil {
		t.Fatal(err)
	}
	o, _ := fixOpts(t, v)
	o.Parallel = 2
	vols := Fix(context.Background(), []string{img, link, img}, o)
	n := 0
	for _, vol := range vols {
		if vol.Windows {
			n++
			if vol.Status != StatusRemediated {
				t.Errorf("%s: %s %s", vol.Target, vol.Status, vol.Error)
			}
		}
	}
	if n != 1 {
		t.Fatalf("%d Windows volume reports, want 1", n)
	}
}
