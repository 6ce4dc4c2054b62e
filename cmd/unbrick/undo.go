package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/unbrick/unbrick/internal/disk"

	"github.com/unbrick/unbrick/internal/exitcode"
	"github.com/unbrick/unbrick/internal/fleetlog"
	"github.com/unbrick/unbrick/internal/remedy"
	"github.com/unbrick/unbrick/internal/undo"
)

func newUndoCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "undo --journal FILE [flags] TARGET",
		Short: "restore what a fix changed, from its undo journal",
		Long: `Restores the bytes a fix replaced on TARGET (the disk image or block device the
fix ran on), newest first, after checking that every range still holds what the
fix wrote. Needs no key: the journal holds the bytes as stored on disk. An
'undone' record is appended to the fleet log, so that reports count the host
as faulty again. Exit 4 when the disk no longer holds what the fix wrote, or
the journal is torn (the fix never wrote).`,
		Example: `  unbrick undo --check --journal unbrick-logs/journal/RUNID-VOLUMEID.journal disk.img
  unbrick undo --journal /mnt/usb/journal/RUNID-VOLUMEID.journal --log /mnt/usb/logs /dev/nvme0n1`,
		Args: args("TARGET"),
	}
	fs := c.Flags()
	journal := fs.String("journal", "", "undo journal `FILE` written by 'unbrick fix' (JDIR/<run-id>-<volume-id>.journal); required")
	check := fs.Bool("check", false, "only check that the journal can be restored; write nothing")
	logDir := fs.String("log", defaultLogDir, "fleet log `DIR`: an 'undone' record is appended there")
	technician := addTechnicianFlag(c)
	c.RunE = func(_ *cobra.Command, pos []string) error {
		if *journal == "" {
			return usagef("need --journal FILE")
		}
		return exit(runUndo(e, *journal, *check, *logDir, *technician, pos[0]))
	}
	return c
}

// runUndo puts back the before-images a fix recorded, only if the disk
// still holds exactly what that fix wrote.
func runUndo(e *env, journal string, check bool, logDir, technician, target string) int {
	j, err := undo.ReadFile(journal)
	if err != nil {
		fmt.Fprintf(e.Stderr, "unbrick undo: %v\n", err)
		if errors.Is(err, undo.ErrTorn) {
			// A torn journal means the fix never wrote: nothing to undo.
			return exitcode.Refused
		}
		return exitcode.Failure
	}
	t, err := disk.OpenTarget(target, !check)
	if err != nil {
		fmt.Fprintf(e.Stderr, "unbrick undo: %v\n", err)
		return exitcode.Failure
	}
	defer t.Close()
	var sync func() error
	var log *fleetlog.Log
	if !check {
		unlock, err := t.Lock()
		if err != nil {
			fmt.Fprintf(e.Stderr, "unbrick undo: %v\n", err)
			return exitcode.Refused
		}
		defer unlock()
		if log, err = fleetlog.Open(logDir); err != nil {
			fmt.Fprintf(e.Stderr, "unbrick undo: cannot open the fleet log: %v; nothing was done (pass --log DIR)\n", err)
			return exitcode.Refused
		}
		sync = t.Sync // the one barrier: the descriptor the writes go through
	}
	h := j.Header
	fmt.Fprintf(e.Stdout, "journal %s: run %s, volume %s, target %s, partition at byte %d, %d writes recorded\n",
		journal, h.RunID, h.VolumeID, h.Target, h.PartitionOffset, len(j.Records))
	fmt.Fprintf(e.Stdout, "journal state: %s\n", j.State())
	res, err := undo.Restore(j, t, t.Size(), undo.RestoreOptions{Sync: sync, Check: check, JournalPath: journal})
	if err != nil {
		fmt.Fprintf(e.Stderr, "unbrick undo: %v\n", err)
		if errors.Is(err, undo.ErrMismatch) || errors.Is(err, undo.ErrWrongTarget) {
			return exitcode.Refused
		}
		return exitcode.Failure
	}
	switch {
	case res.Restored == 0:
		fmt.Fprintf(e.Stdout, "nothing to restore: %s already holds what was there before the fix\n", target)
	case check:
		fmt.Fprintf(e.Stdout, "check passed: %d ranges would be restored (%d not written by the fix)\n", res.Restored, res.Skipped)
	default:
		fmt.Fprintf(e.Stdout, "restored %d ranges (%d bytes) on %s", res.Restored, res.Bytes, target)
		if res.Skipped > 0 {
			fmt.Fprintf(e.Stdout, "; %d ranges the fix never wrote were left alone", res.Skipped)
		}
		fmt.Fprintln(e.Stdout)
	}
	if res.Warning != "" {
		fmt.Fprintf(e.Stderr, "unbrick undo: %s\n", res.Warning)
	}
	if check || res.Restored == 0 {
		return exitcode.OK
	}
	rec := &fleetlog.Record{Time: time.Now(), ToolVersion: toolVersion(), RunID: remedy.NewRunID(time.Now()),
		Technician: technician, Target: target, Partition: -1, VolumeID: h.VolumeID,
		Status: fleetlog.StatusUndone, JournalFile: journal, UndoneRun: h.RunID,
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
