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

// corpusVerifyFixed runs the test corpus's verify program --expect fixed
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

// TestCLIFixUncleanReplay: fix with its default policy (replay) replays a
// committed journal, deletes, passes the corpus verifier, and undo gives
// back the pre-replay image byte for byte. With --unclean=refuse the same
// disk is refused untouched.
func TestCLIFixUncleanReplay(t *testing.T) {
	img, _ := replayDisk(t, cliReplayableLog)
	before := sha256File(t, img)
	dir := t.TempDir()
	logDir := filepath.Join(dir, "logs")

	code, out, errs := runCLI(t, "fix", "--unclean=refuse", "--log", logDir, img)
	if code != 4 || sha256File(t, img) != before {
		t.Fatalf("--unclean=refuse: exit %d, image changed %v\n%s\n%s", code, sha256File(t, img) != before, out, errs)
	}
	code, out, errs = runCLI(t, "fix", "--log", logDir, img)
	if code != 0 || !strings.Contains(out, "status:        remediated") || !strings.Contains(out, "NTFS journal replayed (redone: UpdateResidentValue") {
		t.Fatalf("fix --unclean=replay: exit %d\n%s\n%s", code, out, errs)
	}
	corpusVerifyFixed(t, img)
	recs := readRecords(t, logDir)
	last := recs[len(recs)-1]
	if last.JournalFile == "" {
		t.Fatalf("record %+v has no undo journal", last)
	}
	if last.JournalAction != "replayed" || last.JournalReplayed["UpdateResidentValue"] == 0 {
		t.Errorf("fleet record journal_action %q, journal_replayed %v", last.JournalAction, last.JournalReplayed)
	}
	code, out, errs = runCLI(t, "undo", "--journal", last.JournalFile, "--log", filepath.Join(t.TempDir(), "undo-logs"), img)
	if code != 0 || sha256File(t, img) != before {
		t.Fatalf("undo: exit %d, identical %v\n%s\n%s", code, sha256File(t, img) == before, out, errs)
	}
}

// TestCLIFixUncleanReplayUnsupported: an operation the replay cannot redo
// is exit 4, named with its LSN, and nothing is written; with
// --unclean-fallback=reset the journal is emptied instead and the volume
// fixed, the record saying so.
func TestCLIFixUncleanReplayUnsupported(t *testing.T) {
	img, _ := replayDisk(t, cliUnsupportedLog)
	before := sha256File(t, img)
	dir := t.TempDir()
	code, out, errs := runCLI(t, "fix", "--log", filepath.Join(dir, "logs"), img)
	if code != 4 || !strings.Contains(out+errs, "DeleteDirtyClusters (log record 0x") || !strings.Contains(out+errs, "--unclean-fallback=reset") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	if sha256File(t, img) != before {
		t.Fatal("a refused replay changed the image")
	}
	requireNoJournal(t, dir)

	logDir := filepath.Join(dir, "logs2")
	code, out, errs = runCLI(t, "fix", "--unclean-fallback=reset", "--log", logDir, img)
	if code != 0 || !strings.Contains(out, "status:        remediated") {
		t.Fatalf("--unclean-fallback=reset: exit %d\n%s\n%s", code, out, errs)
	}
	recs := readRecords(t, logDir)
	if last := recs[len(recs)-1]; last.JournalAction != "reset" || len(last.JournalReplayed) != 0 {
		t.Errorf("fleet record journal_action %q, journal_replayed %v", last.JournalAction, last.JournalReplayed)
	}
	if code, _, errs := runCLI(t, "fix", "--unclean-fallback=replay", "--log", logDir, img); code != 2 || !strings.Contains(errs, "--unclean-fallback") {
		t.Errorf("--unclean-fallback=replay: exit %d, %s", code, errs)
	}
}

// TestCLIScanUncleanJournal: scan (read-only) says what fix would do with
// an unclean journal: replay it (counted by operation), or not, naming the
// operation it cannot redo. It writes nothing and exits 0.
func TestCLIScanUncleanJournal(t *testing.T) {
	for _, tc := range []struct {
		log, want, action string
	}{
		{cliReplayableLog, "fix would replay the NTFS journal first", "would-replay"},
		{cliUnsupportedLog, "not replayable: journal replay: cannot redo DeleteDirtyClusters", "would-refuse"},
	} {
		img, _ := replayDisk(t, tc.log)
		before := sha256File(t, img)
		code, out, errs := runCLI(t, "scan", img)
		if code != 0 || !strings.Contains(out, tc.want) || sha256File(t, img) != before {
			t.Fatalf("scan %s: exit %d, image changed %v, want %q\n%s\n%s", filepath.Base(tc.log), code, sha256File(t, img) != before, tc.want, out, errs)
		}
		code, out, _ = runCLI(t, "scan", "--json", img)
		if code != 0 || strings.Contains(out, `"replay_impossible"`) != (tc.action == "would-refuse") {
			t.Errorf("scan --json %s: exit %d\n%s", filepath.Base(tc.log), code, out)
		}
	}
}
