// Command unbrick brings back Windows hosts that a bad vendor update left in
// a boot loop: it finds Windows system volumes, unlocks BitLocker, deletes
// exactly the faulty files and writes a fleet log record per host.
//
// The command line is built with cobra: commands.go holds the tree, and
// each subcommand lives in a file of its own.
package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/unbrick/unbrick/cmd/unbrick/internal/bootmode"
	"github.com/unbrick/unbrick/internal/keys"
	"github.com/unbrick/unbrick/internal/redact"
)

// env is what a subcommand may touch of the process: its standard streams
// and environment. Tests build one with buffers.
type env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
}

func main() {
	// The stick's boot-time mode comes first: the kernel starts this very
	// binary as /init of the USB image (process 1, argv[0] "/init").
	switch bootmode.Detect(os.Args[0], os.Getpid()) {
	case bootmode.Boot:
		bootmode.Main(bootCLI()) // never returns
	case bootmode.NotPID1:
		fmt.Fprintln(os.Stderr, bootmode.NotPID1Message)
		os.Exit(1)
	}
	e := &env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
	os.Exit(run(e, os.Args[1:]))
}

// bootCLI is the command line as the boot-time mode uses it.
func bootCLI() bootmode.CLI {
	return bootmode.CLI{
		Version: toolVersion(),
		Run: func(stdin io.Reader, stdout, stderr io.Writer, args []string) int {
			return run(&env{Stdin: stdin, Stdout: stdout, Stderr: stderr, Getenv: os.Getenv}, args)
		},
		RegisterSecrets: func() { registerSecrets(&env{Getenv: os.Getenv}, nil) },
		HasCommand:      hasCommand,
	}
}

// hasCommand reports whether this build has the subcommand name.
func hasCommand(name string) bool {
	c, rest, err := newRootCmd(&env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" }}).Find([]string{name})
	return err == nil && len(rest) == 0 && c.Name() == name
}

// run is the whole command line: it registers the secrets args and the
// environment hold (registerSecrets), wraps standard output and error in
// the redactor (internal/redact: one place for everything printed, also on
// the stick), dispatches, and flushes what the redactor held back before
// it returns, so before main's os.Exit.
func run(e *env, args []string) int {
	defer registerSecrets(e, args)()
	re := *e
	var flush []*redact.Writer
	raw := rawStdout(e, args)
	if !raw {
		w := redact.NewWriter(e.Stdout)
		re.Stdout, flush = w, append(flush, w)
	}
	if !raw && sameWriter(e.Stderr, e.Stdout) {
		// One stream (the stick's console and transcript): one redactor,
		// so that the order of the lines is kept.
		re.Stderr = re.Stdout
	} else {
		w := redact.NewWriter(e.Stderr)
		re.Stderr, flush = w, append(flush, w)
	}
	defer func() {
		for _, w := range flush {
			w.Flush()
		}
	}()
	return dispatch(&re, args)
}

// rawStdout reports the two cases whose standard output must not pass
// through the redactor: `ntfs cat`, whose output is the content of a file
// on the volume (binary data the user asked for, e.g. a BitLocker
// recovery key backup copied off a disk, that a redactor would corrupt),
// Standard error stays redacted. (The full-screen wizard draws on the
// terminal itself, redact.Unwrap(e.Stdout), by cell differences no stream
// redactor could follow; typed keys are masked there, and its line mode
// and closing summary go through the redactor.)
func rawStdout(e *env, args []string) bool {
	if len(args) >= 2 && args[0] == "ntfs" && args[1] == "cat" {
		return true
	}
	return false
}

// sameWriter reports whether a and b are the same writer (false for
// writers that cannot be compared).
func sameWriter(a, b io.Writer) (same bool) {
	defer func() {
		if recover() != nil {
			same = false
		}
	}()
	return a == b
}

// Flags whose value is a secret, and flags that name a file of secrets
// (one per line), in every subcommand.
var (
	secretFlags     = map[string]bool{"password": true, "recovery-password": true, "fvek": true}
	secretFileFlags = map[string]bool{"recovery-password-file": true, "passphrase-file": true}
)

// secretEnv lists the environment variables that carry secrets.
var secretEnv = []string{envPassword, envRecoveryPassword, keys.PassphraseEnv}

// registerSecrets registers with the redactor every secret on the command
// line (--password, --recovery-password and --fvek values, as --flag=V,
// --flag V, -flag V; the lines of --recovery-password-file and
// --passphrase-file files) and in the environment, before any subcommand
// can print one by mistake (as a TARGET, a path, a technician name). It
// returns the function that unregisters them.
func registerSecrets(e *env, args []string) (release func()) {
	var rel []func()
	add := func(s string) { rel = append(rel, redact.Register(s)) }
	for i, a := range args {
		if len(a) < 2 || a[0] != '-' || a == "--" {
			continue
		}
		name, val, inline := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
		if !secretFlags[name] && !secretFileFlags[name] {
			continue
		}
		if !inline {
			if i+1 >= len(args) {
				continue
			}
			val = args[i+1]
		}
		if secretFlags[name] {
			add(val)
		} else {
			for _, l := range secretFileLines(val) {
				add(l)
			}
		}
	}
	if e.Getenv != nil {
		for _, k := range secretEnv {
			if v := e.Getenv(k); v != "" {
				add(v)
			}
		}
	}
	return func() {
		for _, r := range rel {
			r()
		}
	}
}

// secretFileLines reads the non-empty lines of a small regular file (not
// standard input, not a device or pipe: reading those would take the
// subcommand's input).
func secretFileLines(path string) []string {
	if path == "" || path == "-" {
		return nil
	}
	st, err := os.Stat(path)
	if err != nil || !st.Mode().IsRegular() || st.Size() > 1<<20 {
		return nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimRight(l, "\r"); strings.TrimSpace(l) != "" {
			out = append(out, l, strings.TrimSpace(l))
		}
	}
	return out
}

// dispatch runs the command line args on the command tree, with e's
// streams, and returns the exit code.
func dispatch(e *env, args []string) int {
	if args == nil {
		args = []string{} // cobra would read os.Args
	}
	root := newRootCmd(e)
	root.SetArgs(args)
	c, err := root.ExecuteC()
	return exitCode(e.Stderr, c, err)
}
