package undo

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"github.com/unbrick/unbrick/internal/inputfile"
)

// ErrWrongTarget: the target is not the one the journal was written for.
var ErrWrongTarget = errors.New("the target is not the disk this journal was written for")

// ReadFile reads and parses the journal file at path. It reads at most
// inputfile.MaxJournal bytes and refuses anything that is not a regular
// file (a device, a FIFO, a directory) without blocking; those errors wrap
// inputfile.ErrTooLarge or inputfile.ErrNotRegular. A journal cut short
// before its prepared marker, an empty one included, returns an error
// wrapping ErrTorn.
func ReadFile(path string) (*Journal, error) {
	b, err := inputfile.Read(path, "undo journal", inputfile.MaxJournal)
	if err != nil {
		return nil, err
	}
	j, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return j, nil
}

// Target is the whole disk or image a journal is restored onto.
type Target interface {
	io.ReaderAt
	io.WriterAt
}

// RestoreOptions tune Restore.
type RestoreOptions struct {
	// Sync flushes the target after the writes (nil: no flush).
	Sync func() error
	// Check verifies only and writes nothing.
	Check bool
	// JournalPath is the file j was read from. When set, a Restore that
	// succeeds (not Check) appends the undone marker to it and fsyncs it,
	// so that a later fix does not roll the undone fix forward. Failing to
	// do so is reported in RestoreResult.Warning, not as an error (the disk
	// is restored).
	JournalPath string
}

// RestoreResult says what Restore did (or, with Check, would do).
type RestoreResult struct {
	Records  int   // records in the journal
	Restored int   // before-images written
	Skipped  int   // records whose write had never happened
	Bytes    int64 // bytes written
	// Warning is set when the disk was restored but the undone marker
	// could not be appended to RestoreOptions.JournalPath: a later fix
	// would take the journal for an interrupted fix, so the journal must
	// be moved out of the journal directory.
	Warning string
}

// patch is one before-image to write back.
type patch struct {
	off  int64
	data []byte
}

// view reads the target with patches laid over it in order.
func view(t io.ReaderAt, patches []patch, off int64, n int) ([]byte, error) {
	p := make([]byte, n)
	if _, err := t.ReadAt(p, off); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	} else if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("target ends before byte %d", off+int64(n))
	}
	for _, q := range patches {
		overlay(p, off, q.data, q.off)
	}
	return p, nil
}

// Match reports which state S_A the target t is in for journal j: the
// largest A (0..len(j.Records)) such that the ranges of records below A
// hold the after-images the fix wrote (compared by SHA-256, newest first
// on a simulated view, so overlapping writes are handled) and the ranges
// of records from A on hold what was there before those writes. A disk in
// none of these states returns an error wrapping ErrMismatch that names
// the first differing record; an error reading t is returned as is.
// Restore and RollForward decide with Match; it writes nothing.
func Match(j *Journal, t io.ReaderAt) (applied int, err error) {
	A, _, err := match(j, t)
	return A, err
}

// match is Match that also returns the current content of every record's
// range.
func match(j *Journal, t io.ReaderAt) (int, [][]byte, error) {
	n := len(j.Records)
	cur, err := readRanges(j, t)
	if err != nil {
		return 0, nil, err
	}
	var firstBad error
	for A := n; A >= 0; A-- {
		ok, bad := matchState(j.Records, cur, A)
		if ok {
			return A, cur, nil
		}
		if firstBad == nil {
			firstBad = bad
		}
	}
	return 0, cur, fmt.Errorf("%w: %v", ErrMismatch, firstBad)
}

// readRanges reads every record's range from t.
func readRanges(j *Journal, t io.ReaderAt) ([][]byte, error) {
	cur := make([][]byte, len(j.Records))
	for i := range j.Records {
		rec := &j.Records[i]
		b, err := view(t, nil, rec.Offset, len(rec.Before))
		if err != nil {
			return nil, fmt.Errorf("read target at %d (record %d): %w", rec.Offset, i+1, err)
		}
		cur[i] = b
	}
	return cur, nil
}

// Restore puts the before-images of journal j back onto target t, whose
// size in bytes is size. It first finds the state the disk is in (Match):
// every record's range must hold the after-image the fix wrote (SHA-256),
// or, for writes that never happened, the before-image. On any other
// content it returns an error wrapping ErrMismatch and writes nothing.
// Then it writes the before-images newest first, syncs, reads every range
// back and, with RestoreOptions.JournalPath, appends the undone marker to
// the journal.
func Restore(j *Journal, t Target, size int64, opts RestoreOptions) (*RestoreResult, error) {
	res := &RestoreResult{Records: len(j.Records)}
	if size != j.Header.TargetSize {
		return res, fmt.Errorf("%w: the journal's target (%s) is %d bytes, this one is %d bytes",
			ErrWrongTarget, j.Header.Target, j.Header.TargetSize, size)
	}
	// The disk may legitimately be in any state S_A, A = 0..n: the first A
	// writes of the fix done, the others not (a power cut or a failed write
	// during fix), or a restore that was itself interrupted (a restore
	// undoes the newest writes first, walking back through the same
	// states).
	n := len(j.Records)
	A, _, err := match(j, t)
	if errors.Is(err, ErrMismatch) {
		return res, fmt.Errorf("%w; someone (Windows, chkdsk, another tool) changed the disk after the fix, and undo would destroy those changes", err)
	}
	if err != nil {
		return res, err
	}
	res.Restored, res.Skipped = A, n-A
	var patches []patch
	for i := A - 1; i >= 0; i-- {
		patches = append(patches, patch{j.Records[i].Offset, j.Records[i].Before})
	}
	if opts.Check {
		return res, nil
	}
	if A > 0 {
		if err := restoreWrites(j, t, patches, opts, res); err != nil {
			return res, err
		}
	}
	if opts.JournalPath != "" {
		if err := markUndone(opts.JournalPath, j, A); err != nil {
			res.Warning = fmt.Sprintf("the disk is restored, but the undo journal could not be marked undone (%v): move %s out of the journal directory, or a later fix will take it for an interrupted fix", err, opts.JournalPath)
		}
	}
	return res, nil
}

// restoreWrites writes patches (the before-images of the applied records,
// newest first), syncs and reads every range back.
func restoreWrites(j *Journal, t Target, patches []patch, opts RestoreOptions, res *RestoreResult) error {
	// Expected final content of every range, from the simulated view.
	expect := make([][]byte, len(j.Records))
	for i := range j.Records {
		rec := &j.Records[i]
		b, err := view(t, patches, rec.Offset, len(rec.Before))
		if err != nil {
			return fmt.Errorf("read target at %d: %w", rec.Offset, err)
		}
		expect[i] = b
	}
	for k, q := range patches {
		if _, err := t.WriteAt(q.data, q.off); err != nil {
			return fmt.Errorf("write before-image %d of %d (%d bytes at %d): %w; the disk is partly restored, run undo again with the same journal",
				k+1, len(patches), len(q.data), q.off, err)
		}
		res.Bytes += int64(len(q.data))
	}
	if opts.Sync != nil {
		if err := opts.Sync(); err != nil {
			return fmt.Errorf("flush the disk after restoring: %w", err)
		}
	}
	for i := range j.Records {
		rec := &j.Records[i]
		got, err := view(t, nil, rec.Offset, len(rec.Before))
		if err != nil {
			return fmt.Errorf("read back %d: %w", rec.Offset, err)
		}
		if !bytes.Equal(got, expect[i]) {
			return fmt.Errorf("read-back after restore differs at target offset %d (record %d)", rec.Offset, i+1)
		}
	}
	return nil
}

// matchState reports whether the disk ranges cur (one per record) are the
// state after the first A writes; when not, it says which record differs.
func matchState(recs []Record, cur [][]byte, A int) (bool, error) {
	n := len(recs)
	// Records A..n-1: their before-image is the state after i writes; undo
	// the overlapping before-images of records i-1 down to A to get the
	// state after A writes on the record's range.
	for i := A; i < n; i++ {
		exp := bytes.Clone(recs[i].Before)
		for k := i - 1; k >= A; k-- {
			overlay(exp, recs[i].Offset, recs[k].Before, recs[k].Offset)
		}
		if !bytes.Equal(cur[i], exp) {
			return false, fmt.Errorf("record %d of %d (%d bytes at target offset %d) holds neither what the fix wrote nor what was there before",
				i+1, n, len(recs[i].Before), recs[i].Offset)
		}
	}
	// Records A-1..0 newest first, on the view restored so far.
	for i := A - 1; i >= 0; i-- {
		v := bytes.Clone(cur[i])
		for k := A - 1; k > i; k-- {
			overlay(v, recs[i].Offset, recs[k].Before, recs[k].Offset)
		}
		if sha256.Sum256(v) != recs[i].AfterSHA {
			return false, fmt.Errorf("record %d of %d (%d bytes at target offset %d) no longer holds what the fix wrote",
				i+1, n, len(recs[i].Before), recs[i].Offset)
		}
	}
	return true, nil
}
