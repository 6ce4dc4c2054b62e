package main

import (
	"errors"
	"flag"
	"fmt"

	"github.com/unbrick/unbrick/internal/disk"
	"github.com/unbrick/unbrick/internal/exitcode"
	"github.com/unbrick/unbrick/internal/remedy"
	"github.com/unbrick/unbrick/internal/undo"
)

// runUndo implements `unbrick undo --journal FILE [--check] TARGET`: it puts
// back the before-images a fix recorded, only if the disk still holds
// exactly what that fix wrote.
func runUndo(e *env, args []string) int {
	fs := flag.NewFlagSet("undo", flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	journal := fs.String("journal", "", "undo journal `FILE` written by 'unbrick fix' (JDIR/<run-id>-<volume-id>.journal)")
	check := fs.Bool("check", false, "only check that the journal can be restored; write nothing")
	fs.Usage = func() {
		fmt.Fprintf(e.Stderr, "usage: unbrick undo --journal FILE [--check] TARGET\n\n"+
			"Restores the bytes a fix replaced on TARGET (the disk image or block device the\n"+
			"fix ran on), newest first, after checking that every range still holds what the\n"+
			"fix wrote. Needs no key: the journal holds the bytes as stored on disk.\n\n")
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitcode.OK
		}
		return exitcode.Usage
	}
	if *journal == "" || len(pos) != 1 {
		fmt.Fprintln(e.Stderr, "unbrick undo: need --journal FILE and exactly one TARGET")
		fs.Usage()
		return exitcode.Usage
	}
	j, err := undo.ReadFile(*journal)
	if err != nil {
		fmt.Fprintf(e.Stderr, "unbrick undo: %v\n", err)
		if errors.Is(err, undo.ErrTorn) {
			// A torn journal means the fix never wrote: nothing to undo.
			return exitcode.Refused
		}
		return exitcode.Failure
	}
	t, err := disk.OpenTarget(pos[0], !*check)
	if err != nil {
		fmt.Fprintf(e.Stderr, "unbrick undo: %v\n", err)
		return exitcode.Failure
	}
	defer t.Close()
	var sync func() error
	if !*check {
		fl, err := remedy.OpenFlusher(pos[0])
		if err != nil {
			fmt.Fprintf(e.Stderr, "unbrick undo: %v\n", err)
			return exitcode.Failure
		}
		defer fl.Close()
		sync = fl.Sync
	}
	h := j.Header
	fmt.Fprintf(e.Stdout, "journal %s: run %s, volume %s, target %s, partition at byte %d, %d writes recorded\n",
		*journal, h.RunID, h.VolumeID, h.Target, h.PartitionOffset, len(j.Records))
	res, err := undo.Restore(j, t, t.Size(), undo.RestoreOptions{Sync: sync, Check: *check})
	if err != nil {
		fmt.Fprintf(e.Stderr, "unbrick undo: %v\n", err)
		if errors.Is(err, undo.ErrMismatch) || errors.Is(err, undo.ErrWrongTarget) {
			return exitcode.Refused
		}
		return exitcode.Failure
	}
	switch {
	case res.Restored == 0:
		fmt.Fprintf(e.Stdout, "nothing to restore: %s already holds what was there before the fix\n", pos[0])
	case *check:
		fmt.Fprintf(e.Stdout, "check passed: %d ranges would be restored (%d not written by the fix)\n", res.Restored, res.Skipped)
	default:
		fmt.Fprintf(e.Stdout, "restored %d ranges (%d bytes) on %s", res.Restored, res.Bytes, pos[0])
		if res.Skipped > 0 {
			fmt.Fprintf(e.Stdout, "; %d ranges the fix never wrote were left alone", res.Skipped)
		}
		fmt.Fprintln(e.Stdout)
	}
	return exitcode.OK
}
