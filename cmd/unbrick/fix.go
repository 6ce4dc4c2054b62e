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
	unclean := fs.String("unclean", "replay", "what to do with an unclean NTFS journal (a host that crashed): replay (redo its committed transactions as Windows does at mount, in the same undo journal, then delete); refuse (write nothing); or reset (empty it as ntfsfix does; chkdsk runs at next boot)")
	fallback := fs.String("unclean-fallback", "refuse", "with --unclean=replay, what to do when the journal cannot be replayed (an operation unbrick cannot redo, a damaged log): refuse (write nothing, exit 4) or reset")
	technician := fs.String("technician", "", "technician `NAME` for the fleet log")
	parallel := fs.Int("parallel", 1, "process `N` targets at once")
	asJSON := fs.Bool("json", false, "print only the fleet log records, as JSON lines")
	fs.Usage = func() {
		fmt.Fprintf(e.Stderr, "usage: unbrick fix [key flags] [--rules F] [--dry-run] [--log DIR] [--journal DIR]\n"+
			"                   [--unclean=replay|refuse|reset] [--unclean-fallback=refuse|reset]\n"+
			"                   [--technician NAME] [--parallel N] [--json] [TARGET...]\n\n"+
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
	policy, fb, err := parseUncleanFlags(*unclean, *fallback)
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
	o.Fix.DryRun, o.Fix.Unclean, o.Fix.UncleanFallback, o.Identity.Technician, o.Parallel = *dryRun, policy, fb, *technician, *parallel
	o.Fix.JournalDir = *journalDir
	if o.Fix.JournalDir == "" {
		o.Fix.JournalDir = filepath.Join(*logDir, "journal")
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
	o.Identity.RunID = remedy.NewRunID(time.Now())
	// Every record is kept for the screen, saved or not: when the fleet log
	// cannot be written, the copy printed here (on the stick: in the screen
	// transcript) is the only one.
	var mu sync.Mutex
	recs := map[*remedy.Volume]*fleetlog.Record{}
	o.Hooks.Log = func(v *remedy.Volume) error {
		r := v.FleetRecord(&o)
		mu.Lock()
		recs[v] = r
		mu.Unlock()
		return log.Append(r)
	}
	vols := remedy.Fix(context.Background(), targets, o)
	var ordered []*fleetlog.Record
	unsaved := 0
	for _, v := range vols {
		if r := recs[v]; r != nil {
			ordered = append(ordered, r)
			if v.LogError != "" {
				unsaved++
			}
		}
	}
	if !*asJSON {
		for _, v := range vols {
			printVolume(e.Stdout, v)
		}
		jsonl := filepath.Join(log.Dir(), fleetlog.JSONLName)
		fmt.Fprintf(e.Stdout, "fleet log: %d record(s) appended to %s\n", len(ordered)-unsaved, jsonl)
	}
	enc := json.NewEncoder(e.Stdout)
	for _, r := range ordered {
		enc.Encode(r)
	}
	if unsaved > 0 {
		fmt.Fprintf(e.Stderr, "unbrick fix: %d fleet log record(s) could not be saved in %s (retried at the end of the run); "+
			"the disks are as each status says, and the records are printed on standard output above (on the unbrick stick, also in logs/boot-*.log): "+
			"keep that copy, free space in the log directory and add them to the fleet log by hand; exit code 1\n", unsaved, log.Dir())
	}
	return remedy.ExitCode(vols, false)
}
