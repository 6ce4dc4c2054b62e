package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"time"

	"github.com/unbrick/unbrick/internal/disk"
	"github.com/unbrick/unbrick/internal/exitcode"
	"github.com/unbrick/unbrick/internal/fleetlog"
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
	logDir := fs.String("log", defaultLogDir, "fleet log `DIR`: an 'undone' record is appended there, so that reports count the host as faulty again")
	technician := fs.String("technician", "", "technician `NAME` for the fleet log")
	fs.Usage = func() {
		fmt.Fprintf(e.Stderr, "usage: unbrick undo --journal FILE [--check] [--log DIR] [--technician NAME] TARGET\n\n"+
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
	var log *fleetlog.Log
	if !*check {
		unlock, err := t.Lock()
		if err != nil {
			fmt.Fprintf(e.Stderr, "unbrick undo: %v\n", err)
			return exitcode.Refused
		}
		defer unlock()
		if log, err = fleetlog.Open(*logDir); err != nil {
			fmt.Fprintf(e.Stderr, "unbrick undo: cannot open the fleet log: %v; nothing was done (pass --log DIR)\n", err)
			return exitcode.Refused
		}
		sync = t.Sync // the one barrier: the descriptor the writes go through
	}
	h := j.Header
	fmt.Fprintf(e.Stdout, "journal %s: run %s, volume %s, target %s, partition at byte %d, %d writes recorded\n",
		*journal, h.RunID, h.VolumeID, h.Target, h.PartitionOffset, len(j.Records))
	fmt.Fprintf(e.Stdout, "journal state: %s\n", j.State())
	res, err := undo.Restore(j, t, t.Size(), undo.RestoreOptions{Sync: sync, Check: *check, JournalPath: *journal})
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
	if res.Warning != "" {
		fmt.Fprintf(e.Stderr, "unbrick undo: %s\n", res.Warning)
	}
	if *check || res.Restored == 0 {
		return exitcode.OK
	}
	rec := &fleetlog.Record{Time: time.Now(), ToolVersion: toolVersion(), RunID: remedy.NewRunID(time.Now()),
		Technician: *technician, Target: pos[0], Partition: -1, VolumeID: h.VolumeID,
		Status: fleetlog.StatusUndone, JournalFile: *journal, UndoneRun: h.RunID,
		Error: "the fix of run " + h.RunID + " was undone: the disk holds what it held before that fix (the faulty files are back)"}
	fleetlog.Prepare(rec)
	if err := log.Append(rec); err != nil {
		fmt.Fprintf(e.Stderr, "unbrick undo: the disk was restored, but the 'undone' record could not be saved in %s (%v); it is printed below: add it to the fleet log by hand\n", log.Dir(), err)
		json.NewEncoder(e.Stdout).Encode(rec)
		return exitcode.Failure
	}
	fmt.Fprintf(e.Stdout, "fleet log: 'undone' record appended to %s\n", filepath.Join(log.Dir(), fleetlog.JSONLName))
	json.NewEncoder(e.Stdout).Encode(rec)
	return exitcode.OK
}
