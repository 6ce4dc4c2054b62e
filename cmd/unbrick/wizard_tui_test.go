package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/unbrick/unbrick/internal/testcorpus"
)

// confirmYes moves from "No, change nothing" (the default) to "Yes" and
// presses Enter on the confirmation screen.
func (w *tmuxWizard) confirmYes() {
	w.t.Helper()
	w.waitFor("Yes, delete them", 30*time.Second)
	w.keys("Down")
	w.waitFor("> Yes, delete them", 5*time.Second)
	w.keys("Enter")
}

// resultScreen waits for the result screen and returns it and its code.
func (w *tmuxWizard) resultScreen(status string) (string, string) {
	w.t.Helper()
	s := w.waitFor("Remove the stick and restart", 60*time.Second)
	if !strings.Contains(s, "Result:") || !strings.Contains(s, strings.ToUpper(status)) {
		w.t.Fatalf("result screen does not show %s:\n%s", strings.ToUpper(status), s)
	}
	return s, screenCode(w.t, s)
}

func TestWizardTUIKeyFileMatch(t *testing.T) {
	img := testcorpus.Disk(t, "win10-xts128-recoverypw")
	dir := t.TempDir()
	kf := writeKeyCSV(t, dir)
	w := startTmuxWizard(t, dir, "--keys", kf, "--log", "logs", img)
	s := w.next("Welcome: unbrick help-desk wizard")
	if !strings.Contains(s, "Machine:") {
		t.Fatalf("welcome screen lacks the machine line:\n%s", s)
	}
	s = w.next("Disks and Windows volumes found")
	for _, want := range []string{"computer name W10-XTS128-RP", "unlocked (recovery password)", "journal: clean", "faulty files: 1"} {
		if !strings.Contains(s, want) {
			t.Fatalf("volumes screen lacks %q:\n%s", want, s)
		}
	}
	s = w.next("Preview: 1 file(s) to delete")
	for _, want := range []string{"C-00000291-00000000-00000032.sys", "40.0 KiB", "2024-07-19 04:09:27 UTC", "why: faulty", "Everything else"} {
		if !strings.Contains(s, want) {
			t.Fatalf("preview lacks %q:\n%s", want, s)
		}
	}
	w.confirmYes()
	_, code := w.resultScreen("remediated")
	w.keys("Enter")
	if c := w.exitCode(); c != 0 {
		t.Fatalf("exit code %d, want 0", c)
	}
	r := requireRecord(t, filepath.Join(dir, "logs"), code, "remediated")
	if ks, _ := r["key_source"].(string); !strings.Contains(ks, "keys.csv") {
		t.Fatalf("record key_source %q does not name the key file", ks)
	}
	verifyFixed(t, img, "win10-xts128-recoverypw")
}

func TestWizardTUITypedWithTypo(t *testing.T) {
	img := testcorpus.Disk(t, "win10-xts128-recoverypw")
	dir := t.TempDir()
	w := startTmuxWizard(t, dir, "--log", "logs", img)
	w.next("Welcome")
	s := w.next("Disks and Windows volumes found")
	if !strings.Contains(s, "LOCKED") {
		t.Fatalf("volume not shown as locked:\n%s", s)
	}
	s = w.waitFor("How do you want to unlock", 30*time.Second)
	for _, want := range []string{"3C116B76-C67B-484E-B439-CE2ED68B561E", "####", "Type the recovery password"} {
		if !strings.Contains(s, want) {
			t.Fatalf("unlock screen lacks %q:\n%s", want, s)
		}
	}
	w.keys("Enter")
	w.waitFor("Enter the recovery password for key ID 3C116B76", 10*time.Second)
	// One typo in the last group: 199409 is not a multiple of 11.
	w.typeText(strings.TrimSuffix(wizardRecoveryPassword, "199408") + "199409")
	// Checked as typed: the live line names the group before Enter.
	w.waitFor("Check: group 8 fails its checksum", 10*time.Second)
	w.keys("Enter")
	s = w.waitFor("group 8", 10*time.Second)
	if strings.Contains(s, "Checking the key") {
		t.Fatal("a password failing its checksum was tried")
	}
	// Clear the field and type it again, the last group with F-keys
	// (F1..F9 = 1..9, F10 = 0) and the numeric keypad; the 4 before it
	// with F4 as the Linux console sends it (ESC [ [ D; tmux sends xterm's).
	w.keys("C-u")
	w.typeText(strings.TrimSuffix(wizardRecoveryPassword, "4-199408"))
	w.sendBytes([]byte("\x1b[[D"))
	w.typeText("-")
	w.keys("F1", "F9", "F9", "KP4", "F10")
	w.keys("F8")
	w.waitFor("215424-199408", 5*time.Second)
	w.keys("Enter")
	w.next("Preview: 1 file(s) to delete")
	w.confirmYes()
	_, code := w.resultScreen("remediated")
	w.keys("Enter")
	if c := w.exitCode(); c != 0 {
		t.Fatalf("exit code %d, want 0", c)
	}
	r := requireRecord(t, filepath.Join(dir, "logs"), code, "remediated")
	if r["recovery_key_id"] != "3C116B76-C67B-484E-B439-CE2ED68B561E" {
		t.Fatalf("record recovery_key_id = %v", r["recovery_key_id"])
	}
	verifyFixed(t, img, "win10-xts128-recoverypw")
}

func TestWizardTUIWrongThreeTimes(t *testing.T) {
	img := testcorpus.Disk(t, "win10-xts128-recoverypw")
	dir := t.TempDir()
	w := startTmuxWizard(t, dir, "--log", "logs", img)
	w.next("Welcome")
	w.next("Disks and Windows volumes found")
	// A well-formed (every group a multiple of 11) but wrong password.
	wrong := "000011-000022-000033-000044-000055-000066-000077-000088"
	for i := 1; i <= 3; i++ {
		w.next("How do you want to unlock")
		w.waitFor("Enter the recovery password", 10*time.Second)
		w.typeText(wrong)
		w.keys("Enter")
		if i < 3 {
			w.waitFor("wrong key "+string(rune('0'+i))+" of 3", 30*time.Second)
		}
	}
	s := w.waitFor("3 wrong keys for this volume", 30*time.Second)
	if !strings.Contains(s, "Skip this volume") {
		t.Fatalf("no offer to skip:\n%s", s)
	}
	w.keys("Down")
	w.waitFor("> Skip this volume", 5*time.Second)
	w.keys("Enter")
	w.next("Preview: locked, will NOT be changed")
	s, code := w.resultScreen("locked")
	if !strings.Contains(s, "3C116B76") {
		t.Fatalf("locked result does not name the key ID:\n%s", s)
	}
	w.keys("Enter")
	if c := w.exitCode(); c != 3 {
		t.Fatalf("exit code %d, want 3 (locked)", c)
	}
	requireRecord(t, filepath.Join(dir, "logs"), code, "locked")
	raw, _ := os.ReadFile(filepath.Join(dir, "logs", "unbrick.jsonl"))
	if strings.Contains(string(raw), "000011-000022") {
		t.Fatal("the fleet log holds the typed password")
	}
}

func TestWizardTUIAlreadyClean(t *testing.T) {
	img := testcorpus.Disk(t, "win10-xts128-good-only")
	dir := t.TempDir()
	w := startTmuxWizard(t, dir, "--recovery-password", wizardRecoveryPassword, "--log", "logs", img)
	w.next("Welcome")
	s := w.next("Disks and Windows volumes found")
	if !strings.Contains(s, "faulty files: 0") {
		t.Fatalf("volumes screen:\n%s", s)
	}
	s = w.next("Preview: already clean")
	if !strings.Contains(s, "C-00000291-00000000-00000033.sys") {
		t.Fatalf("the good file is not listed as staying:\n%s", s)
	}
	_, code := w.resultScreen("already-clean")
	w.keys("Enter")
	if c := w.exitCode(); c != 0 {
		t.Fatalf("exit code %d, want 0", c)
	}
	requireRecord(t, filepath.Join(dir, "logs"), code, "already-clean")
	verifyFixed(t, img, "win10-xts128-good-only")
}

func TestWizardTUINoWindows(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "blank.img")
	if err := os.WriteFile(img, make([]byte, 4<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	w := startTmuxWizard(t, dir, "--log", "logs", img)
	w.next("Welcome")
	s := w.next("No Windows found")
	if !strings.Contains(s, "Nothing was written") {
		t.Fatalf("no-Windows screen:\n%s", s)
	}
	if code := w.exitCode(); code != 5 {
		t.Errorf("exit %d, want 5 (needs review: no Windows found)", code)
	}
	// The host was looked at and nothing was fixed: the fleet log says so.
	data, err := os.ReadFile(filepath.Join(dir, "logs", "unbrick.jsonl"))
	if err != nil || !strings.Contains(string(data), `"status":"no-windows"`) {
		t.Fatalf("no no-windows record (%v):\n%s", err, data)
	}
}

// A disk image cut short inside the Windows volume: the engine refuses to
// write to a volume it cannot see whole.
func TestWizardTUIRefused(t *testing.T) {
	dir := t.TempDir()
	img := shortDemoDisk(t, dir)
	w := startTmuxWizard(t, dir, "--log", "logs", img)
	w.next("Welcome")
	w.next("Disks and Windows volumes found")
	// The engine's dry run already refuses: the preview says so and there
	// is nothing to confirm.
	s := w.next("Preview: this volume will NOT be changed")
	if !strings.Contains(s, "image ends before the volume") {
		t.Fatalf("refusal reason missing from the preview:\n%s", s)
	}
	s, code := w.resultScreen("refused")
	if !strings.Contains(s, "Nothing was written") || !strings.Contains(s, "ends") {
		t.Fatalf("refusal reason missing:\n%s", s)
	}
	w.keys("Enter")
	if c := w.exitCode(); c != 4 {
		t.Fatalf("exit code %d, want 4 (refused)", c)
	}
	requireRecord(t, filepath.Join(dir, "logs"), code, "refused")
}

func TestWizardTUIStickReadOnly(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "demo.img")
	gunzipTo(t, "../../testdata/demo-disk.img.gz", img)
	// A log directory below a regular file cannot be created, as on a
	// read-only stick.
	os.WriteFile(filepath.Join(dir, "LOGS"), []byte("x"), 0o444)
	w := startTmuxWizard(t, dir, "--log", "LOGS/unbrick", img)
	w.next("Welcome")
	s := w.waitFor("The stick cannot store the log", 30*time.Second)
	if !strings.Contains(s, "read-only") || !strings.Contains(s, "full") {
		t.Fatalf("stick screen does not explain:\n%s", s)
	}
	w.keys("Enter") // "Quit" is the default
	w.next("Nothing was done")
	if c := w.exitCode(); c != 4 {
		t.Fatalf("exit code %d, want 4", c)
	}
}
