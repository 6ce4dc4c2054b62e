package remedy

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"io"
	"math/bits"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/unbrick/unbrick/internal/remedy/remedytest"
	"github.com/unbrick/unbrick/internal/testcorpus"
	"github.com/unbrick/unbrick/internal/undo"
)

// Journals made by the ntfs package's TestReplayCorpusFixtureWrite for the
// win10-plain-ntfs OS volume: a committed ntfslabel change (label all J),
// and the same followed by a committed DeleteDirtyClusters record.
var (
	replayableLog  = filepath.Join("..", "..", "ntfs", "testdata", "journal", "win10-plain-label.logfile.gz")
	unsupportedLog = filepath.Join("..", "..", "ntfs", "testdata", "journal", "win10-plain-unsupported.logfile.gz")
	// The BitLocker corpus volume's, version 2.0 (TestReplayFixtureWriteBitLocker).
	bitLockerReplayLog = filepath.Join("..", "..", "ntfs", "testdata", "journal", "win10-xts128-recoverypw-label.logfile.gz")
)

// uncleanCorpusDisk copies win10-plain-ntfs and installs the journal gz as
// its OS volume's $LogFile. ntfsrecover must see the committed transaction
// 0x18 to replay.
func uncleanCorpusDisk(t *testing.T, gz string) (variant, string) {
	t.Helper()
	v := oneVariant(t, "win10-plain-ntfs")
	img := testcorpus.Disk(t, v.name)
	if err := remedytest.InstallLogFile(img, v.osPartition(), gz); err != nil {
		t.Fatal(err)
	}
	if out, ok := ntfsrecoverDryRun(t, img, v); ok && (strings.Contains(out, "nothing to do") || !strings.Contains(out, "Marking transaction 0x18")) {
		t.Fatalf("ntfsrecover -n finds no journal to replay: %s", out)
	}
	return v, img
}

// ntfsrecoverDryRun runs ntfs-3g's ntfsrecover -n -v -k (the independent
// journal reader; -k accepts a version 2.0 journal) on a copy of the OS
// volume, decrypted by dislocker-file when it is BitLocker; ok is false
// when the tools are missing.
func ntfsrecoverDryRun(t *testing.T, img string, v variant) (string, bool) {
	t.Helper()
	p, err := exec.LookPath("ntfsrecover")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("ntfsrecover (ntfs-3g) is needed")
		}
		t.Log("ntfsrecover not installed: journal cross-check skipped")
		return "", false
	}
	off := int64(v.osVolume()["offset_bytes"].(float64))
	size := int64(v.osVolume()["size_bytes"].(float64))
	vol := filepath.Join(t.TempDir(), "os.img")
	if v.encrypted() {
		dl, err := exec.LookPath("dislocker-file")
		if err != nil {
			if os.Getenv("CI") != "" {
				t.Fatal("dislocker-file is needed")
			}
			return "", false
		}
		method, secret := v.unlock()
		if method != "recovery_password" {
			t.Fatalf("%s: unlock method %s not handled here", v.name, method)
		}
		if out, err := exec.Command(dl, "-q", "-r", "-O", strconv.FormatInt(off, 10), "-V", img, "-p"+secret, "--", vol).CombinedOutput(); err != nil {
			t.Fatalf("dislocker-file: %v\n%s", err, out)
		}
		b, _ := exec.Command(p, "-n", "-v", "-k", vol).CombinedOutput()
		return string(b), true
	}
	in, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(vol)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, io.NewSectionReader(in, off, size)); err != nil {
		t.Fatal(err)
	}
	out.Close()
	b, _ := exec.Command(p, "-n", "-v", "-k", vol).CombinedOutput()
	return string(b), true
}

// TestUncleanReplay: --unclean=replay on a corpus disk whose journal holds
// a committed, replayable change redoes it, deletes the faulty files, and
// commits both in one undo journal. Witnesses: the corpus verify script
// (ntfs-3g, sleuthkit, libfsntfs), ntfsrecover -n (nothing left to replay)
// and the undo journal restoring the pre-replay image byte for byte.
func TestUncleanReplay(t *testing.T) {
	v, img := uncleanCorpusDisk(t, replayableLog)
	before := fileSHA256(t, img)
	scan := volumeOf(t, Scan(context.Background(), []string{img}, Options{}), v)
	if scan.Journal.Replayed["UpdateResidentValue"] == 0 || scan.Journal.Action(scan.Status) != "would-replay" || fileSHA256(t, img) != before {
		t.Fatalf("scan: journal %+v, action %q", scan.Journal, scan.Journal.Action(scan.Status))
	}
	o, _ := fixOpts(t, v)
	// The default policy is replay.

	o.Fix.DryRun = true
	dry := volumeOf(t, fix(t, img, o), v)
	if dry.Status != StatusDryRun || fileSHA256(t, img) != before {
		t.Fatalf("dry run: %s (%s), image changed %v", dry.Status, dry.Error, fileSHA256(t, img) != before)
	}
	o.Fix.DryRun = false

	var logged []*Volume
	o.Hooks.Log = func(vol *Volume) error { logged = append(logged, vol); return nil }
	vols := fix(t, img, o)
	vol := volumeOf(t, vols, v)
	if vol.Status != StatusRemediated || ExitCode(vols, false) != 0 {
		t.Fatalf("--unclean=replay: %s exit %d (%s)", vol.Status, ExitCode(vols, false), vol.Error)
	}
	if vol.Journal == nil || vol.Journal.State != "unclean" || vol.Journal.Reset || vol.Journal.Replayed["UpdateResidentValue"] == 0 {
		t.Fatalf("journal report %+v", vol.Journal)
	}
	if rec := vol.FleetRecord(&o); rec.JournalReplayed["UpdateResidentValue"] == 0 || rec.JournalAction != "replayed" {
		t.Errorf("fleet record does not carry the replay: %+v, action %q", rec.JournalReplayed, rec.JournalAction)
	}
	if vol.Label == "" || strings.Trim(vol.Label, "J") != "" {
		t.Errorf("label after the replay %q, want the journal's all-J label", vol.Label)
	}
	if !strings.Contains(strings.Join(vol.Notes, "\n"), "NTFS journal replayed (redone: UpdateResidentValue") {
		t.Errorf("notes do not say what was replayed: %q", vol.Notes)
	}
	if len(logged) != 1 || logged[0] != vol {
		t.Errorf("logged %d records", len(logged))
	}
	mustVerify(t, img, v.name, "--expect", "fixed", "--allow-journal-change")
	if out, ok := ntfsrecoverDryRun(t, img, v); ok {
		if !strings.Contains(out, "Volume is clean, nothing to do") {
			t.Errorf("ntfsrecover -n after the replay: %s", out)
		}
		t.Logf("ntfsrecover -n after the replay: %s", strings.TrimSpace(out))
	}
	again := volumeOf(t, fix(t, img, o), v)
	if again.Status != StatusAlreadyClean || again.Journal.State != "clean" || again.Journal.Replayed != nil {
		t.Errorf("second fix: %s journal %+v (%s)", again.Status, again.Journal, again.Error)
	}

	j, err := undo.ReadFile(vol.JournalFile)
	if err != nil {
		t.Fatal(err)
	}
	if !j.Complete {
		t.Fatal("undo journal incomplete")
	}
	restore(t, img, j)
	if fileSHA256(t, img) != before {
		t.Fatal("undo did not give back the pre-replay image")
	}
}

// TestUncleanReplayUnsupported: a committed operation the replay does not
// redo makes the default policy (replay, falling back to refuse) refuse
// (exit 4) naming it and its LSN, with nothing written and no undo
// journal.
func TestUncleanReplayUnsupported(t *testing.T) {
	v, img := uncleanCorpusDisk(t, unsupportedLog)
	before := fileSHA256(t, img)
	o, _ := fixOpts(t, v)
	vols := fix(t, img, o)
	vol := volumeOf(t, vols, v)
	if vol.Status != StatusRefused || ExitCode(vols, false) != 4 {
		t.Fatalf("status %s exit %d (%s)", vol.Status, ExitCode(vols, false), vol.Error)
	}
	if !strings.Contains(vol.Error, "DeleteDirtyClusters") || !strings.Contains(vol.Error, "log record 0x") {
		t.Errorf("error does not name the operation and its LSN: %s", vol.Error)
	}
	if vol.JournalFile != "" {
		t.Errorf("an undo journal was written: %s", vol.JournalFile)
	}
	if fileSHA256(t, img) != before {
		t.Fatal("a refused volume was written")
	}
}

// TestDefaultReplayBitLocker: the BitLocker corpus disk, its OS volume's
// $LogFile replaced by an unclean version 2.0 journal holding a committed
// real change (ntfs TestReplayFixtureWriteBitLocker), is fixed with the
// default options: replay, then delete, in one undo journal. Witnesses:
// ntfsrecover -n on dislocker's decryption (a transaction to replay
// before, nothing after) and the corpus verify script (dislocker, ntfs-3g,
// sleuthkit, libfsntfs).
func TestDefaultReplayBitLocker(t *testing.T) {
	v := oneVariant(t, "win10-xts128-recoverypw")
	img := testcorpus.Disk(t, v.name)
	typed, secrets := typedKeys(t, v)
	if err := remedytest.InstallLogFile(img, v.osPartition(), bitLockerReplayLog, typed[0].Key); err != nil {
		t.Fatal(err)
	}
	if out, ok := ntfsrecoverDryRun(t, img, v); ok && !strings.Contains(out, "Marking transaction 0x18") {
		t.Fatalf("ntfsrecover -n finds no journal to replay: %s", out)
	}
	before := fileSHA256(t, img)
	o, _ := fixOpts(t, v)
	vols := fix(t, img, o)
	vol := volumeOf(t, vols, v)
	if vol.Status != StatusRemediated || ExitCode(vols, false) != 0 {
		t.Fatalf("default policy: %s exit %d (%s)", vol.Status, ExitCode(vols, false), vol.Error)
	}
	if vol.Journal == nil || vol.Journal.State != "unclean" || vol.Journal.Replayed["UpdateResidentValue"] == 0 || vol.FleetRecord(&o).JournalAction != "replayed" {
		t.Fatalf("journal report %+v", vol.Journal)
	}
	if strings.Trim(vol.Label, "J") != "" {
		t.Errorf("label after the replay %q, want the journal's all-J label", vol.Label)
	}
	leakCheck(t, secrets, vols)
	mustVerify(t, img, v.name, "--expect", "fixed", "--allow-journal-change")
	if out, ok := ntfsrecoverDryRun(t, img, v); ok && !strings.Contains(out, "Volume is clean, nothing to do") {
		t.Errorf("ntfsrecover -n after the replay: %s", out)
	}
	j, err := undo.ReadFile(vol.JournalFile)
	if err != nil {
		t.Fatal(err)
	}
	restore(t, img, j)
	if fileSHA256(t, img) != before {
		t.Fatal("undo did not give back the pre-replay image")
	}
}

// TestUncleanReplayTooLarge: a journal whose restart pages give a size
// above logfile.MaxLogFileSize (1 GiB here, claimed by the header of the
// replayable journal; nothing that big exists or is read) is not replayed:
// the volume is refused (exit 4), the error naming the size, the limit and
// what to do; nothing is written, no undo journal.
func TestUncleanReplayTooLarge(t *testing.T) {
	raw, err := os.ReadFile(replayableLog)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	log, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	for _, off := range []int{0, 4096} {
		pg := log[off:]
		ra := int(binary.LittleEndian.Uint16(pg[0x18:]))
		binary.LittleEndian.PutUint32(pg[ra+0x10:], uint32(67-bits.Len64(1<<30)))
		binary.LittleEndian.PutUint64(pg[ra+0x18:], 1<<30)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(log)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(t.TempDir(), "claims-1gib.logfile.gz")
	if err := os.WriteFile(big, gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	v := oneVariant(t, "win10-plain-ntfs")
	img := testcorpus.Disk(t, v.name)
	if err := remedytest.InstallLogFile(img, v.osPartition(), big); err != nil {
		t.Fatal(err)
	}
	before := fileSHA256(t, img)
	o, _ := fixOpts(t, v)
	vols := fix(t, img, o)
	vol := volumeOf(t, vols, v)
	if vol.Status != StatusRefused || ExitCode(vols, false) != 4 {
		t.Fatalf("status %s exit %d (%s)", vol.Status, ExitCode(vols, false), vol.Error)
	}
	for _, s := range []string{"1024 MiB (1073741824 bytes)", "256 MiB", "MaxLogFileSize", "chkdsk /f", "--unclean-fallback=reset"} {
		if !strings.Contains(vol.Error, s) {
			t.Errorf("error does not say %q: %s", s, vol.Error)
		}
	}
	if vol.JournalFile != "" {
		t.Errorf("an undo journal was written: %s", vol.JournalFile)
	}
	if fileSHA256(t, img) != before {
		t.Fatal("a refused volume was written")
	}
}
