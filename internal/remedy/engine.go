package remedy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/unbrick/unbrick/bitlocker"
	"github.com/unbrick/unbrick/internal/disk"
	"github.com/unbrick/unbrick/internal/hostid"
	"github.com/unbrick/unbrick/internal/keys"
	"github.com/unbrick/unbrick/internal/rules"
	"github.com/unbrick/unbrick/ntfs"
)

// Options configure Scan and Fix.
type Options struct {
	// Keys is the key export (--keys FILE...); may be nil.
	Keys *keys.Set
	// Typed are keys given on the command line (--recovery-password,
	// --password, --bek...), tried before the export's candidates.
	Typed []TypedKey
	// Serial is the host's SMBIOS serial number when running on the host
	// (matches key export rows listed by serial); "" otherwise.
	Serial string
	// Rules decide which files are faulty (nil: the built-in rule).
	Rules *rules.Set

	// Fix only.
	DryRun bool
	// Unclean is what fix does with an unclean NTFS journal: replay (the
	// default, also for ""), refuse or reset. UncleanFallback is what it
	// does when a replay is impossible (an operation unbrick cannot redo,
	// a damaged log): refuse (the default, also for "") or reset.
	Unclean         ntfs.UncleanPolicy
	UncleanFallback ntfs.UncleanPolicy
	JournalDir      string
	// Approve, when set, is asked about each needs-review file of a volume
	// during fix (the wizard shows it to the technician); true deletes it
	// as if the rule had called it faulty. Nil: such files are left alone.
	Approve func(v *Volume, f File) bool
	// Log receives one record per tracked volume as soon as it is done
	// (nil: no fleet log). It must be safe for concurrent use.
	Log func(*Volume) error

	RunID       string
	Technician  string // --technician, for the fleet log
	ToolVersion string // unbrick version, for the fleet log
	// OnHost: unbrick runs booted on the host whose disks it fixes (no
	// TARGET given), so SMBIOS describes the host and its hardware clock
	// is probably in local time (corrected with the SYSTEM hive's bias).
	OnHost bool
	// SMBIOS is the host's identity when OnHost (nil otherwise).
	SMBIOS *hostid.SMBIOS

	Parallel int // targets processed at once (>= 1)

	// Select, when set, limits the work to the volumes it accepts: it is
	// asked about each candidate volume of a target (partition as Linux
	// numbers it, 0 = the whole target is the volume) before the volume
	// is opened, and a volume it rejects is neither opened nor reported. The wizard uses it to check a key on one volume and to fix
	// only the volumes the user chose. Nil: every volume.
	Select func(target string, partition int) bool
	// KeyCache, when set, is consulted before any other key (a cached key
	// costs no stretch) and receives the key of every BitLocker volume
	// unlocked, so Scan, dry run and Fix sharing it derive each key once.
	// Nil: no caching across calls (a single Fix still re-opens for
	// verification without a second stretch).
	KeyCache *KeyCache
	// Progress, when set, is told when a volume enters each Step (unlock,
	// evaluate, plan, journal, write, verify, done). v is the volume's
	// report so far (Target, Partition, VolumeID...). It must be quick and
	// safe for concurrent use (targets run in parallel).
	Progress func(v *Volume, step Step)
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

// TypedKey is a key given on the command line or in the wizard: the
// bitlocker.Key and a label for reports ("--recovery-password", "--bek
// FILE"); never the secret itself.
type TypedKey struct {
	Key    bitlocker.Key
	Source string
	// VolumeGUID, when set, scopes the key to the BitLocker volume with
	// this GUID (braces and case ignored): it is not tried on any other
	// volume, where it would only cost a 2^20-round stretch to fail. The
	// wizard scopes each key the user types to the volume it was asked
	// for. "": tried on every BitLocker volume (command-line keys).
	VolumeGUID string
}

// appliesTo reports whether the key may be tried on the volume with this
// GUID.
func (k TypedKey) appliesTo(volumeGUID string) bool {
	return k.VolumeGUID == "" || normGUID(k.VolumeGUID) == normGUID(volumeGUID)
}

// keyOptions are the keys of o, for Open's key policy.
func (o *Options) keyOptions() *KeyOptions {
	return &KeyOptions{Export: o.Keys, Typed: o.Typed, Serial: o.Serial, Cache: o.KeyCache}
}

func (o *Options) now() time.Time {
	if o.Now != nil {
		return o.Now().UTC()
	}
	return time.Now().UTC()
}

// Scan reports on every volume of the targets and writes nothing.
func Scan(ctx context.Context, targets []string, o Options) []*Volume {
	return runAll(ctx, targets, o, false)
}

// Fix remediates every Windows system volume of the targets (or plans it,
// with DryRun). Each tracked volume's report goes to o.Log as soon as it is
// done.
func Fix(ctx context.Context, targets []string, o Options) []*Volume {
	if o.RunID == "" {
		o.RunID = NewRunID(o.now())
	}
	return runAll(ctx, targets, o, true)
}

// runAll processes targets, o.Parallel at a time, and returns the volume
// reports in target order.
func runAll(ctx context.Context, targets []string, o Options, fix bool) []*Volume {
	targets = uniqueTargets(targets)
	n := max(o.Parallel, 1)
	results := make([][]*Volume, len(targets))
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := ctx.Err(); err != nil {
				results[i] = []*Volume{targetFailure(t, 0, fmt.Errorf("not processed: %w", err))}
				return
			}
			results[i] = processTarget(ctx, t, &o, fix)
		}()
	}
	wg.Wait()
	var out []*Volume
	for _, r := range results {
		out = append(out, r...)
	}
	if o.OnHost && o.Select == nil {
		out = hostNoWindows(out, &o, fix)
	}
	if fix {
		retryLog(out, &o)
	}
	return out
}

// noWindows reports a target (or, booted on a host, the whole host) on
// which no Windows system volume was found: a run never lets a host it
// could not fix pass as fine.
func noWindows(target string, size int64, why string) *Volume {
	return &Volume{Target: target, TargetSize: size, Partition: -1, Kind: "none", Encryption: "none",
		Status: StatusNoWindows, Record: true,
		Error: "no Windows system volume found" + why + ": check that these are the host's disks (and that its disk controller is visible), then look at the host by other means"}
}

// tracked reports whether a target's results include a volume the fleet
// log tracks (a Windows system volume, a locked or unrecognised volume that
// could be one, or a failure).
func tracked(vols []*Volume) bool {
	for _, v := range vols {
		if v.Record || v.Status == StatusBusy {
			return true
		}
	}
	return false
}

// hostNoWindows, for a run booted on the host, replaces the targets'
// no-windows reports by one for the host when nothing else was found on
// any of its disks (a data disk without Windows is normal when the system
// disk was fixed).
func hostNoWindows(vols []*Volume, o *Options, fix bool) []*Volume {
	var out []*Volume
	for _, v := range vols {
		if v.Status != StatusNoWindows {
			out = append(out, v)
		}
	}
	if tracked(out) {
		return out
	}
	v := noWindows("host", 0, " on any disk of this host")
	v.Finished = o.now()
	if fix && o.Log != nil {
		logVolume(v, o)
	}
	return append(out, v)
}

// logVolume hands a finished volume to Options.Log. A record that cannot
// be saved does not change what happened on the disk: the status stays,
// LogError says the record is missing, and retryLog tries again at the
// end of the run.
func logVolume(v *Volume, o *Options) {
	if err := o.Log(v); err != nil {
		v.LogError = err.Error()
	}
}

// retryLog tries once more, at the end of the run, to save the records
// that could not be saved when their volume finished.
func retryLog(vols []*Volume, o *Options) {
	if o.Log == nil {
		return
	}
	for _, v := range vols {
		if v.LogError == "" || !v.Record {
			continue
		}
		if err := o.Log(v); err == nil {
			v.LogError = ""
			v.Notes = append(v.Notes, "the fleet log record was saved on a second attempt at the end of the run")
		} else {
			v.LogError = err.Error()
		}
	}
}

// targetFailure reports a target that could not be read at all.
func targetFailure(path string, size int64, err error) *Volume {
	return &Volume{Target: path, TargetSize: size, Partition: -1, Kind: "unknown",
		Status: StatusFailed, Error: err.Error(), Record: true}
}

// processTarget opens one target and works through its candidates.
func processTarget(ctx context.Context, path string, o *Options, fix bool) []*Volume {
	writable := fix && !o.DryRun
	t, err := disk.OpenTarget(path, writable)
	if err != nil {
		return []*Volume{targetFailure(path, 0, err)}
	}
	defer t.Close()
	if writable {
		// One writer per disk, from planning to the record.
		unlock, err := t.Lock()
		if err != nil {
			v := targetFailure(path, t.Size(), err)
			if errors.Is(err, disk.ErrBusy) {
				v.Status, v.Record = StatusBusy, false
			}
			return []*Volume{v}
		}
		defer unlock()
	}
	cands, err := t.Candidates()
	if err != nil {
		if errors.Is(err, disk.ErrUnrecognized) {
			// No partition table and no volume: nothing that could be
			// Windows was found on this disk.
			v := targetFailure(path, t.Size(), fmt.Errorf("no Windows system volume found: %w: not a disk image or volume unbrick recognises%s", err, gzipHint(t)))
			v.Status, v.Kind = StatusNoWindows, "unrecognized"
			v.Record = !o.OnHost // booted on a host: counted in the host's no-windows report
			if fix && v.Record && o.Log != nil {
				logVolume(v, o)
			}
			return []*Volume{v}
		}
		v := targetFailure(path, t.Size(), err)
		if fix && o.Log != nil {
			logVolume(v, o)
		}
		return []*Volume{v}
	}
	diskName := ""
	if t.IsDevice() {
		if d, err := disk.LookupDisk(disk.DiscoverOptions{}, path); err == nil {
			diskName = strings.TrimSpace(strings.Join([]string{d.Vendor, d.Model}, " "))
			if d.Serial != "" {
				diskName += " serial " + d.Serial
			}
		}
	}
	var out []*Volume
	for i := range cands {
		c := &cands[i]
		if err := ctx.Err(); err != nil {
			break
		}
		if o.Select != nil && !o.Select(path, c.Partition) {
			continue
		}
		v := processCandidate(t, c, o, fix, diskName)
		if v == nil {
			continue
		}
		if fix && v.Record && o.Log != nil {
			logVolume(v, o)
		}
		out = append(out, v)
	}
	if o.Select == nil && ctx.Err() == nil && !tracked(out) {
		v := noWindows(path, t.Size(), " on this disk")
		v.Disk = diskName
		v.Finished = o.now()
		v.Record = !o.OnHost
		for _, s := range out {
			v.Notes = append(v.Notes, fmt.Sprintf("partition %d: %s (%s)", s.Partition, s.Kind, s.Status))
		}
		if fix && v.Record && o.Log != nil {
			logVolume(v, o)
		}
		out = append(out, v)
	}
	return out
}

// gzipHint tells the user to decompress a gzip-compressed image.
func gzipHint(t *disk.Target) string {
	var b [2]byte
	if n, _ := t.ReadAt(b[:], 0); n == 2 && b[0] == 0x1f && b[1] == 0x8b {
		return " (it is gzip-compressed: decompress it first, e.g. gunzip -k " + t.Path() + ")"
	}
	return ""
}

// newVolume fills the report fields every candidate has.
func newVolume(t *disk.Target, c *disk.Candidate) *Volume {
	name := c.Name
	if name == "" {
		name = c.Label
	}
	return &Volume{
		Target: t.Path(), TargetSize: t.Size(), Partition: c.Partition,
		Offset: c.Offset, Size: c.Size, Scheme: c.Scheme, PartName: name,
		Kind: c.Kind.String(), Encryption: "none",
	}
}

// processCandidate handles one candidate volume; nil means it is not worth
// reporting (an EFI partition, an empty slot).
func processCandidate(t *disk.Target, c *disk.Candidate, o *Options, fix bool, diskName string) *Volume {
	start := time.Now()
	v := newVolume(t, c)
	v.Disk = diskName
	switch {
	case c.Kind == disk.BitLocker || c.Kind == disk.NTFS:
		p := &pipeline{o: o, t: t, c: c, v: v, fix: fix}
		p.run()
	case c.Kind.Unsupported():
		v.Status = StatusNeedsReview
		v.Error = fmt.Sprintf("%s: unbrick cannot open this kind of volume; it may hold Windows, check it by other means", c.Kind)
		if c.Note != "" {
			v.Error += " (" + c.Note + ")"
		}
		v.Record = true
	case c.MayHoldWindows():
		v.Status = StatusUnrecognized
		v.Kind = "unrecognized"
		v.Error = fmt.Sprintf("%s may hold Windows but is not a BitLocker or NTFS volume unbrick can open: %s; check that the disk or image is complete and is the right one, then look at it by other means",
			partName(c), c.Unrecognized())
		v.Record = true
	default:
		return nil
	}
	v.Duration = time.Since(start)
	v.Finished = o.now()
	if o.Progress != nil {
		o.Progress(v, StepDone)
	}
	return v
}

func partName(c *disk.Candidate) string {
	if c.Partition == 0 {
		return "the volume"
	}
	return fmt.Sprintf("partition %d", c.Partition)
}

// uniqueTargets drops targets that name a file or device already listed
// (the same image twice, or a device and a symlink to it): two workers
// must never fix one disk at the same time.
func uniqueTargets(targets []string) []string {
	var out []string
	var seen []os.FileInfo
	for _, t := range targets {
		fi, err := os.Stat(t)
		dup := false
		if err == nil {
			for _, s := range seen {
				if os.SameFile(fi, s) {
					dup = true
					break
				}
			}
			if !dup {
				seen = append(seen, fi)
			}
		}
		if !dup {
			out = append(out, t)
		}
	}
	return out
}
