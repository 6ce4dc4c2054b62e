package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/unbrick/unbrick/internal/remedy/remedytest"
	"github.com/unbrick/unbrick/internal/testcorpus"
)

// The unclean-journal choice: a copy of the plain Windows corpus disk
// whose $LogFile holds an unclean v1.1 restart area (a client still in
// use), as Windows leaves it after a crash. The helper is the engine
// tests' (internal/remedy/remedytest).

const uncleanVariant = "win10-plain-ntfs"

func uncleanDisk(t *testing.T) string {
	t.Helper()
	img := testcorpus.Disk(t, uncleanVariant)
	m := testcorpus.LoadManifest(t)
	part := int(m.Variant(t, uncleanVariant)["os_partition_index"].(float64))
	if err := remedytest.MakeUncleanJournal(img, part); err != nil {
		t.Fatal(err)
	}
	return img
}

// requireNoJournal fails when an undo journal was written under dir.
func requireNoJournal(t *testing.T, dir string) {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(dir, "logs", "journal", "*.journal"))
	if len(matches) != 0 {
		t.Fatalf("undo journals written for a refused volume: %v", matches)
	}
}

func TestWizardAccessibleUncleanJournal(t *testing.T) {
	t.Run("refuse", func(t *testing.T) {
		img := uncleanDisk(t)
		before := sha256File(t, img)
		dir := t.TempDir()
		// welcome, volumes, journal choice 1 (leave), preview (refused), result.
		s, code := runAccessible(t, dir, "\n\n1\n\n\n", "--log", "logs", img)
		if code != 4 {
			t.Fatalf("exit %d, want 4 (refused):\n%s", code, s)
		}
		for _, want := range []string{"journal: unclean", "Windows did not shut down cleanly", "but it cannot here", "Reset the journal, as Linux's ntfsfix does",
			"You chose: Leave the volume unchanged (refused)", "Preview: this volume will NOT be changed",
			"You chose to leave the unclean journal alone", "REFUSED"} {
			if !strings.Contains(s, want) {
				t.Fatalf("transcript lacks %q:\n%s", want, s)
			}
		}
		if strings.Contains(s, "Delete 1 file(s) now?") {
			t.Fatalf("asked to delete after the journal was left alone:\n%s", s)
		}
		if got := sha256File(t, img); got != before {
			t.Fatal("the image changed although the unclean journal was left alone")
		}
		requireNoJournal(t, dir)
		requireRecord(t, filepath.Join(dir, "logs"), transcriptCode(t, s), "refused")
	})
	t.Run("reset", func(t *testing.T) {
		img := uncleanDisk(t)
		dir := t.TempDir()
		// welcome, volumes, journal choice 2 (reset), preview, confirm, result.
		s, code := runAccessible(t, dir, "\n\n2\n\ny\n\n", "--log", "logs", img)
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, s)
		}
		for _, want := range []string{"You chose: Reset the journal and fix", "Preview: 1 file(s) to delete", "REMEDIATED"} {
			if !strings.Contains(s, want) {
				t.Fatalf("transcript lacks %q:\n%s", want, s)
			}
		}
		requireRecord(t, filepath.Join(dir, "logs"), transcriptCode(t, s), "remediated")
		// The journal was emptied and Windows will check the disk: the
		// verifier must be told to allow both.
		verifyFixed(t, img, uncleanVariant, "--allow-dirty", "--allow-journal-change")
	})
}

// The full-screen explanation of the unclean journal; leaving it (the
// default) changes nothing.
func TestWizardTUIUncleanJournal(t *testing.T) {
	img := uncleanDisk(t)
	before := sha256File(t, img)
	dir := t.TempDir()
	w := startTmuxWizard(t, dir, "--log", "logs", img)
	w.next("Welcome")
	s := w.next("Disks and Windows volumes found")
	if !strings.Contains(s, "journal: unclean") {
		t.Fatalf("volumes screen does not show the unclean journal:\n%s", s)
	}
	s = w.waitFor("Windows did not shut down cleanly", 30*time.Second)
	for _, want := range []string{"still in its journal", "Reset the journal, as Linux's ntfsfix does", "disk check at the next start",
		"> Leave the volume unchanged (refused)", "Reset the journal and fix"} {
		if !strings.Contains(s, want) {
			t.Fatalf("explanation screen lacks %q:\n%s", want, s)
		}
	}
	w.keys("Enter")
	s = w.next("Preview: this volume will NOT be changed")
	if !strings.Contains(s, "You chose to leave the unclean journal alone") {
		t.Fatalf("preview does not say why:\n%s", s)
	}
	_, code := w.resultScreen("refused")
	w.keys("Enter")
	if c := w.exitCode(); c != 4 {
		t.Fatalf("exit code %d, want 4 (refused)", c)
	}
	requireRecord(t, filepath.Join(dir, "logs"), code, "refused")
	if sha256File(t, img) != before {
		t.Fatal("the image changed")
	}
}

// A BitLocker volume with a startup key and a password protector but no
// recovery password protector (the corpus's BEK volume, no BEK given):
// the choices are what the volume can take, not a recovery password.
func TestWizardAccessibleNoRecoveryPasswordProtector(t *testing.T) {
	const variant = "win10-xts128-bek-startupkey"
	img := testcorpus.Disk(t, variant)
	before := sha256File(t, img)
	dir := t.TempDir()
	// welcome, volumes, choice 3 (skip), preview (locked), result.
	s, code := runAccessible(t, dir, "\n\n3\n\n\n", "--log", "logs", img)
	if code != 3 {
		t.Fatalf("exit %d, want 3 (locked):\n%s", code, s)
	}
	for _, want := range []string{"NO recovery password protector", "B3411A58-", "startup key", "password",
		"1) Use a BEK key file", "2) Type the user password of the drive", "3) Skip this volume", "LOCKED"} {
		if !strings.Contains(s, want) {
			t.Fatalf("transcript lacks %q:\n%s", want, s)
		}
	}
	for _, bad := range []string{"recovery password (48 digits)", "key export", "4) "} {
		if strings.Contains(s, bad) {
			t.Fatalf("transcript offers %q, which this volume cannot take:\n%s", bad, s)
		}
	}
	if sha256File(t, img) != before {
		t.Fatal("the image changed")
	}
	requireRecord(t, filepath.Join(dir, "logs"), transcriptCode(t, s), "locked")
}

// The same volume full-screen: the unlock screen lists only the BEK file,
// the password and skip.
func TestWizardTUINoRecoveryPasswordProtector(t *testing.T) {
	img := testcorpus.Disk(t, "win10-xts128-bek-startupkey")
	dir := t.TempDir()
	w := startTmuxWizard(t, dir, "--log", "logs", img)
	w.next("Welcome")
	w.next("Disks and Windows volumes found")
	s := w.waitFor("How do you want to unlock", 30*time.Second)
	for _, want := range []string{"NO recovery password protector", "B3411A58-3400-420A-8B7E-9B5F706425C0  startup key",
		"> Use a BEK key file", "Type the user password of the drive", "Skip this volume"} {
		if !strings.Contains(s, want) {
			t.Fatalf("unlock screen lacks %q:\n%s", want, s)
		}
	}
	for _, bad := range []string{"Type the recovery password", "key export"} {
		if strings.Contains(s, bad) {
			t.Fatalf("unlock screen offers %q, which this volume cannot take:\n%s", bad, s)
		}
	}
	w.keys("Down", "Down")
	w.waitFor("> Skip this volume", 5*time.Second)
	w.keys("Enter")
	w.next("Preview: locked, will NOT be changed")
	_, code := w.resultScreen("locked")
	w.keys("Enter")
	if c := w.exitCode(); c != 3 {
		t.Fatalf("exit code %d, want 3 (locked)", c)
	}
	requireRecord(t, filepath.Join(dir, "logs"), code, "locked")
}

// A journal unbrick can replay (a committed volume-label change, encoded
// as the log records Windows writes): the wizard does not ask, it says
// in the preview and the result what it finishes first, and the fixed
// disk passes the corpus verifier.
func TestWizardAccessibleReplayedJournal(t *testing.T) {
	img, _ := replayDisk(t, cliReplayableLog)
	dir := t.TempDir()
	// welcome, volumes, preview, confirm, result.
	s, code := runAccessible(t, dir, "\n\n\ny\n\n", "--log", "logs", img)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, s)
	}
	for _, want := range []string{"journal: unclean", "unbrick finishes them first",
		"committed but not yet", "They are finished first, exactly as Windows would", "journal replay: UpdateResidentValue",
		"They were finished first", "REMEDIATED"} {
		if !strings.Contains(s, want) {
			t.Fatalf("transcript lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "Windows did not shut down cleanly") {
		t.Fatalf("asked about a journal unbrick can replay:\n%s", s)
	}
	recs := readRecords(t, filepath.Join(dir, "logs"))
	if last := recs[len(recs)-1]; last.JournalAction != "replayed" || last.JournalReplayed["UpdateResidentValue"] == 0 {
		t.Errorf("fleet record journal_action %q, journal_replayed %v", last.JournalAction, last.JournalReplayed)
	}
	verifyFixed(t, img, uncleanVariant, "--allow-journal-change")
}
