package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The terminal libraries the wizard links in must not talk to the terminal
// before main: bubbletea v1's package init asked every terminal for its
// background colour (OSC 11) and cursor position (DSR) and waited up to 5 s
// for an answer, so any subcommand, `unbrick version` included, stalled and
// left "]11;?" on terminals that do not answer (serial-over-LAN loggers,
// `ssh -tt` from a script, `script`). Run in a pseudo-terminal that never
// answers (util-linux script(1), standard input /dev/null), `unbrick
// version` must print exactly what it prints into a pipe: the query bytes
// are the witness, not the time taken.
func TestWizardLibrariesSendNoTerminalQueryAtStart(t *testing.T) {
	script, err := exec.LookPath("script")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("script(1) (util-linux) is not installed; CI must provide it")
		}
		t.Skip("script(1) not installed")
	}
	bin := buildWizardBinary(t)
	want, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatalf("%s version: %v", bin, err)
	}
	cmd := exec.Command(script, "-qc", "'"+strings.ReplaceAll(bin, "'", `'\''`)+"' version", "/dev/null")
	// A terminal type for which the old code did query (termenv skipped
	// screen, tmux and dumb), whatever terminal runs the tests.
	cmd.Env = append(withoutEnv(os.Environ(), "TERM", "NO_COLOR", "TERM_PROGRAM", "TMUX", "STY"), "TERM=xterm-256color")
	got, err := cmd.Output()
	if err != nil {
		t.Fatalf("script -qc '%s version': %v\n%q", bin, err, got)
	}
	for _, q := range []struct{ seq, what string }{
		{"\x1b]11;", "OSC 11 background colour query"},
		{"\x1b[6n", "DSR cursor position query"},
		{"\x1b[c", "device attributes query"},
	} {
		if strings.Contains(string(got), q.seq) {
			t.Errorf("`unbrick version` on a pseudo-terminal sent the %s (%q): %q", q.what, q.seq, got)
		}
	}
	if s := strings.ReplaceAll(string(got), "\r\n", "\n"); s != string(want) {
		t.Errorf("`unbrick version` on a pseudo-terminal printed %q, into a pipe %q", s, want)
	}
}

// withoutEnv returns env without the variables named.
func withoutEnv(env []string, names ...string) []string {
	var out []string
next:
	for _, kv := range env {
		for _, n := range names {
			if strings.HasPrefix(kv, n+"=") {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}
