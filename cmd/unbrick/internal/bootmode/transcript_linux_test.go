//go:build linux

package bootmode

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/unbrick/unbrick/internal/redact"
)

// Secrets of TestBootTranscriptRedacted: a recovery password (redacted
// by its shape) and a user password (redacted because it was registered).
const (
	secretRP = "284867-596541-514998-422114-660297-261613-215424-199408"
	secretPW = "S3cret!pw"
)

// leaks lists what of the secrets b holds: either secret whole, secretRP
// without dashes, or any 6-digit group of it.
func leaks(b []byte) []string {
	var out []string
	for _, n := range []string{secretRP, strings.ReplaceAll(secretRP, "-", ""), secretPW} {
		if bytes.Contains(b, []byte(n)) {
			out = append(out, fmt.Sprintf("%q", n))
		}
	}
	for _, g := range strings.Split(secretRP, "-") {
		if bytes.Contains(b, []byte(g)) {
			out = append(out, "group "+g)
		}
	}
	return out
}

// TestBootTranscriptRedacted runs a command line the way the stick's auto
// mode runs it (through CLI.Run, with the booter's console+transcript
// writer as standard output and error), with the secrets registered as
// CLI.RegisterSecrets does for the environment, in the command's output
// and in a problem line, and checks the screen, logs/boot-TIME.txt and
// logs/boot-TIME.log. (That the real `fix` run this way leaks nothing is
// checked by the main package's TestBootStyleRunRedacted.)
func TestBootTranscriptRedacted(t *testing.T) {
	logDir := filepath.Join(t.TempDir(), "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	var gotArgs []string
	cli := CLI{
		Version: "test",
		RegisterSecrets: func() {
			t.Cleanup(redact.Register(secretPW))
		},
		Run: func(stdin io.Reader, stdout, stderr io.Writer, args []string) int {
			gotArgs = args
			if stdout != stderr {
				t.Errorf("auto mode: standard output and error are different writers")
			}
			fmt.Fprintf(stdout, "technician %s\n", args[2])
			fmt.Fprintf(stderr, "open target %s: no such file\n", args[len(args)-1])
			return 1
		},
	}
	// As Main does.
	var screen strings.Builder
	b := &booter{cli: cli, rec: bootRecord{Time: time.Now(), Keys: "none"}}
	b.setOut(io.MultiWriter(&screen, &b.log))
	cli.RegisterSecrets()
	b.say("Disk: %s", filepath.Join("/dev", secretRP))
	b.problem("key file %s: unreadable", secretPW+".csv")

	args := []string{"fix", "--technician", secretRP, "--log", logDir, "/dev/" + secretPW}
	b.say("\nRunning: unbrick %s", strings.Join(args, " "))
	code := b.cli.Run(strings.NewReader(""), b.out, b.out, args)
	b.rec.Result = fmt.Sprintf("fix exit %d (%s) %s", code, exitMeaning(code), secretPW)
	b.rec.Problems = append(b.rec.Problems, "technician "+secretRP)
	b.saveLogs(logDir)
	b.flush()
	if len(gotArgs) != len(args) {
		t.Fatalf("CLI.Run got %q", gotArgs)
	}
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
			t.Fatal(err)
		}
		if l := leaks(data); len(l) > 0 {
			t.Errorf("%s holds %s:\n%s", f, strings.Join(l, ", "), data)
		}
		if strings.HasSuffix(f, ".log") && !strings.Contains(string(data), "[redacted]") {
			t.Errorf("%s: nothing redacted:\n%s", f, data)
		}
	}
	for _, want := range []string{".txt", ".log"} {
		if !strings.Contains(strings.Join(names, " "), want) {
			t.Errorf("no %s in %s: %v", want, logDir, names)
		}
	}
}
