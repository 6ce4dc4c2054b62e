package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/unbrick/unbrick/internal/remedy/remedytest"
	"github.com/unbrick/unbrick/internal/testcorpus"
)

// $LogFile images for the win10-plain-ntfs OS volume, made by the ntfs
// package's TestReplayCorpusFixtureWrite: a committed ntfslabel change
// (label all J), and the same plus a committed DeleteDirtyClusters record
// (an operation the replay does not redo).
var (
	cliReplayableLog  = filepath.Join("..", "..", "ntfs", "testdata", "journal", "win10-plain-label.logfile.gz")
	cliUnsupportedLog = filepath.Join("..", "..", "ntfs", "testdata", "journal", "win10-plain-unsupported.logfile.gz")
)

// replayDisk copies the plain corpus disk and installs gz as its OS
// volume's journal.
func replayDisk(t *testing.T, gz string) (img string, part int) {
	t.Helper()
	img = testcorpus.Disk(t, uncleanVariant)
	m := testcorpus.LoadManifest(t)
	part = int(m.Variant(t, uncleanVariant)["os_partition_index"].(float64))
	if err := remedytest.InstallLogFile(img, part, gz); err != nil {
		t.Fatal(err)
	}
	return img, part
}

// corpusVerifyFixed runs ../shared/corpus/verify --expect fixed
// --allow-journal-change (dislocker, ntfs-3g, sleuthkit, libfsntfs: none of
// them our code).
func corpusVerifyFixed(t *testing.T, img string) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("CI: verify needs root")
		}
		t.Skip("verify needs root")
	}
	out, err := exec.Command(testcorpus.Path(t, "verify"), img, uncleanVariant, "--expect", "fixed", "--allow-journal-change").CombinedOutput()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if err != nil || !strings.HasPrefix(lines[len(lines)-1], "verify: PASS") {
		t.Fatalf("verify: %v\n%s", err, out)
	}
}

// TestCLIFixUncleanReplay: fix --unclean=replay replays a committed
// journal, deletes, passes the corpus verifier, and undo gives back the
// pre-replay image byte for byte. Without the flag (default refuse) the
// same disk is refused untouched.
func TestCLIFixUncleanReplay(t *testing.T) {
	img, _ := replayDisk(t, cliReplayableLog)
	before := sha256File(t, img)
	dir := t.TempDir()
	logDir := filepath.Join(dir, "logs")

	code, out, errs := runCLI(t, "fix", "--log", logDir, img)
	if code != 4 || sha256File(t, img) != before {
		t.Fatalf("default policy: exit %d, image changed %v\n%s\n%s", code, sha256File(t, img) != before, out, errs)
	}
	code, out, errs = runCLI(t, "fix", "--unclean=replay", "--log", logDir, img)
	if code != 0 || !strings.Contains(out, "status:        remediated") || !strings.Contains(out, "NTFS journal replayed (redone: UpdateResidentValue") {
		t.Fatalf("fix --unclean=replay: exit %d\n%s\n%s", code, out, errs)
	}
	corpusVerifyFixed(t, img)
	recs := readRecords(t, logDir)
	last := recs[len(recs)-1]
	if last.JournalFile == "" {
		t.Fatalf("record %+v has no undo journal", last)
	}
	code, out, errs = runCLI(t, "undo", "--journal", last.JournalFile, img)
	if code != 0 || sha256File(t, img) != before {
		t.Fatalf("undo: exit %d, identical %v\n%s\n%s", code, sha256File(t, img) == before, out, errs)
	}
}

// TestCLIFixUncleanReplayUnsupported: an operation the replay cannot redo
// is exit 4, named with its LSN, and nothing is written.
func TestCLIFixUncleanReplayUnsupported(t *testing.T) {
	img, _ := replayDisk(t, cliUnsupportedLog)
	before := sha256File(t, img)
	dir := t.TempDir()
	code, out, errs := runCLI(t, "fix", "--unclean=replay", "--log", filepath.Join(dir, "logs"), img)
	if code != 4 || !strings.Contains(out+errs, "DeleteDirtyClusters (log record 0x") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	if sha256File(t, img) != before {
		t.Fatal("a refused replay changed the image")
	}
	requireNoJournal(t, dir)
}
