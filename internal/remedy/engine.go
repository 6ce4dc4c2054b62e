package remedy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/unbrick/unbrick/internal/disk"
	"github.com/unbrick/unbrick/internal/undo"
)

// Scan reports on every volume of the targets and writes nothing.
func Scan(ctx context.Context, targets []string, o Options) []*Volume {
	return runAll(ctx, targets, o, false)
}

// Fix remediates every Windows system volume of the targets (or plans it,
// with DryRun). Each tracked volume's report goes to o.Log as soon as it is
// done.
func Fix(ctx context.Context, targets []string, o Options) []*Volume {
	if o.Identity.RunID == "" {
		o.Identity.RunID = NewRunID(o.now())
	}
	return runAll(ctx, targets, o, true)
}

// runAll processes targets, o.Parallel at a time and in o.Waves, and
// returns the volume reports in target order (with o.Stream, only those
// it kept: see Options.Stream). Once ctx is done or the failure limit is
// passed it starts no new target (those are reported not-started);
// targets in flight finish.
func runAll(ctx context.Context, targets []string, o Options, fix bool) []*Volume {
	targets = uniqueTargets(targets)
	if fix && o.Fix.JournalDir != "" {
		// Read the journal folder once, before this run adds to it:
		// thousands of disks cloned from one template share a volume ID,
		// and each would otherwise read every journal of the others.
		o.journals, o.journalsErr = undo.NewIndex(o.Fix.JournalDir)
	}
	n := max(o.Parallel, 1)
	hostWide := o.Identity.OnHost && o.Hooks.Select == nil
	kept := newKeeper(len(targets), o.Stream && !hostWide)
	sem := make(chan struct{}, n)
	p := &pacer{limit: o.Waves.limit(len(targets))}
	done := func(i int, vols []*Volume) {
		kept.keep(i, vols)
		p.finished(vols)
		if o.Hooks.Target != nil {
			o.Hooks.Target(targets[i], vols)
		}
	}
	var wg sync.WaitGroup
	for i, t := range targets {
		if o.Waves.Size > 0 && i > 0 && i%o.Waves.Size == 0 {
			wg.Wait() // the previous wave is done before the next starts
		}
		sem <- struct{}{}
		if why := p.stopReason(ctx); why != "" {
			<-sem
			done(i, []*Volume{notStarted(t, why)})
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			done(i, processTarget(ctx, t, &o, fix))
		}()
	}
	wg.Wait()
	out := kept.reports()
	if hostWide {
		out = hostNoWindows(out, &o, fix)
	}
	if fix {
		retryLog(out, &o)
	}
	return out
}

// keeper holds the reports runAll returns: every target's, or, when
// streaming, only those whose fleet log record could not be saved (for
// retryLog and the caller's end-of-run account), so that a run over
// thousands of targets does not keep thousands of reports.
type keeper struct {
	stream bool
	mu     sync.Mutex
	every  [][]*Volume       // by target index (not streaming)
	some   map[int][]*Volume // by target index, only targets with such a report (streaming)
}

func newKeeper(targets int, stream bool) *keeper {
	if stream {
		return &keeper{stream: true, some: map[int][]*Volume{}}
	}
	return &keeper{every: make([][]*Volume, targets)}
}

// keep records target i's reports.
func (k *keeper) keep(i int, vols []*Volume) {
	if !k.stream {
		k.every[i] = vols // each index is written by one goroutine
		return
	}
	var unsaved []*Volume
	for _, v := range vols {
		if v.LogError != "" {
			unsaved = append(unsaved, v)
		}
	}
	if len(unsaved) == 0 {
		return
	}
	k.mu.Lock()
	k.some[i] = unsaved
	k.mu.Unlock()
}

// reports returns the kept reports in target order (once every target
// is done).
func (k *keeper) reports() []*Volume {
	var out []*Volume
	if !k.stream {
		for _, r := range k.every {
			out = append(out, r...)
		}
		return out
	}
	idx := make([]int, 0, len(k.some))
	for i := range k.some {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	for _, i := range idx {
		out = append(out, k.some[i]...)
	}
	return out
}

// noWindows reports a target (or, booted on a host, the whole host) on
// which no Windows system volume was found: a run never lets a host it
// could not fix pass as fine.
func noWindows(target string, size int64, why string) *Volume {
	v := &Volume{Target: target, TargetSize: size, Partition: -1, Kind: "none", Encryption: "none", Record: true}
	settle(v, end{err: stoppedAs(StatusNoWindows, errors.New("no Windows system volume found"+why+": check that these are the host's disks (and that its disk controller is visible), then look at the host by other means"))})
	return v
}

// tracked reports whether a target's results include a volume the fleet
// log tracks (a Windows system volume, a locked or unrecognised volume that
// could be one, or a failure), or one another run or a stop kept from
// being looked at (busy, not started): then no-windows would be a guess.
func tracked(vols []*Volume) bool {
	for _, v := range vols {
		if v.Record || v.Status == StatusBusy || v.Status == StatusNotStarted {
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
	if fix && o.Hooks.Log != nil {
		logVolume(v, o)
	}
	return append(out, v)
}

// logVolume hands a finished volume to Hooks.Log. A record that cannot
// be saved does not change what happened on the disk: the status stays,
// LogError says the record is missing, and retryLog tries again at the
// end of the run.
func logVolume(v *Volume, o *Options) {
	if err := o.Hooks.Log(v); err != nil {
		v.LogError = err.Error()
	}
}

// retryLog tries once more, at the end of the run, to save the records
// that could not be saved when their volume finished.
func retryLog(vols []*Volume, o *Options) {
	if o.Hooks.Log == nil {
		return
	}
	for _, v := range vols {
		if v.LogError == "" || !v.Record {
			continue
		}
		if err := o.Hooks.Log(v); err == nil {
			v.LogError = ""
			v.Notes = append(v.Notes, "the fleet log record was saved on a second attempt at the end of the run")
		} else {
			v.LogError = err.Error()
		}
	}
}

// targetFailure reports a target that could not be read at all.
// err carries the status (failed unless it says otherwise).
func targetFailure(path string, size int64, err error) *Volume {
	v := &Volume{Target: path, TargetSize: size, Partition: -1, Kind: "unknown", Record: true}
	settle(v, end{err: err})
	return v
}

// processTarget opens one target and works through its candidates.
func processTarget(ctx context.Context, path string, o *Options, fix bool) []*Volume {
	writable := o.writing(fix)
	t, err := disk.OpenTarget(path, writable)
	if errors.Is(err, disk.ErrBusy) {
		v := targetFailure(path, 0, stoppedAs(StatusBusy, err))
		v.Record = false
		return []*Volume{v}
	}
	if err != nil {
		v := targetFailure(path, 0, err)
		var ue *disk.UnsupportedContainerError
		if errors.As(err, &ue) {
			// A VM disk in a format unbrick does not open (or will not
			// write): a real disk, left unfixed, that the fleet log must
			// count.
			if ue.Unsafe {
				v = targetFailure(path, 0, stoppedAs(StatusRefused, err))
			}
			v.Kind = "unsupported-image"
			if fi, serr := os.Stat(path); serr == nil {
				v.TargetSize = fi.Size()
			}
			if fix && o.Hooks.Log != nil {
				logVolume(v, o)
			}
		}
		return []*Volume{v}
	}
	defer t.Close()
	if writable {
		// One writer per disk, from planning to the record.
		unlock, err := t.Lock()
		if err != nil {
			var inUse *disk.VolumeInUseError
			if errors.Is(err, disk.ErrBusy) {
				err = stoppedAs(StatusBusy, err)
			} else if errors.As(err, &inUse) {
				// Windows: a volume on the disk is in use, so it cannot be
				// locked and dismounted; nothing was written.
				err = stoppedAs(StatusRefused, err)
			}
			v := targetFailure(path, t.Size(), err)
			if errors.Is(err, disk.ErrBusy) {
				v.Record = false
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
			v := targetFailure(path, t.Size(), stoppedAs(StatusNoWindows, fmt.Errorf("no Windows system volume found: %w: not a disk image or volume unbrick recognises%s", err, gzipHint(t))))
			v.Kind = "unrecognized"
			v.Container = container(t)
			v.Record = !o.Identity.OnHost // booted on a host: counted in the host's no-windows report
			if fix && v.Record && o.Hooks.Log != nil {
				logVolume(v, o)
			}
			return []*Volume{v}
		}
		v := targetFailure(path, t.Size(), err)
		if fix && o.Hooks.Log != nil {
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
		if o.Hooks.Select != nil && !o.Hooks.Select(path, c.Partition) {
			continue
		}
		v := processCandidate(t, c, o, fix, diskName)
		if v == nil {
			continue
		}
		if fix && v.Record && o.Hooks.Log != nil {
			logVolume(v, o)
		}
		out = append(out, v)
	}
	if o.Hooks.Select == nil && ctx.Err() == nil && !tracked(out) {
		v := noWindows(path, t.Size(), " on this disk")
		v.Disk, v.Container = diskName, container(t)
		v.Finished = o.now()
		v.Record = !o.Identity.OnHost
		for _, s := range out {
			v.Notes = append(v.Notes, fmt.Sprintf("partition %d: %s (%s)", s.Partition, s.Kind, s.Status))
		}
		if fix && v.Record && o.Hooks.Log != nil {
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

// container names a non-raw container of the target ("" for raw).
func container(t *disk.Target) string {
	c := t.Container()
	switch {
	case c == disk.ContainerRaw:
		return ""
	case t.Format() != "":
		return string(c) + ": " + t.Format()
	}
	return string(c)
}

// newVolume fills the report fields every candidate has.
func newVolume(t *disk.Target, c *disk.Candidate) *Volume {
	name := c.Name
	if name == "" {
		name = c.Label
	}
	return &Volume{
		Target: t.Path(), TargetSize: t.Size(), Partition: c.Partition,
		Offset: c.Offset, Size: c.Size, Scheme: c.Scheme, PartName: name, Container: container(t),
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
		settle(v, runSteps(&volumeRun{o: o, t: t, c: c, fix: fix, diskName: diskName, v: v}))
	case c.Kind.Unsupported():
		msg := fmt.Sprintf("%s: unbrick cannot open this kind of volume; it may hold Windows, check it by other means", c.Kind)
		if c.Note != "" {
			msg += " (" + c.Note + ")"
		}
		settle(v, end{err: stoppedAs(StatusNeedsReview, errors.New(msg))})
		v.Record = true
	case c.MayHoldWindows():
		v.Kind = "unrecognized"
		settle(v, end{err: stoppedAs(StatusUnrecognized, fmt.Errorf("%s may hold Windows but is not a BitLocker or NTFS volume unbrick can open: %s; check that the disk or image is complete and is the right one, then look at it by other means",
			partName(c), c.Unrecognized()))})
		v.Record = true
	default:
		return nil
	}
	v.Duration = time.Since(start)
	v.Finished = o.now()
	if o.Hooks.Progress != nil {
		o.Hooks.Progress(v, StepDone)
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
// must never fix one disk at the same time. Files are told apart by
// device and inode where the system has them (a map: thousands of
// targets are not compared pairwise), else by os.SameFile.
func uniqueTargets(targets []string) []string {
	var out []string
	ids := map[fileID]bool{}
	var others []os.FileInfo // files without an identity
	for _, t := range targets {
		fi, err := os.Stat(t)
		if err == nil {
			if id, ok := fileIdentity(fi); ok {
				if ids[id] {
					continue
				}
				ids[id] = true
			} else if slices.ContainsFunc(others, func(s os.FileInfo) bool { return os.SameFile(fi, s) }) {
				continue
			} else {
				others = append(others, fi)
			}
		}
		out = append(out, t)
	}
	return out
}

// fileID is a file's identity (device and inode) for uniqueTargets.
type fileID struct{ dev, ino uint64 }
