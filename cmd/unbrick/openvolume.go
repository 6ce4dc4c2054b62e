package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/unbrick/unbrick/bitlocker"
	"github.com/unbrick/unbrick/internal/disk"
	"github.com/unbrick/unbrick/internal/exitcode"
)

// volumeRequest says which volume a command wants and how.
type volumeRequest struct {
	Prog      string      // message prefix, e.g. "unbrick bitlocker decrypt"
	Target    string      // image file or block device
	Partition int         // --partition N (0 = not given)
	Keys      *keyFlags   // the shared key flags (nil = none)
	Writable  bool        // the command writes to the volume
	Accept    []disk.Kind // acceptable kinds; default BitLocker and NTFS
	// NoUnlock opens a BitLocker volume without unlocking it (bitlocker
	// info); ReadAt then fails while it is locked.
	NoUnlock bool
	// Underlay, if set, wraps the raw partition before BitLocker (or NTFS)
	// sees it, e.g. with an undo recorder that keeps the before-image of
	// every sector written (ciphertext, under BitLocker).
	Underlay func(raw rawVolume) rawVolume
}

// rawVolume is the raw partition (ciphertext for BitLocker).
type rawVolume interface {
	io.ReaderAt
	io.WriterAt
	Size() int64
}

// plainVolume is what a command reads (and writes) through: the plaintext
// volume, BitLocker or not.
type plainVolume interface {
	io.ReaderAt
	io.WriterAt
	Size() int64
}

// openedVolume is an opened volume. Close it when done.
type openedVolume struct {
	Target    *disk.Target
	Candidate *disk.Candidate
	Section   *disk.Section
	// BitLocker is nil for a plain NTFS volume.
	BitLocker *bitlocker.Volume
	// Volume is the plaintext view: the unlocked BitLocker volume or the
	// plain section. For a request that is not Writable, writes fail.
	Volume plainVolume
	// Short: the image ends before the volume; reads there give zeros
	// (a warning was printed once), writes are refused.
	Short bool
	// UnlockedBy / UnlockedHow: the protector ID and way that unlocked a
	// BitLocker volume ("" for plain NTFS or BitLocker off).
	UnlockedBy, UnlockedHow string
}

// Close releases the target.
func (o *openedVolume) Close() error { return o.Target.Close() }

// Name describes the volume in messages ("disk.img partition 3").
func (o *openedVolume) Name() string {
	if o.Candidate.Partition == 0 {
		return o.Target.Path()
	}
	return fmt.Sprintf("%s partition %d", o.Target.Path(), o.Candidate.Partition)
}

// openVolume is the one way commands go from (TARGET, --partition, key
// flags, writable) to a plaintext view of a volume, BitLocker or plain
// NTFS. It opens the target (read-only unless req.Writable), selects the
// volume, unlocks BitLocker with the clear key and every supplied secret
// (key export entries matched by protector ID), warns once on stderr about
// a short image (writable requests are refused), and returns the exit code
// to use with the error:
//
//	2 usage (several candidates and no --partition, bad key flags),
//	3 locked (no usable key, wrong key),
//	4 refused (a write to a short image),
//	1 anything else (unreadable target, corrupt metadata, not BitLocker...).
//
// Secrets never appear in errors or output; protector IDs do.
func openVolume(e *env, req volumeRequest) (*openedVolume, int, error) {
	ks, err := req.Keys.resolve(e)
	if err != nil {
		return nil, bitlockerExitCode(err), err
	}
	t, err := disk.OpenTarget(req.Target, req.Writable)
	if err != nil {
		return nil, exitcode.Failure, err
	}
	ok := false
	defer func() {
		if !ok {
			t.Close()
		}
	}()
	accept := req.Accept
	if len(accept) == 0 {
		accept = []disk.Kind{disk.BitLocker, disk.NTFS}
	}
	c, err := t.Select(req.Partition, accept...)
	if err != nil {
		var se *disk.SelectError
		if errors.As(err, &se) && se.Ambiguous() {
			return nil, exitcode.Usage, err
		}
		return nil, exitcode.Failure, err
	}
	sec := t.Section(c)
	o := &openedVolume{Target: t, Candidate: c, Section: sec, Short: sec.Short()}
	var raw rawVolume = sec
	if req.Underlay != nil {
		raw = req.Underlay(sec)
	}
	if o.Short && req.Writable {
		return nil, exitcode.Refused, fmt.Errorf("%s: refusing to write: %s", o.Name(), sec.ShortWarning())
	}
	switch c.Kind {
	case disk.BitLocker:
		// Give bitlocker only the bytes the image really holds, so that it
		// shows zeros (not decrypted zeros) past the end, as dislocker does.
		avail := sec.Size() - sec.Missing()
		v, err := bitlocker.Open(raw, avail)
		if err != nil {
			return nil, bitlockerExitCode(err), fmt.Errorf("%s: %w", o.Name(), err)
		}
		if v.Short() && req.Writable {
			return nil, exitcode.Refused, fmt.Errorf("%s: refusing to write: the image ends %d bytes before the end of the BitLocker volume", o.Name(), v.Size()-v.ImageSize())
		}
		o.Short = o.Short || v.Short()
		o.BitLocker = v
		o.Volume = v
		if !req.NoUnlock && v.Locked() {
			if err := v.Unlock(ks.keysFor(v)...); err != nil {
				return nil, bitlockerExitCode(err), fmt.Errorf("%s: %w", o.Name(), err)
			}
		}
		o.UnlockedBy, o.UnlockedHow = v.UnlockedBy()
	case disk.BitLockerToGo:
		return nil, exitcode.Failure, fmt.Errorf("%s: %w", o.Name(), bitlocker.ErrBitLockerToGo)
	default:
		o.Volume = raw
	}
	if o.Short {
		size := o.Volume.Size()
		if o.BitLocker != nil {
			fmt.Fprintf(e.Stderr, "%s: warning: %s: the image ends %d bytes before the end of the %d-byte volume; reading zeros there\n",
				req.Prog, o.Name(), o.BitLocker.Size()-o.BitLocker.ImageSize(), size)
		} else if w := sec.ShortWarning(); w != "" {
			fmt.Fprintf(e.Stderr, "%s: warning: %s\n", req.Prog, w)
		}
	}
	ok = true
	return o, exitcode.OK, nil
}
