package undo

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"
)

// Magic opens every undo journal file.
const Magic = "UNBRKJNL"

// Version is the journal format version this package writes and reads.
const Version = 1

// MaxRecordLen bounds one record's before-image. The NTFS planner writes
// sectors and index blocks; 16 MiB is far above anything it issues.
const MaxRecordLen = 16 << 20

const (
	tagRecord   = 'R'
	tagPrepared = 'P'
	tagApplied  = 'A'
)

// Apply statuses stored in the applied marker.
const (
	statusApplied = 0
	statusFailed  = 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Errors a journal reader returns; test with errors.Is.
var (
	// ErrNotJournal: the file does not start with the journal magic.
	ErrNotJournal = errors.New("not an unbrick undo journal")
	// ErrTorn: the journal was cut short before its prepared marker; the
	// fix that wrote it changed nothing on the disk.
	ErrTorn = errors.New("undo journal is torn (cut short before it was complete); the fix that wrote it did not write to the disk")
	// ErrCorrupt: a checksum or field of the journal is wrong.
	ErrCorrupt = errors.New("undo journal is corrupt")
	// ErrJournal: the journal could not be written, so nothing was written to the disk.
	ErrJournal = errors.New("cannot write the undo journal")
	// ErrDiskChanged: between staging and Commit something else changed
	// the disk; nothing was written.
	ErrDiskChanged = errors.New("the disk changed while the fix was being planned")
	// ErrMismatch: the disk no longer holds what the fix wrote; undo refuses.
	ErrMismatch = errors.New("the disk no longer holds what the fix wrote")
)

// Header describes the fix run and the volume a journal belongs to.
type Header struct {
	Created         time.Time // when the journal was written (UTC)
	RunID           string    // the fix run's id
	VolumeID        string    // BitLocker volume GUID, or NTFS serial
	Target          string    // target identity for humans (path, model, serial)
	TargetSize      int64     // size of the whole target in bytes
	PartitionOffset int64     // volume offset in the target
	PartitionSize   int64     // volume length
}

// Record is one staged write: where, what was there before, and the
// SHA-256 of what the fix put there.
type Record struct {
	Offset   int64 // byte offset in the whole target
	Before   []byte
	AfterSHA [32]byte
}

// Journal is a decoded journal file.
type Journal struct {
	Header   Header
	Records  []Record
	Applied  bool // the applied marker is present
	Complete bool // the applied marker says every write was done and synced
	// AppliedCount is the applied marker's count of completed writes
	// (len(Records) when there is no applied marker: unknown, assume all).
	AppliedCount int
}

func putString(b *bytes.Buffer, s string) error {
	if len(s) > 0xffff {
		return fmt.Errorf("journal header string of %d bytes is too long", len(s))
	}
	var l [2]byte
	binary.LittleEndian.PutUint16(l[:], uint16(len(s)))
	b.Write(l[:])
	b.WriteString(s)
	return nil
}

func putU32(b *bytes.Buffer, v uint32) {
	var x [4]byte
	binary.LittleEndian.PutUint32(x[:], v)
	b.Write(x[:])
}

func putI64(b *bytes.Buffer, v int64) {
	var x [8]byte
	binary.LittleEndian.PutUint64(x[:], uint64(v))
	b.Write(x[:])
}

// encodeHeader returns the header bytes, CRC included.
func encodeHeader(h *Header) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(Magic)
	b.Write([]byte{Version, 0, 0, 0})
	putI64(&b, h.Created.UnixNano())
	for _, s := range []string{h.RunID, h.VolumeID, h.Target} {
		if err := putString(&b, s); err != nil {
			return nil, err
		}
	}
	putI64(&b, h.TargetSize)
	putI64(&b, h.PartitionOffset)
	putI64(&b, h.PartitionSize)
	putU32(&b, crc32.Checksum(b.Bytes(), castagnoli))
	return b.Bytes(), nil
}

// encodeRecord returns one record's bytes, CRC included.
func encodeRecord(r *Record) []byte {
	var b bytes.Buffer
	b.Grow(1 + 8 + 4 + len(r.Before) + 32 + 4)
	b.WriteByte(tagRecord)
	putI64(&b, r.Offset)
	putU32(&b, uint32(len(r.Before)))
	b.Write(r.Before)
	b.Write(r.AfterSHA[:])
	putU32(&b, crc32.Checksum(b.Bytes(), castagnoli))
	return b.Bytes()
}

func encodePrepared(count int, sum [32]byte) []byte {
	var b bytes.Buffer
	b.WriteByte(tagPrepared)
	putU32(&b, uint32(count))
	b.Write(sum[:])
	return b.Bytes()
}

// encodeApplied returns the applied marker; prior is every journal byte
// before it.
func encodeApplied(prior []byte, applied int, failed bool) []byte {
	var b bytes.Buffer
	b.WriteByte(tagApplied)
	putU32(&b, uint32(applied))
	st := byte(statusApplied)
	if failed {
		st = statusFailed
	}
	b.WriteByte(st)
	h := sha256.New()
	h.Write(prior)
	h.Write(b.Bytes())
	b.Write(h.Sum(nil))
	return b.Bytes()
}

// reader is a bounds-checked cursor over the journal bytes.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) take(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.b)-r.off < n {
		r.err = fmt.Errorf("%w: %s at byte %d", errShort, what, r.off)
		return nil
	}
	p := r.b[r.off : r.off+n]
	r.off += n
	return p
}

func (r *reader) u16(what string) uint16 {
	p := r.take(2, what)
	if p == nil {
		return 0
	}
	return binary.LittleEndian.Uint16(p)
}

func (r *reader) u32(what string) uint32 {
	p := r.take(4, what)
	if p == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(p)
}

func (r *reader) i64(what string) int64 {
	p := r.take(8, what)
	if p == nil {
		return 0
	}
	return int64(binary.LittleEndian.Uint64(p))
}

func (r *reader) str(what string) string {
	n := r.u16(what + " length")
	return string(r.take(int(n), what))
}

// errShort marks a journal that ends inside a structure.
var errShort = errors.New("journal ends early")

// Parse decodes a journal. A journal cut short before its prepared marker
// returns an error wrapping ErrTorn; bad checksums or fields ErrCorrupt.
func Parse(b []byte) (*Journal, error) {
	if len(b) < len(Magic) || string(b[:len(Magic)]) != Magic {
		return nil, ErrNotJournal
	}
	r := &reader{b: b}
	r.take(len(Magic), "magic")
	ver := r.u16("version")
	r.u16("reserved")
	if r.err == nil && ver != Version {
		return nil, fmt.Errorf("%w: format version %d, this unbrick reads version %d", ErrCorrupt, ver, Version)
	}
	var j Journal
	created := r.i64("created time")
	j.Header.RunID = r.str("run id")
	j.Header.VolumeID = r.str("volume id")
	j.Header.Target = r.str("target")
	j.Header.TargetSize = r.i64("target size")
	j.Header.PartitionOffset = r.i64("partition offset")
	j.Header.PartitionSize = r.i64("partition size")
	hdrEnd := r.off
	crc := r.u32("header crc")
	if r.err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTorn, r.err)
	}
	if crc32.Checksum(b[:hdrEnd], castagnoli) != crc {
		return nil, fmt.Errorf("%w: header checksum mismatch", ErrCorrupt)
	}
	j.Header.Created = time.Unix(0, created).UTC()
	h := j.Header
	if h.TargetSize <= 0 || h.PartitionOffset < 0 || h.PartitionSize <= 0 ||
		h.PartitionOffset > h.TargetSize || h.PartitionSize > h.TargetSize-h.PartitionOffset {
		return nil, fmt.Errorf("%w: header: partition %d+%d does not fit a %d-byte target",
			ErrCorrupt, h.PartitionOffset, h.PartitionSize, h.TargetSize)
	}

	// Records until the prepared marker.
	for {
		start := r.off
		tag := r.take(1, "record tag")
		if r.err != nil {
			return nil, fmt.Errorf("%w: no prepared marker after %d records", ErrTorn, len(j.Records))
		}
		if tag[0] == tagPrepared {
			count := r.u32("prepared count")
			sum := r.take(32, "prepared checksum")
			if r.err != nil {
				return nil, fmt.Errorf("%w: prepared marker cut short", ErrTorn)
			}
			if int(count) != len(j.Records) {
				return nil, fmt.Errorf("%w: prepared marker counts %d records, journal holds %d", ErrCorrupt, count, len(j.Records))
			}
			if got := sha256.Sum256(b[:start]); !bytes.Equal(got[:], sum) {
				return nil, fmt.Errorf("%w: prepared marker checksum mismatch", ErrCorrupt)
			}
			break
		}
		if tag[0] != tagRecord {
			return nil, fmt.Errorf("%w: unknown tag 0x%02x at byte %d (record %d)", ErrCorrupt, tag[0], start, len(j.Records))
		}
		var rec Record
		rec.Offset = r.i64("record offset")
		n := r.u32("record length")
		if r.err == nil && (n == 0 || n > MaxRecordLen) {
			return nil, fmt.Errorf("%w: record %d has length %d (1..%d allowed)", ErrCorrupt, len(j.Records), n, MaxRecordLen)
		}
		before := r.take(int(n), "before-image")
		after := r.take(32, "after checksum")
		end := r.off
		rcrc := r.u32("record crc")
		if r.err != nil {
			return nil, fmt.Errorf("%w: record %d cut short", ErrTorn, len(j.Records))
		}
		if crc32.Checksum(b[start:end], castagnoli) != rcrc {
			return nil, fmt.Errorf("%w: record %d (byte %d) checksum mismatch", ErrCorrupt, len(j.Records), start)
		}
		if rec.Offset < h.PartitionOffset || rec.Offset > h.PartitionOffset+h.PartitionSize-int64(n) {
			return nil, fmt.Errorf("%w: record %d at offset %d+%d lies outside the partition %d+%d",
				ErrCorrupt, len(j.Records), rec.Offset, n, h.PartitionOffset, h.PartitionSize)
		}
		rec.Before = before
		copy(rec.AfterSHA[:], after)
		j.Records = append(j.Records, rec)
	}
	j.AppliedCount = len(j.Records)

	// Optional applied marker; anything cut short after the prepared marker
	// is a crash while writing the applied marker: treat as absent.
	if r.off == len(b) {
		return &j, nil
	}
	start := r.off
	tag := r.take(1, "applied tag")
	if tag[0] != tagApplied {
		return nil, fmt.Errorf("%w: unknown tag 0x%02x after the prepared marker", ErrCorrupt, tag[0])
	}
	applied := r.u32("applied count")
	st := r.take(1, "applied status")
	sumAt := r.off
	sum := r.take(32, "applied checksum")
	if r.err != nil {
		return &j, nil // torn applied marker: the writes may or may not have finished
	}
	h2 := sha256.Sum256(b[:sumAt])
	if !bytes.Equal(h2[:], sum) {
		return nil, fmt.Errorf("%w: applied marker (byte %d) checksum mismatch", ErrCorrupt, start)
	}
	if int(applied) > len(j.Records) || st[0] > statusFailed {
		return nil, fmt.Errorf("%w: applied marker says %d of %d writes, status %d", ErrCorrupt, applied, len(j.Records), st[0])
	}
	if r.off != len(b) {
		return nil, fmt.Errorf("%w: %d stray bytes after the applied marker", ErrCorrupt, len(b)-r.off)
	}
	j.Applied = true
	j.AppliedCount = int(applied)
	j.Complete = st[0] == statusApplied && int(applied) == len(j.Records)
	return &j, nil
}
