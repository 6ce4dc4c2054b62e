package undo

import (
	"errors"
	"fmt"
	"os"

	"github.com/unbrick/unbrick/internal/inputfile"
)

// ErrFinished: RollForward was given a journal whose fix is complete or
// was undone; there is nothing to roll forward and nothing was written.
var ErrFinished = errors.New("the undo journal's fix is finished")

// ErrNoAfterImages: RollForward was given a version 1 journal, which holds
// no after-images; nothing was written.
var ErrNoAfterImages = errors.New("the undo journal holds no after-images (format version 1)")

// RollForwardOptions tune RollForward.
type RollForwardOptions struct {
	// Sync flushes the target; RollForward calls it after every write, as
	// Commit does (nil: no flush).
	Sync func() error
	// Check finds the state and writes nothing, neither to the target nor
	// to the journal.
	Check bool
	// TargetName names the target in the hints of errors ("run 'unbrick
	// undo --journal PATH TargetName'"); "TARGET" when empty.
	TargetName string
}

// RollForwardResult says what RollForward did (or, with Check, would do).
type RollForwardResult struct {
	Records int   // records in the journal
	From    int   // A: writes of the interrupted fix found on the disk (state S_A)
	Writes  int   // after-images written (with Check: that would be written)
	Bytes   int64 // bytes written
}

// RollForward finishes the interrupted fix whose version 2 journal is at
// path, on target t (the whole disk or image, size bytes). The journal must
// be Incomplete: a complete or undone one returns an error wrapping
// ErrFinished and a version 1 one an error wrapping ErrNoAfterImages; both
// write nothing. RollForward finds the state S_A the disk is in (Match);
// a disk in no such state returns an error wrapping ErrMismatch (the disk
// changed since the interrupted fix: it must be undone with the journal)
// and writes nothing. Otherwise it writes the after-images of records
// A..n-1 in order, calling opts.Sync after each one (the order is the
// crash-safety barrier, as in Commit), reads every range back and checks
// that the disk is in S_n (by the after-images' SHA-256), then appends the
// rolled-forward marker to the journal and fsyncs it. A == n writes
// nothing to the disk but still appends the marker.
//
// RollForward is idempotent: interrupted anywhere, it leaves the disk in
// some S_A and the journal Incomplete (or complete once the marker is
// durable), and the next call carries on from there.
func RollForward(path string, t Target, size int64, opts RollForwardOptions) (*RollForwardResult, error) {
	res := &RollForwardResult{}
	j, err := ReadFile(path)
	if err != nil {
		return res, err
	}
	n := len(j.Records)
	res.Records = n
	target := opts.TargetName
	if target == "" {
		target = "TARGET"
	}
	undoHint := fmt.Sprintf("run 'unbrick undo --journal %s %s' to put the disk back, then fix again", path, target)
	switch {
	case j.Undone:
		return res, fmt.Errorf("%w: %s was undone; nothing to roll forward", ErrFinished, path)
	case j.Complete:
		return res, fmt.Errorf("%w: %s is complete (every write is on the disk); nothing to roll forward", ErrFinished, path)
	case j.Version < 2:
		return res, fmt.Errorf("%w: the fix recorded in %s was interrupted and cannot be finished with this journal; %s",
			ErrNoAfterImages, path, undoHint)
	}
	if size != j.Header.TargetSize {
		return res, fmt.Errorf("%w: the journal's target (%s) is %d bytes, this one is %d bytes",
			ErrWrongTarget, j.Header.Target, j.Header.TargetSize, size)
	}
	A, cur, err := match(j, t)
	if errors.Is(err, ErrMismatch) {
		return res, fmt.Errorf("%w; the disk changed since the fix recorded in %s was interrupted, so it cannot be finished: %s",
			err, path, undoHint)
	}
	if err != nil {
		return res, err
	}
	res.From = A
	res.Writes = n - A
	if opts.Check {
		return res, nil
	}
	res.Writes = 0
	for i := A; i < n; i++ {
		rec := &j.Records[i]
		if _, err := t.WriteAt(rec.After, rec.Offset); err != nil {
			return res, fmt.Errorf("roll forward: write %d of %d (%d bytes at target offset %d): %w; the fix is still unfinished: run fix again to finish it, or %s",
				i+1, n, len(rec.After), rec.Offset, err, undoHint)
		}
		if opts.Sync != nil {
			if err := opts.Sync(); err != nil {
				return res, fmt.Errorf("roll forward: flush the disk after write %d of %d: %w; the fix is still unfinished: run fix again to finish it, or %s",
					i+1, n, err, undoHint)
			}
		}
		res.Writes++
		res.Bytes += int64(len(rec.After))
	}
	if res.Writes > 0 {
		if cur, err = readRanges(j, t); err != nil {
			return res, fmt.Errorf("roll forward: read back: %w", err)
		}
	}
	if ok, bad := matchState(j.Records, cur, n); !ok {
		return res, fmt.Errorf("roll forward: read-back after the writes: %v; %s", bad, undoHint)
	}
	err = appendEnd(path, j, tagRolledForward, A, func(now *Journal) (bool, error) {
		if !now.Incomplete() {
			return false, fmt.Errorf("%w: %s was finished by someone else meanwhile", ErrFinished, path)
		}
		return true, nil
	})
	if err != nil {
		return res, fmt.Errorf("the disk now holds every write of the fix recorded in %s, but its rolled-forward marker could not be written: %w", path, err)
	}
	return res, nil
}

// markUndone appends the undone marker (count: before-images restored) to
// the journal at path unless its last marker is already one.
func markUndone(path string, j *Journal, restored int) error {
	return appendEnd(path, j, tagUndone, restored, func(now *Journal) (bool, error) {
		return !now.Undone, nil
	})
}

// appendEnd appends an end marker to the journal file at path, which must
// still be journal j (same prepared digest). It re-reads the file, lets
// want decide from its current state whether to append, cuts off a torn
// tail (a marker cut short, or zero bytes) and appends and fsyncs the
// marker.
func appendEnd(path string, j *Journal, tag byte, count int, want func(now *Journal) (bool, error)) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("open undo journal %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("undo journal %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("undo journal %s: %w", path, inputfile.ErrNotRegular)
	}
	b, err := inputfile.ReadAll(f, path, "undo journal", inputfile.MaxJournal)
	if err != nil {
		return err
	}
	now, err := Parse(b)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if now.prepared != j.prepared {
		return fmt.Errorf("%s is no longer the journal that was read (it was replaced)", path)
	}
	if ok, err := want(now); !ok || err != nil {
		return err
	}
	if now.end < len(b) {
		if err := f.Truncate(int64(now.end)); err != nil {
			return fmt.Errorf("cut the torn end off undo journal %s: %w", path, err)
		}
	}
	m := encodeEnd(b[:now.end], tag, count, false)
	if _, err := f.WriteAt(m, int64(now.end)); err != nil {
		return fmt.Errorf("append to undo journal %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync undo journal %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close undo journal %s: %w", path, err)
	}
	return nil
}

// FindIncomplete lists the journals in dir (files named *.journal) that
// belong to volume v and are Incomplete, sorted by name (run ids sort by
// time, so the oldest comes first). A journal belongs to v when its header
// has v's VolumeID, TargetSize, PartitionOffset and PartitionSize (other
// fields are ignored: the target's path can change between boots). Only
// the header and the last end marker are read of the other journals. Torn journals (the fix never
// wrote) are not listed. A journal whose header matches v but whose rest
// cannot be read or parsed (corrupt) is listed too, so that the caller,
// which must not fix the volume before it has dealt with every journal
// listed, learns why from RollForward. A directory that does not exist
// holds no journals; other directory errors are returned.
func FindIncomplete(dir string, v Header) ([]string, error) {
	x, err := NewIndex(dir)
	if err != nil {
		return nil, err
	}
	return x.Find(v), nil
}
