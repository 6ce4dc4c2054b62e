package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/unbrick/unbrick/internal/redact"
	"github.com/unbrick/unbrick/internal/testcorpus"
)

// TestBootStyleRunRedacted runs `fix` the way the stick's auto mode runs
// it (bootmode's CLI.Run: one redacting writer, the console and
// transcript, as both standard output and error), with the secrets in the
// environment, as technician and as a TARGET, and checks what was shown
// and the fleet log the run wrote. (The boot record and transcript files
// are checked by bootmode's TestBootTranscriptRedacted.)
func TestBootStyleRunRedacted(t *testing.T) {
	img := testcorpus.Disk(t, "win10-xts128-recoverypw")
	out := t.TempDir()
	logDir := filepath.Join(out, "logs")
	envv := map[string]string{envRecoveryPassword: secretRP, envPassword: secretPW}
	getenv := func(k string) string { return envv[k] }
	var screen strings.Builder
	w := redact.NewWriter(&screen)
	t.Cleanup(registerSecrets(&env{Getenv: getenv}, nil))

	e := &env{Stdin: strings.NewReader(""), Stdout: w, Stderr: w, Getenv: getenv}
	args := []string{"fix", "--technician", secretRP, "--log", logDir, "--journal", filepath.Join(out, "journal"), img, secretPW}
	code := run(e, args)
	w.Flush()
	t.Logf("fix exit %d; screen:\n%s", code, screen.String())

	if l := leaks([]byte(screen.String())); len(l) > 0 {
		t.Errorf("the screen holds %s:\n%s", strings.Join(l, ", "), screen.String())
	}
	if !strings.Contains(screen.String(), "[redacted]") {
		t.Errorf("nothing redacted on the screen:\n%s", screen.String())
	}
	files, _ := filepath.Glob(filepath.Join(logDir, "*"))
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if l := leaks(data); len(l) > 0 {
			t.Errorf("%s holds %s:\n%s", f, strings.Join(l, ", "), data)
		}
	}
	if !strings.Contains(strings.Join(names, " "), "unbrick.jsonl") {
		t.Errorf("no unbrick.jsonl in %s: %v", logDir, names)
	}
}
