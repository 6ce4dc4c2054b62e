package remedy

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/unbrick/unbrick/bitlocker"
	"github.com/unbrick/unbrick/internal/disk"
	"github.com/unbrick/unbrick/internal/keys"
	"github.com/unbrick/unbrick/internal/redact"
	"github.com/unbrick/unbrick/internal/undo"
	"github.com/unbrick/unbrick/ntfs"
	"github.com/unbrick/unbrick/ntfs/edit"
	"github.com/unbrick/unbrick/ntfs/replay"
)

// KeyOptions are the keys the engine may try on a BitLocker volume
// (Options.Keys, OpenRequest.Keys). What is tried, and in which order, is
// the engine's one policy (see the package documentation, "Per volume",
// step 1).
type KeyOptions struct {
	// Export is the key export (--keys FILE...); may be nil.
	Export *keys.Set
	// Typed are keys given on the command line or in the wizard.
	Typed []TypedKey
	// Serial is the host's SMBIOS serial number when running on the host
	// (matches key export rows listed by serial); "" otherwise.
	Serial string
	// Cache, when set, is tried first (a cached key costs no stretch) and
	// receives the key of every BitLocker volume unlocked, so Scan, dry run
	// and Fix sharing it derive each key once. Nil: no caching across
	// calls (a single Fix still re-opens for verification without a second
	// stretch).
	Cache *KeyCache
}

// OpenRequest says which volume Open opens and how.
type OpenRequest struct {
	Target    string      // image file or block device
	Partition int         // as Linux numbers it; 0: the only volume of an accepted kind
	Accept    []disk.Kind // acceptable kinds; default BitLocker and NTFS
	Keys      KeyOptions
	// Writable opens the target read-write. Writes then go only through
	// Stage and Commit (undo journal, one sync barrier, verify).
	Writable bool
	// Stage stages writes in memory (an undo.Recorder under BitLocker)
	// without Writable too: a dry run plans exactly what a write would do.
	Stage bool
	// NoUnlock opens a BitLocker volume without unlocking it (bitlocker
	// info); reading its plaintext then fails.
	NoUnlock bool
}

// Opened is a volume opened from a target: partition, BitLocker (unlocked
// with the engine's key policy) and the plaintext view NTFS lives on.
type Opened struct {
	Target    *disk.Target
	Candidate *disk.Candidate
	Section   *disk.Section
	// BitLocker is nil for a plain NTFS volume; BitLockerInfo then too.
	BitLocker     *bitlocker.Volume
	BitLockerInfo *BitLockerInfo
	// VolumeID is the BitLocker volume GUID, or the NTFS serial once NTFS
	// was opened on a plain volume.
	VolumeID string
	// Notes: damaged metadata copies and the like, for the report.
	Notes []string
	// KeyDerivations counts the 2^20-round stretches spent unlocking.
	KeyDerivations int

	rec   *undo.Recorder // nil unless staging
	view  readWriterAt   // what NTFS lives on
	size  int64
	owned bool // Close closes Target
}

type readWriterAt interface {
	io.ReaderAt
	io.WriterAt
}

// Open is the one way from (target, partition, keys) to a plaintext
// volume. Errors carry the Status they mean (ErrorStatus): locked (no key
// opened it), refused, failed; a *disk.SelectError when the partition is
// ambiguous or absent. Close the result.
func Open(req OpenRequest) (*Opened, error) {
	t, err := disk.OpenTarget(req.Target, req.Writable)
	if err != nil {
		return nil, failed(err)
	}
	accept := req.Accept
	if len(accept) == 0 {
		accept = []disk.Kind{disk.BitLocker, disk.NTFS}
	}
	c, err := t.Select(req.Partition, accept...)
	if err != nil {
		t.Close()
		return nil, failed(err)
	}
	if c.Kind == disk.BitLockerToGo {
		t.Close()
		return nil, failed(fmt.Errorf("%s: %w", candidateName(t, c), bitlocker.ErrBitLockerToGo))
	}
	o, err := openCandidate(t, c, &req.Keys, req.Stage || req.Writable, req.NoUnlock)
	if err != nil {
		t.Close()
		var oc *outcome
		if errors.As(err, &oc) {
			return nil, &outcome{oc.status, fmt.Errorf("%s: %w", candidateName(t, c), oc.err)}
		}
		return nil, fmt.Errorf("%s: %w", candidateName(t, c), err)
	}
	o.owned = true
	return o, nil
}

// openCandidate opens one candidate of an open target. On an unlock
// failure it returns the Opened too (its BitLockerInfo says what was
// found) with the error.
func openCandidate(t *disk.Target, c *disk.Candidate, ks *KeyOptions, stage, noUnlock bool) (*Opened, error) {
	sec := t.Section(c)
	o := &Opened{Target: t, Candidate: c, Section: sec, size: sec.Size()}
	o.view = sec
	if stage {
		o.rec = undo.NewRecorder(sec, c.Offset, sec.Size())
		o.view = o.rec
	}
	if c.Kind != disk.BitLocker {
		return o, nil
	}
	// bitlocker sees only the bytes the image holds: past them it shows
	// zeros (not decrypted zeros), and Short says so.
	bl, err := bitlocker.Open(o.view, sec.Size()-sec.Missing())
	if err != nil {
		if errors.Is(err, bitlocker.ErrBitLockerToGo) || errors.Is(err, bitlocker.ErrUnsupported) {
			return o, &outcome{StatusNeedsReview, fmt.Errorf("open BitLocker: %w", err)}
		}
		return o, failed(fmt.Errorf("open BitLocker: %w", err))
	}
	o.BitLocker = bl
	o.BitLockerInfo, o.Notes = bitLockerReport(bl)
	o.VolumeID = o.BitLockerInfo.VolumeGUID
	o.view, o.size = bl, bl.Size()
	if noUnlock {
		return o, nil
	}
	n, err := unlock(bl, o.BitLockerInfo, ks)
	o.KeyDerivations = n
	return o, err
}

func candidateName(t *disk.Target, c *disk.Candidate) string {
	if c.Partition == 0 {
		return t.Path()
	}
	return fmt.Sprintf("%s partition %d", t.Path(), c.Partition)
}

// Name describes the volume in messages ("disk.img partition 3").
func (o *Opened) Name() string { return candidateName(o.Target, o.Candidate) }

// Close releases the target (when Open opened it).
func (o *Opened) Close() error {
	if !o.owned {
		return nil
	}
	return o.Target.Close()
}

// ReadAt reads the plaintext volume (with staged writes laid over it).
func (o *Opened) ReadAt(p []byte, off int64) (int, error) { return o.view.ReadAt(p, off) }

// Size is the plaintext volume size.
func (o *Opened) Size() int64 { return o.size }

// Short reports whether the image ends before the volume: reads there
// give zeros and nothing is ever written (CheckWhole).
func (o *Opened) Short() bool {
	return o.Section.Short() || (o.BitLocker != nil && o.BitLocker.Short())
}

// ShortWarning is a one-line warning for a short volume ("" otherwise).
func (o *Opened) ShortWarning() string {
	switch {
	case !o.Short():
		return ""
	case o.BitLocker != nil:
		return fmt.Sprintf("%s: the image ends %d bytes before the end of the %d-byte volume; reading zeros there",
			o.Name(), o.BitLocker.Size()-o.BitLocker.ImageSize(), o.BitLocker.Size())
	}
	return fmt.Sprintf("%s: the image ends %d bytes before the end of the %d-byte volume; reading zeros there",
		o.Name(), o.Section.Missing(), o.Section.Size())
}

// CheckWhole refuses (StatusRefused) a volume the image does not hold
// whole: the one check fix and ntfs rm make before planning a write, and
// Commit before writing.
func (o *Opened) CheckWhole() error {
	if !o.Short() {
		return nil
	}
	missing := o.Section.Missing()
	if o.BitLocker != nil && o.BitLocker.Short() {
		missing = max(missing, o.BitLocker.Size()-o.BitLocker.ImageSize())
	}
	return refused("the image ends before the volume does (%d bytes of it are missing): a volume unbrick cannot see whole is never modified; nothing was written", missing)
}

// NTFS opens the file system on the plaintext view (with staged writes).
// On a plain volume it sets VolumeID to the NTFS serial.
func (o *Opened) NTFS() (*ntfs.Volume, error) {
	nv, err := ntfs.Open(o.view, o.size)
	if err != nil {
		return nil, err
	}
	if o.BitLocker == nil {
		o.VolumeID = fmt.Sprintf("%016X", nv.Info().Serial)
	}
	return nv, nil
}

// Stage stages a plan's writes in memory (Open with Stage or Writable):
// nothing reaches the disk before Commit.
func (o *Opened) Stage(plan *edit.Plan) error {
	if o.rec == nil {
		return errors.New("volume not opened for staging")
	}
	return edit.Apply(o.view, plan, edit.ApplyOptions{NoSync: true})
}

// StageReplay plans the replay of nv's unclean journal (replay.Plan),
// stages it and re-opens NTFS on the staged volume, whose journal must
// then be clean. A journal that cannot be replayed returns the
// *replay.UnsupportedLogOpError or *replay.ReplayRefusedError unwrapped,
// staging nothing: the caller applies its fallback.
func (o *Opened) StageReplay(nv *ntfs.Volume) (*ntfs.Volume, *replay.ReplayResult, error) {
	res, err := replay.Plan(nv)
	if err != nil {
		var ue *replay.UnsupportedLogOpError
		var re *replay.ReplayRefusedError
		if errors.As(err, &ue) || errors.As(err, &re) {
			return nil, nil, err
		}
		return nil, nil, failed(fmt.Errorf("plan the NTFS journal replay (nothing was written): %w", err))
	}
	if err := o.Stage(res.Plan); err != nil {
		return nil, nil, failed(fmt.Errorf("stage the NTFS journal replay (nothing was written): %w", err))
	}
	after, err := ntfs.Open(o.view, o.size)
	if err != nil {
		return nil, nil, failed(fmt.Errorf("re-open NTFS after the staged journal replay (nothing was written): %w", err))
	}
	js, err := after.JournalState()
	if err != nil {
		return nil, nil, failed(fmt.Errorf("read the NTFS journal state after the staged replay (nothing was written): %w", err))
	}
	if !js.Clean {
		return nil, nil, failed(fmt.Errorf("the NTFS journal is still not clean after the staged replay (%s); nothing was written", js.Reason))
	}
	return after, res, nil
}

// JournalOptions say where Commit keeps the undo journal.
type JournalOptions struct {
	Dir   string // JDIR: the journal is JDIR/<run-id>-<volume-id>.journal
	RunID string
	// Disk names a block device's model and serial ("" for an image): the
	// journal's target name is the path (redacted) and this.
	Disk string
	Now  time.Time
	// Journaled, when set, is called once the undo journal is on stable
	// storage, before the first byte of the disk is written.
	Journaled func()
}

// Committed is what Commit did.
type Committed struct {
	JournalFile     string
	Writes, Applied int
	// Warning: the writes are on the disk but the journal's end marker
	// (or its close) failed.
	Warning string
}

// Commit is the one write path: it refuses a volume the image does not
// hold whole, writes and fsyncs the undo journal, checks that the disk
// still holds what the writes were staged against, writes them in order
// with the target's own Sync after each (one descriptor, one barrier),
// and appends the applied marker. Refusals (no journal directory, a
// journal that cannot be written, a disk that changed) write nothing.
func (o *Opened) Commit(j JournalOptions) (*Committed, error) {
	if err := o.CheckWhole(); err != nil {
		return nil, err
	}
	if o.rec == nil || !o.Target.Writable() {
		return nil, refused("the volume was not opened for writing: nothing was written")
	}
	if j.Dir == "" {
		return nil, refused("no journal directory: unbrick never writes without an undo journal")
	}
	if j.RunID == "" {
		j.RunID = NewRunID(time.Now())
	}
	if j.Now.IsZero() {
		j.Now = time.Now().UTC()
	}
	f, path, err := createJournal(j.Dir, j.RunID, o.VolumeID, fmt.Sprintf("%s@%d", o.Target.Path(), o.Candidate.Offset))
	if err != nil {
		return nil, refused("%v: nothing was written", err)
	}
	jf := &journaled{JournalFile: f, done: j.Journaled}
	// The name is for humans; like everything unbrick writes, it passes
	// the redactor (a path can hold a secret typed by mistake).
	target := redact.String(o.Target.Path())
	if j.Disk != "" {
		target += " [" + j.Disk + "]"
	}
	h := undo.Header{Created: j.Now, RunID: j.RunID, VolumeID: o.VolumeID, Target: target, TargetSize: o.Target.Size()}
	res, err := o.rec.Commit(jf, h, o.Target.Sync)
	cerr := f.Close()
	if errors.Is(err, undo.ErrJournal) || errors.Is(err, undo.ErrDiskChanged) {
		os.Remove(path)
		return nil, refused("%v: nothing was written", err)
	}
	c := &Committed{JournalFile: path, Writes: res.Writes, Applied: res.Applied, Warning: res.Warning}
	if err != nil {
		return c, failed(fmt.Errorf("%w (%d of %d writes made; run 'unbrick undo --journal %s %s' to put the disk back)",
			err, res.Applied, res.Writes, path, o.Target.Path()))
	}
	if c.Warning == "" && cerr != nil {
		c.Warning = "closing the undo journal: " + cerr.Error()
	}
	return c, nil
}

// journaled calls done once the undo journal is on stable storage (its
// first successful Sync): the recorder writes the disk only after that.
type journaled struct {
	undo.JournalFile
	done   func()
	synced bool
}

func (j *journaled) Sync() error {
	err := j.JournalFile.Sync()
	if err == nil && !j.synced {
		j.synced = true
		if j.done != nil {
			j.done()
		}
	}
	return err
}

// Reopen opens the volume again from the target, from scratch, for
// verification: a new section, a new BitLocker volume unlocked with the
// key the first one unwrapped (no second stretch), a new NTFS volume.
func (o *Opened) Reopen() (*ntfs.Volume, error) {
	sec := o.Target.Section(o.Candidate)
	var view io.ReaderAt = sec
	size := sec.Size()
	if o.BitLocker != nil {
		bl, err := bitlocker.Open(sec, sec.Size()-sec.Missing())
		if err != nil {
			return nil, fmt.Errorf("re-open BitLocker: %w", err)
		}
		if err := bl.Unlock(o.BitLocker.ReuseKey()); err != nil {
			return nil, fmt.Errorf("re-unlock BitLocker with the key already unwrapped: %w", err)
		}
		view, size = bl, bl.Size()
	}
	nv, err := ntfs.Open(view, size)
	if err != nil {
		return nil, fmt.Errorf("re-open NTFS: %w", err)
	}
	return nv, nil
}
