package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/unbrick/unbrick/internal/exitcode"
)

func runNTFSCat(e *env, args []string) int {
	fs := flag.NewFlagSet("ntfs cat", flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	kf := addKeyFlags(fs)
	partition := fs.Int("partition", 0, "partition `N` of TARGET (as Linux numbers it); default: the only NTFS/BitLocker volume")
	fs.Usage = func() {
		ntfsUsage(e.Stderr, "unbrick ntfs cat [key flags] [--partition N] TARGET PATH", `
Copies the content (unnamed $DATA stream) of the file PATH on the NTFS
volume on TARGET (BitLocker is unlocked with the key flags) to standard
output. Sparse and compressed files are
expanded. Read-only.`)
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitcode.OK
		}
		return exitcode.Usage
	}
	if len(pos) != 2 {
		fmt.Fprintln(e.Stderr, "unbrick ntfs cat: need TARGET and PATH")
		fs.Usage()
		return exitcode.Usage
	}
	o, code, err := openNTFSRead(e, "unbrick ntfs cat", pos[0], *partition, kf)
	if err != nil {
		fmt.Fprintf(e.Stderr, "unbrick ntfs cat: %v\n", err)
		return code
	}
	defer o.Close()
	r, err := o.Vol.Open(pos[1])
	if err != nil {
		fmt.Fprintf(e.Stderr, "unbrick ntfs cat: %s: %v\n", pos[1], err)
		return ntfsExitCode(err)
	}
	if _, err := io.Copy(e.Stdout, r); err != nil {
		fmt.Fprintf(e.Stderr, "unbrick ntfs cat: %s: %v\n", pos[1], err)
		return exitcode.Failure
	}
	return exitcode.OK
}
