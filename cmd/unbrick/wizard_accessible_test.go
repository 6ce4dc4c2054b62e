package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/unbrick/unbrick/internal/testcorpus"
)

// runAccessible runs the real binary in accessible mode with answers on
// standard input, saves the transcript as an artifact and returns it with
// the exit code.
func runAccessible(t *testing.T, dir, answers string, args ...string) (string, int) {
	t.Helper()
	bin := buildWizardBinary(t)
	cmd := exec.Command(bin, append([]string{"wizard", "--accessible"}, args...)...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "TERM=dumb"}
	cmd.Stdin = strings.NewReader(answers)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(90 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("wizard did not end; transcript:\n%s", out.String())
	}
	art := artifactsDir(t)
	os.WriteFile(filepath.Join(art, "transcript.txt"), out.Bytes(), 0o644)
	if strings.ContainsRune(out.String(), 0x1b) {
		t.Fatalf("accessible transcript contains escape sequences:\n%q", out.String())
	}
	for _, r := range out.String() {
		if r >= 0x80 {
			t.Fatalf("accessible transcript contains non-ASCII %q", r)
		}
	}
	return out.String(), cmd.ProcessState.ExitCode()
}

var lineCodeRE = regexp.MustCompile(`Confirmation code:\s+([0-9A-Z]{8})`)

func transcriptCode(t *testing.T, s string) string {
	t.Helper()
	m := lineCodeRE.FindAllStringSubmatch(s, -1)
	if len(m) != 1 {
		t.Fatalf("want one confirmation code in the transcript, found %d:\n%s", len(m), s)
	}
	return m[0][1]
}

func TestWizardAccessibleKeyFileMatch(t *testing.T) {
	img := testcorpus.Disk(t, "win10-xts128-recoverypw")
	dir := t.TempDir()
	kf := writeKeyCSV(t, dir)
	// welcome, volumes, preview, confirm (y), result.
	s, code := runAccessible(t, dir, "\n\n\ny\n\n", "--keys", kf, "--log", "logs", img)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, s)
	}
	for _, want := range []string{"unlocked (recovery password)", "Will be DELETED (1)", "REMEDIATED", "Remove the stick and restart"} {
		if !strings.Contains(s, want) {
			t.Fatalf("transcript lacks %q:\n%s", want, s)
		}
	}
	requireRecord(t, filepath.Join(dir, "logs"), transcriptCode(t, s), "remediated")
	verifyFixed(t, img, "win10-xts128-recoverypw")
}

func TestWizardAccessibleTypedWithTypo(t *testing.T) {
	img := testcorpus.Disk(t, "win10-xts128-recoverypw")
	dir := t.TempDir()
	typo := strings.TrimSuffix(wizardRecoveryPassword, "199408") + "199409"
	answers := "\n\n1\n" + typo + "\n" + strings.ReplaceAll(wizardRecoveryPassword, "-", " ") + "\n\ny\n\n"
	s, code := runAccessible(t, dir, answers, "--log", "logs", img)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, s)
	}
	for _, want := range []string{"Enter the recovery password for key ID 3C116B76", "Error: group 8 fails its checksum", "REMEDIATED"} {
		if !strings.Contains(s, want) {
			t.Fatalf("transcript lacks %q:\n%s", want, s)
		}
	}
	// The line UI never echoes what it reads (stdin is a pipe here): the
	// digits must not be printed back, not even in an error.
	if strings.Contains(s, "199408") || strings.Contains(s, "199409") {
		t.Fatalf("the transcript repeats the recovery password:\n%s", s)
	}
	requireRecord(t, filepath.Join(dir, "logs"), transcriptCode(t, s), "remediated")
	verifyFixed(t, img, "win10-xts128-recoverypw")
}

func TestWizardAccessibleWrongThreeTimes(t *testing.T) {
	img := testcorpus.Disk(t, "win10-xts128-recoverypw")
	dir := t.TempDir()
	wrong := "000011-000022-000033-000044-000055-000066-000077-000088"
	answers := "\n\n" + strings.Repeat("1\n"+wrong+"\n", 3) + "y\n\n\n"
	s, code := runAccessible(t, dir, answers, "--log", "logs", img)
	if code != 3 {
		t.Fatalf("exit %d, want 3:\n%s", code, s)
	}
	for _, want := range []string{"wrong key 1 of 3", "wrong key 2 of 3", "3 wrong keys for this volume", "LOCKED"} {
		if !strings.Contains(s, want) {
			t.Fatalf("transcript lacks %q:\n%s", want, s)
		}
	}
	requireRecord(t, filepath.Join(dir, "logs"), transcriptCode(t, s), "locked")
}

func TestWizardAccessibleAlreadyClean(t *testing.T) {
	img := testcorpus.Disk(t, "win10-xts128-good-only")
	dir := t.TempDir()
	s, code := runAccessible(t, dir, "\n\n\n\n", "--recovery-password", wizardRecoveryPassword, "--log", "logs", img)
	if code != 0 || !strings.Contains(s, "ALREADY-CLEAN") {
		t.Fatalf("exit %d:\n%s", code, s)
	}
	requireRecord(t, filepath.Join(dir, "logs"), transcriptCode(t, s), "already-clean")
	verifyFixed(t, img, "win10-xts128-good-only")
}

func TestWizardAccessibleNoWindows(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "blank.img")
	os.WriteFile(img, make([]byte, 4<<20), 0o644)
	s, code := runAccessible(t, dir, "\n\n", "--log", "logs", img)
	if !strings.Contains(s, "No Windows found") || code != 5 {
		t.Fatalf("exit %d, want 5; transcript:\n%s", code, s)
	}
	requireRecord(t, filepath.Join(dir, "logs"), transcriptCode(t, s), "no-windows")
}

func TestWizardAccessibleRefused(t *testing.T) {
	dir := t.TempDir()
	img := shortDemoDisk(t, dir)
	// welcome, volumes, preview (refused: nothing to confirm), result.
	s, code := runAccessible(t, dir, "\n\n\n\n", "--log", "logs", img)
	if code != 4 || !strings.Contains(s, "REFUSED") || !strings.Contains(s, "Preview: this volume will NOT be changed") {
		t.Fatalf("exit %d, want 4:\n%s", code, s)
	}
	requireRecord(t, filepath.Join(dir, "logs"), transcriptCode(t, s), "refused")
}

// Declining the confirmation writes nothing: the image is unchanged.
func TestWizardAccessibleDeclined(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "demo.img")
	gunzipTo(t, "../../testdata/demo-disk.img.gz", img)
	before, _ := os.ReadFile(img)
	s, code := runAccessible(t, dir, "\n\n\nn\n\n", "--log", "logs", img)
	if code != 0 || !strings.Contains(s, "Nothing was changed") {
		t.Fatalf("exit %d:\n%s", code, s)
	}
	after, _ := os.ReadFile(img)
	if !bytes.Equal(before, after) {
		t.Fatal("the image changed although the fix was declined")
	}
}

// End of input before the confirmation: nothing is written, exit 1.
func TestWizardAccessibleEOF(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "demo.img")
	gunzipTo(t, "../../testdata/demo-disk.img.gz", img)
	before, _ := os.ReadFile(img)
	s, code := runAccessible(t, dir, "\n\n", "--log", "logs", img)
	if code != 1 || !strings.Contains(s, "nothing was written") {
		t.Fatalf("exit %d:\n%s", code, s)
	}
	after, _ := os.ReadFile(img)
	if !bytes.Equal(before, after) {
		t.Fatal("the image changed")
	}
}

// Two Windows installations (two disks): both are previewed, fixed and
// logged, each with its own code.
func TestWizardAccessibleSeveralWindows(t *testing.T) {
	plain := testcorpus.Disk(t, "win10-plain-ntfs")
	dir := t.TempDir()
	demo := filepath.Join(dir, "demo.img")
	gunzipTo(t, "../../testdata/demo-disk.img.gz", demo)
	// welcome, volumes, preview x2, choice 2 (all), result x2.
	s, code := runAccessible(t, dir, "\n\n\n\n2\n\n\n", "--log", "logs", demo, plain)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, s)
	}
	if !strings.Contains(s, "2 Windows installations were found") || !strings.Contains(s, "Delete 2 file(s) now?") {
		t.Fatalf("transcript:\n%s", s)
	}
	m := lineCodeRE.FindAllStringSubmatch(s, -1)
	if len(m) != 2 || m[0][1] == m[1][1] {
		t.Fatalf("want two different codes, got %v", m)
	}
	for _, c := range m {
		requireRecord(t, filepath.Join(dir, "logs"), c[1], "remediated")
	}
	verifyFixed(t, plain, "win10-plain-ntfs")
}

// Several Windows installations, one chosen: only that one is fixed and
// logged; the other disk is byte-identical.
func TestWizardAccessibleSeveralWindowsChooseOne(t *testing.T) {
	plain := testcorpus.Disk(t, "win10-plain-ntfs")
	dir := t.TempDir()
	demo := filepath.Join(dir, "demo.img")
	gunzipTo(t, "../../testdata/demo-disk.img.gz", demo)
	demoBefore := sha256File(t, demo)
	// welcome, volumes, preview x2, choice 4 (only the second disk), result.
	s, code := runAccessible(t, dir, "\n\n\n\n4\n\n", "--log", "logs", demo, plain)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, s)
	}
	if !strings.Contains(s, "1) No, change nothing") || !strings.Contains(s, "You chose: Only on Windows of W10-PLAIN") {
		t.Fatalf("transcript:\n%s", s)
	}
	requireRecord(t, filepath.Join(dir, "logs"), transcriptCode(t, s), "remediated")
	if n := len(logRecords(t, filepath.Join(dir, "logs"))); n != 1 {
		t.Fatalf("%d fleet log records, want 1 (the chosen volume)", n)
	}
	if sha256File(t, demo) != demoBefore {
		t.Fatal("the volume not chosen was written")
	}
	verifyFixed(t, plain, "win10-plain-ntfs")
}

// A LOGS partition too full for the record and journal: the wizard stops
// before touching the disk.
func TestWizardAccessibleLogsFull(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "LOGS")
	os.Mkdir(logs, 0o755)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", logs).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs (needs root): %v %s", err, out)
	}
	defer exec.Command("umount", logs).Run()
	img := filepath.Join(dir, "demo.img")
	gunzipTo(t, "../../testdata/demo-disk.img.gz", img)
	before, _ := os.ReadFile(img)
	// welcome, then "Quit" on the stick screen, then "Nothing was done".
	s, code := runAccessible(t, dir, "\nn\n\n", "--log", logs, img)
	if code != 4 || !strings.Contains(s, "The stick cannot store the log") || !strings.Contains(s, "no space left") {
		t.Fatalf("exit %d:\n%s", code, s)
	}
	after, _ := os.ReadFile(img)
	if !bytes.Equal(before, after) {
		t.Fatal("the image changed")
	}
}

// The other key choices: a BEK file from another stick, the user password,
// and a key export named in the wizard.
func TestWizardAccessibleOtherKeys(t *testing.T) {
	cases := []struct {
		variant string
		answers func(dir string) string
		source  string
	}{
		{"win10-xts128-bek-startupkey", func(string) string {
			// Choices: BEK file, password, skip (no recovery password protector).
			return "1\n" + testcorpus.Path(t, "src/startup_key.bek") + "\n"
		}, "BEK file"},
		{"win7-cbc128-diffuser-password", func(string) string { return "1\npassword12!@\n" }, "typed in the wizard (password)"},
		{"win10-xts128-recoverypw", func(dir string) string {
			return "2\n" + filepath.Join(dir, "missing.csv") + "\n" + writeKeyCSV(t, dir) + "\n"
		}, "keys.csv"},
	}
	for _, c := range cases {
		t.Run(c.variant, func(t *testing.T) {
			img := testcorpus.Disk(t, c.variant)
			dir := t.TempDir()
			s, code := runAccessible(t, dir, "\n\n"+c.answers(dir)+"\ny\n\n", "--log", "logs", img)
			if code != 0 || !strings.Contains(s, "REMEDIATED") {
				t.Fatalf("exit %d:\n%s", code, s)
			}
			// The whole secret: the temporary directory's name ends in
			// "password" and random digits, which may start with 12.
			if strings.Contains(s, "password12!@") {
				t.Fatal("the transcript shows the password")
			}
			r := requireRecord(t, filepath.Join(dir, "logs"), transcriptCode(t, s), "remediated")
			if ks, _ := r["key_source"].(string); !strings.Contains(ks, c.source) {
				t.Fatalf("key_source %q, want %q", ks, c.source)
			}
			raw, _ := os.ReadFile(filepath.Join(dir, "logs", "unbrick.jsonl"))
			if strings.Contains(string(raw), "password12!@") {
				t.Fatal("the fleet log holds the password")
			}
			verifyFixed(t, img, c.variant)
		})
	}
}
