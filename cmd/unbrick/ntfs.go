package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/unbrick/unbrick/internal/exitcode"
	"github.com/unbrick/unbrick/internal/remedy"
	"github.com/unbrick/unbrick/ntfs"
)

// ntfsCommands lists the verbs of `unbrick ntfs` (low-level tools for
// experts). One line per verb, one file per verb (ntfs_VERB.go).
func ntfsCommands() []command {
	return []command{
		{"ls", "list a directory (or one file) of an NTFS volume", runNTFSLs},
		{"cat", "copy a file of an NTFS volume to standard output", runNTFSCat},
		{"rm", "delete a file safely (--dry-run prints the write plan)", runNTFSRm},
		{"journal", "show $LogFile, dirty flag and hibernation state", runNTFSJournal},
	}
}

// runNTFS dispatches `unbrick ntfs VERB ...`.
func runNTFS(e *env, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		w := e.Stderr
		code := exitcode.Usage
		if len(args) > 0 {
			w, code = e.Stdout, exitcode.OK
		}
		fmt.Fprintln(w, "usage: unbrick ntfs VERB [flags] TARGET [PATH]\n\nverbs:")
		for _, c := range ntfsCommands() {
			fmt.Fprintf(w, "  %-8s %s\n", c.Name, c.Summary)
		}
		fmt.Fprintln(w, "\nTARGET is a disk image, a block device or one volume; --partition N picks a\n"+
			"partition when the target has several. PATH uses / or \\ and is case-insensitive.")
		return code
	}
	for _, c := range ntfsCommands() {
		if c.Name == args[0] {
			return c.Run(e, args[1:])
		}
	}
	fmt.Fprintf(e.Stderr, "unbrick ntfs: unknown verb %q (run 'unbrick ntfs help')\n", args[0])
	return exitcode.Usage
}

// openedNTFS is a read-only NTFS volume opened from a TARGET.
type openedNTFS struct {
	Vol    *ntfs.Volume
	Opened *remedy.Opened
}

// Close releases the target.
func (o *openedNTFS) Close() { o.Opened.Close() }

// openNTFSRead opens TARGET read-only through the engine (--partition N,
// else the only NTFS or BitLocker volume; BitLocker is unlocked with the
// key flags) and opens its NTFS. It returns the exit code to use with an
// error.
func openNTFSRead(e *env, prog, target string, partition int, kf *keyFlags) (*openedNTFS, int, error) {
	o, code, err := openTarget(e, prog, kf, remedy.OpenRequest{Target: target, Partition: partition})
	if err != nil {
		return nil, code, err
	}
	v, err := o.NTFS()
	if err != nil {
		o.Close()
		return nil, exitcode.Failure, fmt.Errorf("%s: %w", o.Name(), err)
	}
	return &openedNTFS{Vol: v, Opened: o}, exitcode.OK, nil
}

// ntfsExitCode maps an ntfs error to an exit code.
func ntfsExitCode(err error) int {
	_ = err // every read-side ntfs error is a failure (1)
	return exitcode.Failure
}

func ntfsUsage(w io.Writer, line string, describe string) {
	fmt.Fprintf(w, "usage: %s\n\n%s\n\n", line, strings.TrimSpace(describe))
}
