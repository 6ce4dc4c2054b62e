package edit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// ErrStopped is returned by Apply when ApplyOptions.StopAfter cut the plan
// short (a simulated power cut, for tests).
var ErrStopped = errors.New("apply stopped after the requested number of writes (simulated power cut)")

// DiskChangedError reports that the volume no longer holds what the plan was
// built from: nothing was written. Plan again.
type DiskChangedError struct {
	Index  int    // 0-based index of the first write whose before-image differs
	Offset int64  // volume byte offset of the first differing byte
	What   string // the structure of that write
}

func (e *DiskChangedError) Error() string {
	return fmt.Sprintf("the volume changed since the plan was made (%s, byte offset %#x differs from the planned before-image): nothing was written; plan again",
		e.What, e.Offset)
}

// InvalidPlanError reports a plan that Apply refuses to carry out (a bug in
// the planner, or a plan edited by hand). Nothing was written.
type InvalidPlanError struct {
	Index  int
	Reason string
}

func (e *InvalidPlanError) Error() string {
	return fmt.Sprintf("invalid write plan (write %d): %s; nothing was written", e.Index+1, e.Reason)
}

// WriteError reports a failure while writing: Done writes reached the disk
// before it (their before-images went to ApplyOptions.BeforeWrite, so the
// undo journal can restore them).
type WriteError struct {
	Index int // 0-based index of the write that failed
	Done  int // writes completed before it
	What  string
	Err   error
}

func (e *WriteError) Error() string {
	return fmt.Sprintf("write %d (%s) failed after %d completed write(s): %v", e.Index+1, e.What, e.Done, e.Err)
}

func (e *WriteError) Unwrap() error { return e.Err }

// ApplyOptions controls Apply.
type ApplyOptions struct {
	// Reader reads the volume back (before-image check, read-back
	// verification). When nil, the io.WriterAt passed to Apply must also be
	// an io.ReaderAt.
	Reader io.ReaderAt

	// BeforeWrite, when set, is called for write i after the whole plan's
	// before-images were checked against the volume and before write i
	// reaches it. An undo journal records w.Before here (and makes it
	// durable before returning). An error stops Apply: write i and the
	// following ones are not made.
	BeforeWrite func(i int, w *Write) error

	// AfterWrite, when set, is called once write i was written, synced and
	// (unless NoVerify) read back equal to w.After.
	AfterWrite func(i int, w *Write) error

	// StopAfter > 0 stops Apply after that many writes, as a power cut
	// would, and returns ErrStopped. For tests.
	StopAfter int

	// NoSync skips the Sync() call after each write. Sync (when the
	// io.WriterAt has a Sync() error method, as *os.File does) is the
	// ordering barrier the crash-safe write order relies on; only tests on
	// scratch files should skip it.
	NoSync bool

	// Sync, when set, is the ordering barrier used after each write when
	// the io.WriterAt has no Sync() error method of its own (for example a
	// BitLocker volume over a block device: pass the device's Sync).
	Sync func() error

	// NoVerify skips reading each write back.
	NoVerify bool
}

type syncer interface{ Sync() error }

// Apply carries out p on w: the one place where this package writes to a
// volume. Before the first write it checks that every write's before-image
// still matches the volume (writes that overlap an earlier write of the
// same plan must start from that write's after-image) and refuses with
// *DiskChangedError, writing nothing, if not. Then, in plan order, for each
// write: BeforeWrite hook, WriteAt, Sync, read-back check, AfterWrite hook.
func Apply(w io.WriterAt, p *Plan, opts ApplyOptions) error {
	if p == nil {
		return &InvalidPlanError{Index: -1, Reason: "no plan"}
	}
	r := opts.Reader
	if r == nil {
		rr, ok := w.(io.ReaderAt)
		if !ok {
			return errors.New("apply: the target cannot be read back (not an io.ReaderAt and ApplyOptions.Reader is nil); nothing was written")
		}
		r = rr
	}
	if err := checkPlan(p); err != nil {
		return err
	}
	if err := checkBeforeImages(r, p); err != nil {
		return err
	}
	for i := range p.Writes {
		if opts.StopAfter > 0 && i >= opts.StopAfter {
			return ErrStopped
		}
		wr := &p.Writes[i]
		if opts.BeforeWrite != nil {
			if err := opts.BeforeWrite(i, wr); err != nil {
				return &WriteError{Index: i, Done: i, What: wr.What, Err: fmt.Errorf("before-write hook: %w", err)}
			}
		}
		n, err := w.WriteAt(wr.After, wr.Offset)
		if err == nil && n != len(wr.After) {
			err = io.ErrShortWrite
		}
		if err != nil {
			return &WriteError{Index: i, Done: i, What: wr.What, Err: err}
		}
		if !opts.NoSync {
			var err error
			if s, ok := w.(syncer); ok {
				err = s.Sync()
			} else if opts.Sync != nil {
				err = opts.Sync()
			}
			if err != nil {
				return &WriteError{Index: i, Done: i, What: wr.What, Err: fmt.Errorf("sync: %w", err)}
			}
		}
		if !opts.NoVerify {
			got := make([]byte, len(wr.After))
			if _, err := r.ReadAt(got, wr.Offset); err != nil && !(errors.Is(err, io.EOF) && len(got) > 0) {
				return &WriteError{Index: i, Done: i + 1, What: wr.What, Err: fmt.Errorf("read back: %w", err)}
			}
			if !bytes.Equal(got, wr.After) {
				return &WriteError{Index: i, Done: i + 1, What: wr.What, Err: errors.New("read back differs from what was written")}
			}
		}
		if opts.AfterWrite != nil {
			if err := opts.AfterWrite(i, wr); err != nil {
				return &WriteError{Index: i, Done: i + 1, What: wr.What, Err: fmt.Errorf("after-write hook: %w", err)}
			}
		}
	}
	return nil
}

// checkPlan validates the shape of every write.
func checkPlan(p *Plan) error {
	ss := int64(p.SectorSize)
	if ss < 512 || ss&(ss-1) != 0 {
		return &InvalidPlanError{Index: -1, Reason: fmt.Sprintf("sector size %d is not a power of two >= 512", p.SectorSize)}
	}
	for i := range p.Writes {
		w := &p.Writes[i]
		switch {
		case len(w.After) == 0:
			return &InvalidPlanError{Index: i, Reason: "empty write"}
		case len(w.Before) != len(w.After):
			return &InvalidPlanError{Index: i, Reason: fmt.Sprintf("before-image %d bytes, after-image %d bytes", len(w.Before), len(w.After))}
		case w.Offset < 0 || w.Offset%ss != 0 || int64(len(w.After))%ss != 0:
			return &InvalidPlanError{Index: i, Reason: fmt.Sprintf("offset %#x length %d not aligned to %d-byte sectors", w.Offset, len(w.After), ss)}
		}
	}
	return nil
}

// checkBeforeImages compares each write's before-image with the volume,
// except for bytes an earlier write of the plan covers: there the
// before-image must equal that earlier write's after-image.
func checkBeforeImages(r io.ReaderAt, p *Plan) error {
	for i := range p.Writes {
		w := &p.Writes[i]
		end := w.Offset + int64(len(w.Before))
		covered := make([]bool, len(w.Before))
		anyCovered := false
		// Latest earlier write wins: walk backwards and mark bytes once.
		for j := i - 1; j >= 0; j-- {
			e := &p.Writes[j]
			eEnd := e.Offset + int64(len(e.After))
			lo, hi := max(w.Offset, e.Offset), min(end, eEnd)
			if lo >= hi {
				continue
			}
			for o := lo; o < hi; o++ {
				k := o - w.Offset
				if covered[k] {
					continue
				}
				covered[k] = true
				anyCovered = true
				if w.Before[k] != e.After[o-e.Offset] {
					return &InvalidPlanError{Index: i, Reason: fmt.Sprintf("before-image at %#x disagrees with write %d's after-image", o, j+1)}
				}
			}
		}
		disk := make([]byte, len(w.Before))
		n, err := r.ReadAt(disk, w.Offset)
		if err != nil && !(errors.Is(err, io.EOF) && n == len(disk)) {
			return fmt.Errorf("read %s at %#x to check the plan: %w; nothing was written", w.What, w.Offset, err)
		}
		for k := range disk {
			if anyCovered && covered[k] {
				continue
			}
			if disk[k] != w.Before[k] {
				return &DiskChangedError{Index: i, Offset: w.Offset + int64(k), What: w.What}
			}
		}
	}
	return nil
}
