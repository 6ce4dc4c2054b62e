//go:build linux

package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/unbrick/unbrick/internal/testcorpus"
)

// TestBootTranscriptRedacted runs what the stick's auto mode runs, the way
// it runs it (run with the booter's console+transcript writer as standard
// output and error), with the secrets in the environment, as technician
// and in a problem line, and checks the screen, logs/boot-TIME.txt,
// logs/boot-TIME.log and the fleet log the run wrote.
func TestBootTranscriptRedacted(t *testing.T) {
	img := testcorpus.Disk(t, "win10-xts128-recoverypw")
	out := t.TempDir()
	logDir := filepath.Join(out, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	envv := map[string]string{envRecoveryPassword: secretRP, envPassword: secretPW}
	getenv := func(k string) string { return envv[k] }
	// As bootMain does.
	var screen strings.Builder
	b := &booter{rec: bootRecord{Time: time.Now(), Keys: "none"}}
	b.setOut(io.MultiWriter(&screen, &b.log))
	t.Cleanup(registerSecrets(&env{Getenv: getenv}, nil))
	b.say("Disk: %s", filepath.Join("/dev", secretRP))
	b.problem("key file %s: unreadable", secretPW+".csv")

	e := &env{Stdin: strings.NewReader(""), Stdout: b.out, Stderr: b.out, Getenv: getenv}
	args := []string{"fix", "--technician", secretRP, "--log", logDir, "--journal", filepath.Join(out, "journal"), img, secretPW}
	b.say("\nRunning: unbrick %s", strings.Join(args, " "))
	code := run(e, args)
	b.rec.Result = "fix exit " + secretPW
	b.rec.Problems = append(b.rec.Problems, "technician "+secretRP)
	b.saveLogs(logDir)
	t.Logf("fix exit %d; screen:\n%s", code, screen.String())

	if l := leaks([]byte(screen.String())); len(l) > 0 {
		t.Errorf("the screen holds %s:\n%s", strings.Join(l, ", "), screen.String())
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
		if strings.HasSuffix(f, ".log") && !strings.Contains(string(data), "[redacted]") {
			t.Errorf("%s: nothing redacted:\n%s", f, data)
		}
	}
	for _, want := range []string{"unbrick.jsonl", ".txt", ".log"} {
		if !strings.Contains(strings.Join(names, " "), want) {
			t.Errorf("no %s in %s: %v", want, logDir, names)
		}
	}
}
