package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/unbrick/unbrick/internal/exitcode"
	"github.com/unbrick/unbrick/internal/fleetlog"
	"github.com/unbrick/unbrick/internal/logship"
	"github.com/unbrick/unbrick/internal/remedy"
	"github.com/unbrick/unbrick/internal/rules"
	"github.com/unbrick/unbrick/ntfs"
)

func newFixCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "fix [key flags] [unclean journal flags] [flags] [TARGET...]",
		Short: "delete the faulty files: plan, undo journal, apply, verify, fleet log",
		Long: `For every Windows system volume on each TARGET (disk image or block device; none:
the host's disks): unlock, find the files the rules call faulty, plan their deletion,
write an undo journal, delete, re-open and verify, and append a fleet log record.
An unclean NTFS journal (a host that crashed) is replayed first by default, in the
same undo journal. It prints each volume's report and the fleet log records
(over several targets, as each target is done); --json prints only the records,
as JSON Lines (one JSON object per volume).
Exit codes, the most severe volume wins: 1 failure > 4 refused > 3 locked >
5 needs review > 0 ok; 2 usage.`,
		Example: `  unbrick fix --keys BitLockerKeys.csv --log /mnt/usb/logs disk.img
  unbrick fix --dry-run --recovery-password-file rp.txt /dev/nvme0n1
  unbrick fix --keys keys.age --technician alice --parallel 2 --json *.img
  unbrick fix --keys BitLockerKeys.csv --parallel 2 --targets-from vm-disks.txt
  unbrick fix --keys keys.csv --targets-from vms.txt --log-url https://logs.example.com/unbrick --log-ca ca.pem`,
	}
	fs := c.Flags()
	kf := addKeyFlags(c)
	rf := addRulesFlags(c)
	exceedHosts := fs.Bool("exceed-rules-host-limit", false, "run over more targets than the rules pack's max_hosts_per_run")
	dryRun := fs.Bool("dry-run", false, "plan and report, write nothing to the disks")
	lf := addLogFlags(c)
	sf := addShipFlags(c, 30*time.Second)
	uf := addUncleanFlags(c)
	technician := addTechnicianFlag(c)
	parallel := fs.Int("parallel", 1, "process `N` targets at once")
	targetsFrom := addTargetsFromFlag(c)
	waveSize := fs.Int("wave-size", 0, "start targets in waves of `N`: the first is a canary, each next wave starts once the previous one is done")
	maxFailures := fs.String("max-failures", "", "stop starting targets once more than `LIMIT` have failed or been refused (a count, or a percentage of the targets such as 5%)")
	asJSON := fs.Bool("json", false, "print only the fleet log records, as JSON Lines (one object per volume)")
	c.RunE = func(_ *cobra.Command, pos []string) error {
		policy, fb, err := uf.policies()
		if err != nil {
			return usageError{err}
		}
		if *parallel < 1 {
			return usagef("--parallel must be at least 1")
		}
		if *waveSize < 0 {
			return usagef("--wave-size must be 0 (no waves) or more")
		}
		waves, err := parseMaxFailures(*maxFailures)
		if err != nil {
			return usageError{err}
		}
		waves.Size = *waveSize
		sinks, err := sf.sinks()
		if err != nil {
			return usageError{err}
		}
		targets, err := gatherTargets(e, pos, *targetsFrom, kf)
		if err != nil {
			return usageError{err}
		}
		return exit(runFix(e, fixRequest{keys: kf, rules: rf, exceedHosts: *exceedHosts, dryRun: *dryRun, log: lf, unclean: policy, fallback: fb,
			technician: *technician, parallel: *parallel, waves: waves, json: *asJSON, ship: sf, sinks: sinks}, targets))
	}
	return c
}

// fixRequest is what the flags of fix ask for.
type fixRequest struct {
	keys              *keyFlags
	rules             *rulesFlags
	exceedHosts       bool // --exceed-rules-host-limit
	pack              *rules.Pack
	dryRun            bool
	log               *logFlags
	unclean, fallback ntfs.UncleanPolicy
	technician        string
	parallel          int
	waves             remedy.Waves
	json              bool
	ship              *shipFlags
	sinks             []logship.Sink
}

// parseMaxFailures reads --max-failures: "" (no limit), a count ("10") or
// a percentage of the targets ("5%").
func parseMaxFailures(s string) (remedy.Waves, error) {
	var w remedy.Waves
	if s == "" {
		return w, nil
	}
	num, pct := strings.CutSuffix(strings.TrimSpace(s), "%")
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 || (!pct && f != float64(int(f))) || (pct && f > 100) {
		return w, fmt.Errorf("--max-failures %q: give a count of targets (10) or a percentage of them (5%%)", s)
	}
	w.Limited, w.MaxFailures, w.Percent = true, f, pct
	return w, nil
}

// runFix plans, journals, applies, verifies and records.
func runFix(e *env, r fixRequest, pos []string) int {
	o, pack, err := engineOptions(e, r.keys, r.rules)
	if err == nil {
		err = checkActions(pack)
	}
	if err == nil {
		err = checkHostLimit(pack, pos, r.exceedHosts)
	}
	if err != nil {
		fmt.Fprintf(e.Stderr, "unbrick fix: %v\n", err)
		return exitcode.Usage
	}
	r.pack = pack
	if !r.json {
		printPack(e.Stdout, pack)
	} else if pack != nil && (!pack.Info.Signed || pack.Info.ExpiryNote != "") {
		printPack(e.Stderr, pack)
	}
	o.Fix.DryRun, o.Fix.Unclean, o.Fix.UncleanFallback, o.Identity.Technician, o.Parallel = r.dryRun, r.unclean, r.fallback, r.technician, r.parallel
	o.Waves = r.waves
	// VMs cloned from one template share their BitLocker volume GUID and,
	// usually, its keys: within a run, a key that opened a volume is tried
	// first on the next volume with that GUID (an AES-CCM check, not a
	// 2^20-round stretch; the usual keys follow if it does not fit).
	o.Keys.Cache = remedy.NewKeyCache()
	o.Fix.JournalDir = r.log.journalDir()
	targets, err := resolveTargets(e, pos, &o)
	if err != nil {
		fmt.Fprintf(e.Stderr, "unbrick fix: %v\n", err)
		return exitcode.Failure
	}
	log, err := fleetlog.Open(r.log.log)
	if err != nil {
		fmt.Fprintf(e.Stderr, "unbrick fix: cannot open the fleet log: %v; nothing was done (pass --log DIR)\n", err)
		return exitcode.Refused
	}
	shipper, err := startShipping(e.Stderr, log.Dir(), r.sinks)
	if err != nil {
		fmt.Fprintf(e.Stderr, "unbrick fix: cannot keep the log shipping spool: %v; nothing was done\n", err)
		return exitcode.Refused
	}
	o.Identity.RunID = remedy.NewRunID(time.Now())
	prog := newBatchProgress(e.Stderr, len(targets))
	ctx, stop := interruptContext(e)
	defer stop()
	// endShipping sends what is left once the disks are done and says
	// what arrived; after Ctrl-C it does not hold the operator up.
	endShipping := func() {
		wait := r.ship.wait
		if ctx.Err() != nil {
			wait = min(wait, 5*time.Second)
		}
		finishShipping(e.Stderr, shipper, wait, log.Dir(), r.ship)
	}
	if len(targets) > 1 && !o.Identity.OnHost {
		return fixMany(ctx, e, r, o, targets, log, prog, shipper, endShipping)
	}
	// Every record is kept for the screen, saved or not: when the fleet log
	// cannot be written, the copy printed here (on the stick: in the screen
	// transcript) is the only one.
	var mu sync.Mutex
	recs := map[*remedy.Volume]*fleetlog.Record{}
	enc := json.NewEncoder(e.Stdout)
	o.Hooks.Log = func(v *remedy.Volume) error {
		rec := v.FleetRecord(&o)
		rec.RulePack = packRecord(r.pack)
		mu.Lock()
		defer mu.Unlock()
		if _, again := recs[v]; !again && r.json {
			enc.Encode(rec) // --json: one event per volume, as it is done
		}
		recs[v] = rec
		if err := log.Append(rec); err != nil {
			return err
		}
		if shipper != nil {
			shipper.Notify()
		}
		return nil
	}
	if prog != nil {
		o.Hooks.Target = prog.target
	}
	vols := remedy.Fix(ctx, targets, o)
	prog.finish()
	endShipping()
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
	if !r.json {
		for _, v := range vols {
			if v.Status == remedy.StatusNotStarted && len(targets) > 1 {
				continue // listed once in the summary
			}
			printVolume(e.Stdout, v)
		}
		jsonl := filepath.Join(log.Dir(), fleetlog.JSONLName)
		fmt.Fprintf(e.Stdout, "fleet log: %d record(s) appended to %s\n", len(ordered)-unsaved, jsonl)
		for _, r := range ordered {
			enc.Encode(r)
		}
		writeSummary(e.Stdout, vols, len(targets))
	}
	if r.json {
		// A volume without a record (a target another run holds, one that
		// could not be opened at all) would leave JSON output silent:
		// say why on standard error.
		for _, v := range vols {
			if recs[v] == nil && v.Status.ExitCode() != exitcode.OK {
				noRecord(e, v)
			}
		}
	}
	if unsaved > 0 {
		unsavedWarning(e, unsaved, log.Dir())
	}
	return remedy.ExitCode(vols, false)
}

// noRecord says on standard error (fix --json) why a volume that did not
// go well has no record.
func noRecord(e *env, v *remedy.Volume) {
	fmt.Fprintf(e.Stderr, "unbrick fix: %s: %s: %s\n", v.Target, v.Status, v.Error)
}

// unsavedWarning tells the operator that n records are missing from the
// fleet log in dir.
func unsavedWarning(e *env, n int, dir string) {
	fmt.Fprintf(e.Stderr, "unbrick fix: %d fleet log record(s) could not be saved in %s (retried at the end of the run); "+
		"the disks are as each status says, and the records are printed on standard output above (on the unbrick stick, also in logs/boot-*.log): "+
		"keep that copy, free space in the log directory and add them to the fleet log by hand; exit code 1\n", n, dir)
}

// fixMany runs fix over several targets (not a host's own disks) in
// memory that does not grow with their number (remedy Options.Stream):
// each target's volume reports and fleet log records are printed as the
// target finishes, in the order targets finish, and only counts are kept
// for the summary and the exit code. A record that could not be saved
// when its volume finished is shown at the end, after the engine's retry,
// with what became of it. With --json, records are printed as they are
// logged, as for one target.
func fixMany(ctx context.Context, e *env, r fixRequest, o remedy.Options, targets []string, log *fleetlog.Log, prog *batchProgress,
	shipper *logship.Shipper, endShipping func()) int {
	m := &manyOut{e: e, json: r.json, o: &o, pack: packRecord(r.pack), log: log, enc: json.NewEncoder(e.Stdout), shipper: shipper,
		pending: map[*remedy.Volume]*fleetlog.Record{}, unsaved: map[*remedy.Volume]*fleetlog.Record{}}
	o.Stream = true
	o.Hooks.Log = m.record
	o.Hooks.Target = func(target string, vols []*remedy.Volume) {
		prog.target(target, vols)
		m.target(vols)
	}
	kept := remedy.Fix(ctx, targets, o)
	prog.finish()
	endShipping()
	return m.finish(kept, len(targets))
}

// manyOut is what fixMany keeps: the records of volumes whose target is
// still in flight, those not saved, and counts.
type manyOut struct {
	e    *env
	json bool
	o    *remedy.Options
	// pack goes into every record: the rules pack used (nil: built-in).
	pack *fleetlog.RulePack
	log  *fleetlog.Log
	enc  *json.Encoder
	// shipper, when log shipping is on, is told of each saved record.
	shipper *logship.Shipper

	mu sync.Mutex
	// pending: records of volumes whose target is not done yet.
	pending map[*remedy.Volume]*fleetlog.Record
	// unsaved: records that could not be saved when their volume
	// finished; the engine hands those volumes back after its retry.
	unsaved  map[*remedy.Volume]*fleetlog.Record
	appended int // records saved
	failed   int // records not saved even on the retry
	sum      fixSummary
	code     int
}

// record is remedy's Hooks.Log: the volume's fleet log record is saved
// (and, with --json, printed).
func (m *manyOut) record(v *remedy.Volume) error {
	rec := v.FleetRecord(m.o)
	rec.RulePack = m.pack
	m.mu.Lock()
	if _, again := m.unsaved[v]; again {
		m.unsaved[v] = rec // the end-of-run retry
	} else {
		m.pending[v] = rec
		if m.json {
			m.enc.Encode(rec) // --json: one event per volume, as it is done
		}
	}
	m.mu.Unlock()
	if err := m.log.Append(rec); err != nil {
		return err
	}
	if m.shipper != nil {
		m.shipper.Notify()
	}
	return nil
}

// target is remedy's Hooks.Target: one target is done.
func (m *manyOut) target(vols []*remedy.Volume) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var shown []*remedy.Volume
	for _, v := range vols {
		rec, ok := m.pending[v]
		delete(m.pending, v)
		if v.LogError != "" {
			m.unsaved[v] = rec // shown at the end, after the retry
			continue
		}
		m.show(v, rec, ok)
		shown = append(shown, v)
	}
	m.code = exitcode.Merge(m.code, remedy.ExitCode(shown, false))
}

// show prints one finished volume (m.mu held) and counts it.
func (m *manyOut) show(v *remedy.Volume, rec *fleetlog.Record, recorded bool) {
	m.sum.add(v)
	if recorded {
		if v.LogError == "" {
			m.appended++
		} else {
			m.failed++
		}
	}
	if m.json {
		if !recorded && v.Status.ExitCode() != exitcode.OK {
			noRecord(m.e, v)
		}
		return
	}
	if v.Status != remedy.StatusNotStarted {
		printVolume(m.e.Stdout, v) // not started: listed once in the summary
	}
	if recorded {
		m.enc.Encode(rec)
	}
}

// finish shows the volumes the engine kept (records not saved when they
// finished), the fleet log line and the summary, and returns the exit
// code.
func (m *manyOut) finish(kept []*remedy.Volume, targets int) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, v := range kept {
		rec, ok := m.unsaved[v]
		m.show(v, rec, ok)
	}
	m.code = exitcode.Merge(m.code, remedy.ExitCode(kept, false))
	if !m.json {
		fmt.Fprintf(m.e.Stdout, "fleet log: %d record(s) appended to %s\n", m.appended, filepath.Join(m.log.Dir(), fleetlog.JSONLName))
		m.sum.write(m.e.Stdout, targets)
	}
	if m.failed > 0 {
		unsavedWarning(m.e, m.failed, m.log.Dir())
	}
	return m.code
}
