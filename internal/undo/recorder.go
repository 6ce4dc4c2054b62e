package undo

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Device is what the Recorder wraps: the partition section of the target.
type Device interface {
	io.ReaderAt
	io.WriterAt
}

// JournalFile is where Commit writes the journal: an *os.File opened for
// writing (created fresh), or anything with the same behaviour.
type JournalFile interface {
	io.Writer
	Sync() error
}

// stagedWrite is one write the Recorder holds until Commit.
type stagedWrite struct {
	off    int64 // section offset
	after  []byte
	before []byte
}

// Recorder is an io.ReaderAt and io.WriterAt over a partition section that
// stages writes in memory, records their before-images, and writes them to
// the section only in Commit, after the undo journal is durable. Reads see
// the staged writes. A Recorder is safe for concurrent use but is meant for
// one fix of one volume.
type Recorder struct {
	dev  Device
	base int64 // section offset 0 = this target offset
	size int64

	mu        sync.Mutex
	writes    []stagedWrite
	committed bool
}

// NewRecorder wraps a partition section of size bytes that starts at byte
// base of the whole target (the journal records target offsets).
func NewRecorder(dev Device, base, size int64) *Recorder {
	return &Recorder{dev: dev, base: base, size: size}
}

// Size returns the section size.
func (r *Recorder) Size() int64 { return r.size }

// Pending returns the number of staged writes.
func (r *Recorder) Pending() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.writes)
}

// ReadAt reads the section as it will be after Commit: device bytes with
// the staged writes laid over them in order.
func (r *Recorder) ReadAt(p []byte, off int64) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.readLocked(p, off)
}

func (r *Recorder) readLocked(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("undo recorder: read at negative offset %d", off)
	}
	if off >= r.size {
		return 0, io.EOF
	}
	want := len(p)
	if int64(want) > r.size-off {
		p = p[:r.size-off]
	}
	n, err := r.dev.ReadAt(p, off)
	if err == io.EOF && n == len(p) {
		err = nil
	}
	if err != nil {
		return n, err
	}
	if !r.committed {
		for _, w := range r.writes {
			overlay(p, off, w.after, w.off)
		}
	}
	if len(p) < want {
		return len(p), io.EOF
	}
	return len(p), nil
}

// overlay copies the part of src (at srcOff) that overlaps dst (at dstOff).
func overlay(dst []byte, dstOff int64, src []byte, srcOff int64) {
	lo := max(dstOff, srcOff)
	hi := min(dstOff+int64(len(dst)), srcOff+int64(len(src)))
	if lo >= hi {
		return
	}
	copy(dst[lo-dstOff:hi-dstOff], src[lo-srcOff:hi-srcOff])
}

// WriteAt stages a write. Nothing reaches the device until Commit.
func (r *Recorder) WriteAt(p []byte, off int64) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.committed {
		return 0, errors.New("undo recorder: write after commit")
	}
	if len(p) == 0 {
		return 0, nil
	}
	if off < 0 || off > r.size || int64(len(p)) > r.size-off {
		return 0, fmt.Errorf("undo recorder: write of %d bytes at %d is outside the %d-byte volume", len(p), off, r.size)
	}
	if len(p) > MaxRecordLen {
		return 0, fmt.Errorf("undo recorder: write of %d bytes exceeds the journal's %d-byte record limit", len(p), MaxRecordLen)
	}
	before := make([]byte, len(p))
	if _, err := r.readLocked(before, off); err != nil {
		return 0, fmt.Errorf("undo recorder: read before-image at %d: %w", off, err)
	}
	after := bytes.Clone(p)
	r.writes = append(r.writes, stagedWrite{off: off, after: after, before: before})
	return len(p), nil
}

// CommitResult says what Commit did.
type CommitResult struct {
	Writes       int   // staged writes
	Applied      int   // writes that reached the device
	JournalBytes int64 // journal size
	// Warning is set when the writes were made but the journal's applied
	// marker could not be written; the journal still restores.
	Warning string
}

// Commit makes the staged writes real. It first checks that the device
// still holds what the writes were staged against (else ErrDiskChanged,
// nothing written). It writes the journal (header,
// records with each write's before- and after-image, prepared marker) to j
// and fsyncs it; if that fails it returns an
// error wrapping ErrJournal and the device is untouched. It then writes every
// staged write to the device in order, calling sync (the device's flush;
// nil to skip) after each one as the ordering barrier, and appends the applied marker to j. A write or sync failure is
// returned after the applied marker records it (status failed). Commit with
// no staged writes writes nothing at all, journal included, and returns a
// zero result.
func (r *Recorder) Commit(j JournalFile, h Header, sync func() error) (CommitResult, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.committed {
		return CommitResult{}, errors.New("undo recorder: already committed")
	}
	res := CommitResult{Writes: len(r.writes)}
	if len(r.writes) == 0 {
		r.committed = true
		return res, nil
	}
	// The device must still hold what the writes were staged against
	// (nothing else wrote to it since): compare every range with the state
	// before the first write, as Restore would.
	recs := make([]Record, len(r.writes))
	cur := make([][]byte, len(r.writes))
	for i, w := range r.writes {
		recs[i] = Record{Offset: w.off, Before: w.before}
		cur[i] = make([]byte, len(w.before))
		if _, err := r.dev.ReadAt(cur[i], w.off); err != nil && !(errors.Is(err, io.EOF)) {
			return res, fmt.Errorf("re-read the disk before writing: %w", err)
		}
	}
	if ok, bad := matchState(recs, cur, 0); !ok {
		return res, fmt.Errorf("%w: %v; nothing was written", ErrDiskChanged, bad)
	}
	h.PartitionOffset = r.base
	h.PartitionSize = r.size
	hdr, err := encodeHeader(&h)
	if err != nil {
		return res, fmt.Errorf("%w: %v", ErrJournal, err)
	}
	var buf bytes.Buffer
	buf.Write(hdr)
	for _, w := range r.writes {
		rec := Record{Offset: r.base + w.off, Before: w.before, After: w.after, AfterSHA: sha256.Sum256(w.after)}
		buf.Write(encodeRecord(&rec))
	}
	buf.Write(encodePrepared(len(r.writes), sha256.Sum256(buf.Bytes())))
	if _, err := j.Write(buf.Bytes()); err != nil {
		return res, fmt.Errorf("%w: %v", ErrJournal, err)
	}
	if err := j.Sync(); err != nil {
		return res, fmt.Errorf("%w: sync: %v", ErrJournal, err)
	}
	res.JournalBytes = int64(buf.Len())
	r.committed = true

	var werr error
	for i, w := range r.writes {
		if _, err := r.dev.WriteAt(w.after, w.off); err != nil {
			werr = fmt.Errorf("write %d of %d (%d bytes at volume offset %d): %w", i+1, len(r.writes), len(w.after), w.off, err)
			break
		}
		// Flush after every write: the write order is the crash-safety
		// barrier the NTFS planner relies on.
		if sync != nil {
			if err := sync(); err != nil {
				werr = fmt.Errorf("flush the disk after write %d of %d: %w", i+1, len(r.writes), err)
				break
			}
		}
		res.Applied++
	}
	marker := encodeApplied(buf.Bytes(), res.Applied, werr != nil)
	if _, err := j.Write(marker); err != nil {
		res.Warning = fmt.Sprintf("the undo journal's final marker could not be written (%v); the journal is still usable", err)
	} else if err := j.Sync(); err != nil {
		res.Warning = fmt.Sprintf("the undo journal's final marker could not be synced (%v); the journal is still usable", err)
	} else {
		res.JournalBytes += int64(len(marker))
	}
	return res, werr
}
