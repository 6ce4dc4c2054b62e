package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/unbrick/unbrick/internal/testcorpus"
)

// The wizard tests drive the real unbrick binary: full-screen in tmux
// (send-keys / capture-pane, TERM=linux with no terminfo, as on the VGA
// console) and accessible mode through standard input. Every screen seen is
// saved under the artifacts directory ($UNBRICK_ARTIFACTS, else a test
// temporary directory), which the test log names.

const wizardRecoveryPassword = "284867-596541-514998-422114-660297-261613-215424-199408"

var (
	wizardBinOnce sync.Once
	wizardBin     string
	wizardBinErr  error
	// binDir holds the binary; TestMain creates it and removes it when
	// the tests are done, so that nothing is left in the temporary
	// directory.
	binDir string
)

// buildWizardBinary builds cmd/unbrick once per test process, into
// binDir, with the VCS stamp when the source is a git checkout.
func buildWizardBinary(t *testing.T) string {
	t.Helper()
	wizardBinOnce.Do(func() {
		wizardBin = filepath.Join(binDir, "unbrick")
		out, err := exec.Command("go", "build", "-buildvcs=auto", "-o", wizardBin, ".").CombinedOutput()
		if err != nil {
			wizardBinErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if wizardBinErr != nil {
		t.Fatal(wizardBinErr)
	}
	return wizardBin
}

// artifactsDir returns where this test's screen captures go.
func artifactsDir(t *testing.T) string {
	t.Helper()
	base := os.Getenv("UNBRICK_ARTIFACTS")
	var dir string
	if base != "" {
		dir = filepath.Join(base, strings.ReplaceAll(t.Name(), "/", "_"))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	} else {
		dir = t.TempDir()
	}
	t.Logf("screen captures: %s", dir)
	return dir
}

// tmuxWizard is a wizard running in a detached tmux session.
type tmuxWizard struct {
	t       *testing.T
	name    string
	art     string
	shots   int
	lastTxt string
}

func requireTmux(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("tmux is not installed; CI must provide it")
		}
		t.Skip("tmux not installed")
	}
}

// startTmuxWizard starts `unbrick wizard ARGS` in tmux, 100x45, TERM=linux
// and an empty terminfo directory, in dir.
func startTmuxWizard(t *testing.T, dir string, args ...string) *tmuxWizard {
	t.Helper()
	requireTmux(t)
	bin := buildWizardBinary(t)
	empty := t.TempDir()
	name := fmt.Sprintf("unbrick-wz-%d-%d", os.Getpid(), time.Now().UnixNano()%1e9)
	var q []string
	for _, a := range append([]string{bin, "wizard"}, args...) {
		q = append(q, "'"+strings.ReplaceAll(a, "'", `'\''`)+"'")
	}
	shell := fmt.Sprintf("cd '%s' && env -i PATH=/usr/bin:/bin TERM=linux TERMINFO_DIRS='%s' TERMINFO='%s' %s; echo WIZARD-EXIT=$?; sleep 600",
		dir, empty, empty, strings.Join(q, " "))
	cmd := exec.Command("tmux", "-L", name, "new-session", "-d", "-s", name, "-x", "100", "-y", "45", shell)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	w := &tmuxWizard{t: t, name: name, art: artifactsDir(t)}
	t.Cleanup(func() { exec.Command("tmux", "-L", name, "kill-server").Run() })
	return w
}

func (w *tmuxWizard) tmux(args ...string) string {
	w.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", w.name}, args...)...).CombinedOutput()
	if err != nil {
		w.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func (w *tmuxWizard) capture() string { return w.tmux("capture-pane", "-p", "-t", w.name) }

// waitFor polls the screen until it contains want (and, when set, none of
// the given stale texts), saves it as the next artifact and returns it.
func (w *tmuxWizard) waitFor(want string, timeout time.Duration) string {
	w.t.Helper()
	deadline := time.Now().Add(timeout)
	var s string
	for time.Now().Before(deadline) {
		s = w.capture()
		if strings.Contains(s, want) {
			w.shots++
			label := regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(want, "-")
			os.WriteFile(filepath.Join(w.art, fmt.Sprintf("%02d-%s.txt", w.shots, strings.Trim(label, "-"))), []byte(s), 0o644)
			w.lastTxt = s
			return s
		}
		time.Sleep(50 * time.Millisecond)
	}
	os.WriteFile(filepath.Join(w.art, "timeout.txt"), []byte(s), 0o644)
	w.t.Fatalf("screen never showed %q within %v; last screen:\n%s", want, timeout, s)
	return ""
}

// keys sends tmux key names (Enter, Down, F1, C-u...).
func (w *tmuxWizard) keys(k ...string) {
	w.t.Helper()
	w.tmux(append([]string{"send-keys", "-t", w.name}, k...)...)
}

// typeText types literal text.
func (w *tmuxWizard) typeText(s string) {
	w.t.Helper()
	w.tmux("send-keys", "-t", w.name, "-l", s)
}

// sendBytes writes raw bytes to the wizard's terminal, as a terminal whose
// key sequences tmux has no name for sends them.
func (w *tmuxWizard) sendBytes(b []byte) {
	w.t.Helper()
	args := []string{"send-keys", "-t", w.name, "-H"}
	for _, c := range b {
		args = append(args, fmt.Sprintf("%02x", c))
	}
	w.tmux(args...)
}

// next presses Enter on the screen showing want (waiting for it first).
func (w *tmuxWizard) next(want string) string {
	w.t.Helper()
	s := w.waitFor(want, 30*time.Second)
	w.keys("Enter")
	return s
}

// exitCode waits for the wizard to end and returns its exit code.
func (w *tmuxWizard) exitCode() int {
	w.t.Helper()
	s := w.waitFor("WIZARD-EXIT=", 60*time.Second)
	m := regexp.MustCompile(`WIZARD-EXIT=(\d+)`).FindStringSubmatch(s)
	var c int
	fmt.Sscan(m[1], &c)
	return c
}

var codeRE = regexp.MustCompile(`Confirmation code:\s+([0-9A-Z]{8})`)

// screenCode returns the confirmation code on a result screen.
func screenCode(t *testing.T, screen string) string {
	t.Helper()
	m := codeRE.FindStringSubmatch(screen)
	if m == nil {
		t.Fatalf("no confirmation code on the result screen:\n%s", screen)
	}
	return m[1]
}

// logRecords reads the fleet log's JSON lines.
func logRecords(t *testing.T, logDir string) []map[string]any {
	t.Helper()
	f, err := os.Open(filepath.Join(logDir, "unbrick.jsonl"))
	if err != nil {
		t.Fatalf("fleet log: %v", err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("fleet log line %q: %v", sc.Text(), err)
		}
		out = append(out, r)
	}
	return out
}

// requireRecord checks that the log holds exactly one record with the code
// the screen showed, with the given status, and that the log holds no
// recovery password.
func requireRecord(t *testing.T, logDir, code, status string) map[string]any {
	t.Helper()
	raw, _ := os.ReadFile(filepath.Join(logDir, "unbrick.jsonl"))
	if strings.Contains(string(raw), wizardRecoveryPassword) || strings.Contains(string(raw), "199408") {
		t.Fatal("the fleet log contains the recovery password")
	}
	var found map[string]any
	for _, r := range logRecords(t, logDir) {
		if r["confirmation_code"] == code {
			if found != nil {
				t.Fatalf("two records with code %s", code)
			}
			found = r
		}
	}
	if found == nil {
		t.Fatalf("no fleet log record with the code %s the screen showed; log:\n%s", code, raw)
	}
	if found["status"] != status {
		t.Fatalf("record %s has status %v, want %s", code, found["status"], status)
	}
	return found
}

// verifyFixed runs the corpus's independent verifier (dislocker, ntfs-3g,
// sleuthkit, libfsntfs) on img. It needs root and FUSE and takes a while,
// so it runs when UNBRICK_WIZARD_VERIFY=1 (scripts/ci-wizard.sh sets it).
// extra are more verify flags (--allow-dirty, --allow-journal-change).
func verifyFixed(t *testing.T, img, variant string, extra ...string) {
	t.Helper()
	if os.Getenv("UNBRICK_WIZARD_VERIFY") != "1" {
		t.Logf("skipping ../shared/corpus/verify of %s (set UNBRICK_WIZARD_VERIFY=1; scripts/ci-wizard.sh does)", variant)
		return
	}
	verify := testcorpus.Path(t, "verify")
	out, err := exec.Command(verify, append([]string{img, variant, "--expect", "fixed"}, extra...)...).CombinedOutput()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	last := lines[len(lines)-1]
	if err != nil || !strings.HasPrefix(last, "verify: PASS") {
		t.Fatalf("verify %s --expect fixed: %v\n%s", variant, err, out)
	}
	t.Logf("%s: %s", variant, last)
}

// writeKeyCSV writes a generic key export holding the corpus recovery key
// for its protector ID.
func writeKeyCSV(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "keys.csv")
	body := "Computer Name,Key ID,Recovery Password\n" +
		"OTHER-PC,{FA4E0018-0000-4000-8000-000000000018},000000-265111-266222-267333-268444-269555-270666-271777\n" +
		"DESKTOP-QNI1MMF,{3C116B76-C67B-484E-B439-CE2ED68B561E}," + wizardRecoveryPassword + "\n"
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
