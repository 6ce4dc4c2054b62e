package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/unbrick/unbrick/internal/exitcode"
	"github.com/unbrick/unbrick/internal/fleetlog"
	"github.com/unbrick/unbrick/internal/remedy"
	"github.com/unbrick/unbrick/ntfs"
)

// defaultLogDir is where fix writes its fleet log when not booted from the
// unbrick stick (whose init passes its LOGS partition with --log).
const defaultLogDir = "unbrick-logs"

// runFix implements `unbrick fix`: plan, journal, apply, verify, record.
func runFix(e *env, args []string) int {
	fs := flag.NewFlagSet("fix", flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	kf := addKeyFlags(fs)
	rulesFile := fs.String("rules", "", "rules `FILE` (default: the built-in crowdstrike-2024-07-19 rule)")
	dryRun := fs.Bool("dry-run", false, "plan and report, write nothing to the disks")
	logDir := fs.String("log", defaultLogDir, "fleet log `DIR` (unbrick.jsonl, unbrick.csv)")
	journalDir := fs.String("journal", "", "undo journal `DIR` (default: LOGDIR/journal)")
	unclean := fs.String("unclean", "refuse", "what to do with an unclean NTFS journal: refuse; replay (redo its committed transactions as Windows does, in the same undo journal, then delete; a journal with an operation unbrick cannot redo is refused; not the default yet because real Windows journals are still mostly refused); or reset (empty it as ntfsfix does; chkdsk runs at next boot)")
	technician := fs.String("technician", "", "technician `NAME` for the fleet log")
	parallel := fs.Int("parallel", 1, "process `N` targets at once")
	asJSON := fs.Bool("json", false, "print only the fleet log records, as JSON lines")
	fs.Usage = func() {
		fmt.Fprintf(e.Stderr, "usage: unbrick fix [key flags] [--rules F] [--dry-run] [--log DIR] [--journal DIR]\n"+
			"                   [--unclean=refuse|replay|reset] [--technician NAME] [--parallel N] [--json] [TARGET...]\n\n"+
			"For every Windows system volume on each TARGET (disk image or block device; none:\n"+
			"the host's disks): unlock, find the files the rules call faulty, plan their deletion,\n"+
			"write an undo journal, delete, re-open and verify, and append a fleet log record.\n"+
			"Exit codes: 0 ok, 1 failure, 2 usage, 3 locked, 4 refused, 5 needs review.\n\n")
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitcode.OK
		}
		return exitcode.Usage
	}
	policy, err := ntfs.ParseUncleanPolicy(*unclean)
	if err != nil {
		fmt.Fprintf(e.Stderr, "unbrick fix: %v\n", err)
		return exitcode.Usage
	}
	if *parallel < 1 {
		fmt.Fprintln(e.Stderr, "unbrick fix: --parallel must be at least 1")
		return exitcode.Usage
	}
	o, err := engineOptions(e, kf, *rulesFile)
	if err != nil {
		fmt.Fprintf(e.Stderr, "unbrick fix: %v\n", err)
		return exitcode.Usage
	}
	o.DryRun, o.Unclean, o.Technician, o.Parallel = *dryRun, policy, *technician, *parallel
	o.JournalDir = *journalDir
	if o.JournalDir == "" {
		o.JournalDir = filepath.Join(*logDir, "journal")
	}
	targets, err := resolveTargets(e, pos, &o)
	if err != nil {
		fmt.Fprintf(e.Stderr, "unbrick fix: %v\n", err)
		return exitcode.Failure
	}
	log, err := fleetlog.Open(*logDir)
	if err != nil {
		fmt.Fprintf(e.Stderr, "unbrick fix: cannot open the fleet log: %v; nothing was done (pass --log DIR)\n", err)
		return exitcode.Refused
	}
	o.RunID = remedy.NewRunID(time.Now())
	var mu sync.Mutex
	var recs []*fleetlog.Record
	o.Log = func(v *remedy.Volume) error {
		r := v.FleetRecord(&o)
		if err := log.Append(r); err != nil {
			return err
		}
		mu.Lock()
		recs = append(recs, r)
		mu.Unlock()
		return nil
	}
	vols := remedy.Fix(context.Background(), targets, o)
	if *asJSON {
		enc := json.NewEncoder(e.Stdout)
		for _, r := range recs {
			enc.Encode(r)
		}
	} else {
		for _, v := range vols {
			printVolume(e.Stdout, v)
		}
		fmt.Fprintf(e.Stdout, "fleet log: %d record(s) appended to %s\n", len(recs), filepath.Join(log.Dir(), fleetlog.JSONLName))
		enc := json.NewEncoder(e.Stdout)
		for _, r := range recs {
			enc.Encode(r)
		}
	}
	return remedy.ExitCode(vols, false)
}
