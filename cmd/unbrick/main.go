// Command unbrick brings back Windows hosts that a bad vendor update left in
// a boot loop: it finds Windows system volumes, unlocks BitLocker, deletes
// exactly the faulty files and writes a fleet log record per host.
//
// Each subcommand lives in its own file; commands.go lists them.
package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/unbrick/unbrick/internal/exitcode"
)

// env is what a subcommand may touch of the process: its standard streams
// and environment. Tests build one with buffers.
type env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
}

// command is one subcommand: its name, a one-line summary for the usage
// text, and its entry point, which returns the process exit code.
type command struct {
	Name    string
	Summary string
	Run     func(e *env, args []string) int
}

func main() {
	e := &env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
	os.Exit(run(e, os.Args[1:]))
}

// run dispatches args[0] to its subcommand.
func run(e *env, args []string) int {
	if len(args) == 0 {
		usage(e.Stderr)
		return exitcode.Usage
	}
	name := args[0]
	switch name {
	case "-h", "--help", "help":
		usage(e.Stdout)
		return exitcode.OK
	case "-version", "--version":
		name = "version"
	}
	for _, c := range commands() {
		if c.Name == name {
			return c.Run(e, args[1:])
		}
	}
	fmt.Fprintf(e.Stderr, "unbrick: unknown command %q\n\n", name)
	usage(e.Stderr)
	return exitcode.Usage
}

func usage(w io.Writer) {
	var b strings.Builder
	b.WriteString("usage: unbrick COMMAND [flags] [arguments]\n\ncommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(&b, "  %-10s %s\n", c.Name, c.Summary)
	}
	b.WriteString("\nexit codes: 0 ok, 1 failure, 2 usage, 3 locked (no usable key),\n" +
		"            4 refused (unsafe state or policy), 5 needs review\n" +
		"Run 'unbrick COMMAND -h' for a command's flags.\n")
	io.WriteString(w, b.String())
}
