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

// Version is the journal format version this package writes. Parse reads
// versions 1 and 2 (MinVersion..Version).
const Version = 2

// MinVersion is the oldest journal format version Parse reads. A version 1
// journal has no after-images: it restores (Restore) but cannot be rolled
// forward (RollForward).
const MinVersion = 1

// MaxRecordLen bounds one record's before-image. The NTFS planner writes
// sectors and index blocks; 16 MiB is far above anything it issues.
const MaxRecordLen = 16 << 20

const (
	tagRecord        = 'R'
	tagPrepared      = 'P'
	tagApplied       = 'A'
	tagRolledForward = 'F'
	tagUndone        = 'U'
)

// endMarkerLen is the length of every end marker (applied, rolled forward,
// undone): tag, uint32 count, status byte, SHA-256. One length for all of
// them means that a tail shorter than a marker is always a torn append and
// anything as long as a marker is always checked.
const endMarkerLen = 1 + 4 + 1 + 32

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

// Record is one staged write: where, what was there before, what the fix
// put there (version 2) and its SHA-256.
type Record struct {
	Offset   int64 // byte offset in the whole target
	Before   []byte
	After    []byte // the bytes the write put there; nil in a version 1 journal
	AfterSHA [32]byte
}

// Marker kinds: the tag of an end marker.
const (
	MarkerApplied       = tagApplied       // Commit finished writing (Count writes; Failed if one failed)
	MarkerRolledForward = tagRolledForward // RollForward finished the writes (Count = writes it found already done)
	MarkerUndone        = tagUndone        // Restore put the disk back (Count = before-images it wrote)
)

// Marker is one end marker appended after the prepared marker.
type Marker struct {
	Kind   byte // MarkerApplied, MarkerRolledForward or MarkerUndone
	Count  int
	Failed bool // applied marker only: a write or flush failed after Count writes
}

// Journal is a decoded journal file.
type Journal struct {
	Version int // format version, 1 or 2
	Header  Header
	Records []Record
	Applied bool // an applied marker is present (Commit got to its end)
	// Complete: the last end marker says every write is on the disk (an
	// applied marker with status 0 and every write counted, or a
	// rolled-forward marker).
	Complete bool
	// Undone: the last end marker is an undone marker (Restore put the
	// disk back).
	Undone bool
	// RolledForward: an interrupted fix was finished by RollForward (a
	// rolled-forward marker is present).
	RolledForward bool
	// AppliedCount is the applied marker's count of completed writes
	// (len(Records) when there is no applied marker: unknown, assume all).
	AppliedCount int
	// Markers are the end markers in file order; the last one gives the
	// journal's state.
	Markers []Marker

	prepared [32]byte // SHA-256 of every byte before the prepared marker: the journal's identity
	end      int      // bytes up to the end of the last valid structure; a torn tail follows
}

// Incomplete reports whether the fix that wrote j stopped before all its
// writes were known to be on the disk and nothing finished it since: no
// applied marker saying all writes were done, no rolled-forward marker and
// no undone marker as the last end marker. Such a journal must be rolled
// forward (RollForward) or undone (Restore) before the volume is fixed
// again.
func (j *Journal) Incomplete() bool { return !j.Complete && !j.Undone }

// State describes the journal's state for humans: "complete", "rolled
// forward", "undone", "interrupted (no end marker)" or "interrupted after
// K of N writes (a write failed)".
func (j *Journal) State() string {
	switch {
	case j.Undone:
		return "undone"
	case j.RolledForward:
		return "rolled forward"
	case j.Complete:
		return "complete"
	case len(j.Markers) == 0:
		return "interrupted (no end marker)"
	}
	m := j.Markers[len(j.Markers)-1]
	if m.Failed {
		return fmt.Sprintf("interrupted after %d of %d writes (a write failed)", m.Count, len(j.Records))
	}
	return fmt.Sprintf("interrupted after %d of %d writes", m.Count, len(j.Records))
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

// encodeHeader returns the header bytes (format Version), CRC included.
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

// encodeRecord returns one version 2 record's bytes, CRC included.
// r.After must be as long as r.Before.
func encodeRecord(r *Record) []byte {
	var b bytes.Buffer
	b.Grow(1 + 8 + 4 + 2*len(r.Before) + 32 + 4)
	b.WriteByte(tagRecord)
	putI64(&b, r.Offset)
	putU32(&b, uint32(len(r.Before)))
	b.Write(r.Before)
	b.Write(r.After)
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

// encodeEnd returns an end marker; prior is every journal byte before it.
func encodeEnd(prior []byte, tag byte, count int, failed bool) []byte {
	var b bytes.Buffer
	b.WriteByte(tag)
	putU32(&b, uint32(count))
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

// encodeApplied returns the applied marker; prior is every journal byte
// before it.
func encodeApplied(prior []byte, applied int, failed bool) []byte {
	return encodeEnd(prior, tagApplied, applied, failed)
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

// allZero reports whether p holds only zero bytes: what a file that grew
// but whose data never reached the stick (a power cut between write and
// fsync) reads as.
func allZero(p []byte) bool {
	for _, c := range p {
		if c != 0 {
			return false
		}
	}
	return true
}

// maxHeaderLen bounds the header: magic, version, reserved, created, three
// strings of at most 65535 bytes, three int64 and the CRC.
const maxHeaderLen = 8 + 2 + 2 + 8 + 3*(2+0xffff) + 3*8 + 4

// parseHeader decodes the header at the start of b and returns it with
// the format version and the header's length. A b that is cut short
// inside the header (including a prefix of the magic, or nothing at all)
// returns an error wrapping ErrTorn.
func parseHeader(b []byte) (Header, int, int, error) {
	var h Header
	if len(b) < len(Magic) {
		if string(b) == Magic[:len(b)] || allZero(b) {
			return h, 0, 0, fmt.Errorf("%w: the file is %d bytes long, cut short inside its header", ErrTorn, len(b))
		}
		return h, 0, 0, ErrNotJournal
	}
	if string(b[:len(Magic)]) != Magic {
		if allZero(b) {
			return h, 0, 0, fmt.Errorf("%w: the file holds only zero bytes", ErrTorn)
		}
		return h, 0, 0, ErrNotJournal
	}
	r := &reader{b: b}
	r.take(len(Magic), "magic")
	ver := int(r.u16("version"))
	r.u16("reserved")
	if r.err == nil && (ver < MinVersion || ver > Version) {
		return h, ver, 0, fmt.Errorf("%w: format version %d, this unbrick reads versions %d to %d", ErrCorrupt, ver, MinVersion, Version)
	}
	created := r.i64("created time")
	h.RunID = r.str("run id")
	h.VolumeID = r.str("volume id")
	h.Target = r.str("target")
	h.TargetSize = r.i64("target size")
	h.PartitionOffset = r.i64("partition offset")
	h.PartitionSize = r.i64("partition size")
	hdrEnd := r.off
	crc := r.u32("header crc")
	if r.err != nil {
		return h, ver, 0, fmt.Errorf("%w: %v", ErrTorn, r.err)
	}
	if crc32.Checksum(b[:hdrEnd], castagnoli) != crc {
		return h, ver, 0, fmt.Errorf("%w: header checksum mismatch", ErrCorrupt)
	}
	h.Created = time.Unix(0, created).UTC()
	if h.TargetSize <= 0 || h.PartitionOffset < 0 || h.PartitionSize <= 0 ||
		h.PartitionOffset > h.TargetSize || h.PartitionSize > h.TargetSize-h.PartitionOffset {
		return h, ver, 0, fmt.Errorf("%w: header: partition %d+%d does not fit a %d-byte target",
			ErrCorrupt, h.PartitionOffset, h.PartitionSize, h.TargetSize)
	}
	return h, ver, r.off, nil
}

// Parse decodes a journal of format version 1 or 2. A journal cut short
// before its prepared marker (an empty file, a prefix of the header, a
// record cut short, or zero bytes where the rest should be) returns an
// error wrapping ErrTorn; bad checksums or fields ErrCorrupt. End markers
// after the prepared marker are read in order, the last one giving the
// state; a final marker cut short (or zero bytes after the last marker) is
// ignored as a torn append.
func Parse(b []byte) (*Journal, error) {
	h, ver, hdrLen, err := parseHeader(b)
	if err != nil {
		return nil, err
	}
	j := Journal{Version: ver, Header: h}
	r := &reader{b: b, off: hdrLen}

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
			copy(j.prepared[:], sum)
			break
		}
		if tag[0] != tagRecord {
			if allZero(b[start:]) {
				return nil, fmt.Errorf("%w: zero bytes instead of record %d", ErrTorn, len(j.Records)+1)
			}
			return nil, fmt.Errorf("%w: unknown tag 0x%02x at byte %d (record %d)", ErrCorrupt, tag[0], start, len(j.Records))
		}
		var rec Record
		rec.Offset = r.i64("record offset")
		n := r.u32("record length")
		if r.err == nil && (n == 0 || n > MaxRecordLen) {
			return nil, fmt.Errorf("%w: record %d has length %d (1..%d allowed)", ErrCorrupt, len(j.Records), n, MaxRecordLen)
		}
		before := r.take(int(n), "before-image")
		var after []byte
		if ver >= 2 {
			after = r.take(int(n), "after-image")
		}
		sha := r.take(32, "after checksum")
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
		rec.After = after
		copy(rec.AfterSHA[:], sha)
		if after != nil && sha256.Sum256(after) != rec.AfterSHA {
			return nil, fmt.Errorf("%w: record %d (byte %d): after-image does not match its SHA-256", ErrCorrupt, len(j.Records), start)
		}
		j.Records = append(j.Records, rec)
	}
	j.AppliedCount = len(j.Records)
	j.end = r.off
	if err := j.parseEnd(b, r); err != nil {
		return nil, err
	}
	return &j, nil
}

// parseEnd reads the end markers after the prepared marker.
func (j *Journal) parseEnd(b []byte, r *reader) error {
	n := len(j.Records)
	for r.off < len(b) {
		start := r.off
		tag := b[start]
		switch tag {
		case tagApplied, tagRolledForward, tagUndone:
		default:
			if allZero(b[start:]) {
				return nil // the file grew but the marker never reached the stick
			}
			return fmt.Errorf("%w: unknown tag 0x%02x at byte %d, after the prepared marker", ErrCorrupt, tag, start)
		}
		if len(b)-start < endMarkerLen {
			return nil // the last marker was cut short while being appended: absent
		}
		r.take(1, "marker tag")
		count := int(r.u32("marker count"))
		st := r.take(1, "marker status")[0]
		sumAt := r.off
		sum := r.take(32, "marker checksum")
		if got := sha256.Sum256(b[:sumAt]); !bytes.Equal(got[:], sum) {
			return fmt.Errorf("%w: end marker %q (byte %d) checksum mismatch", ErrCorrupt, tag, start)
		}
		bad := func(why string) error {
			return fmt.Errorf("%w: end marker %q at byte %d (count %d, status %d): %s", ErrCorrupt, tag, start, count, st, why)
		}
		if count > n {
			return bad(fmt.Sprintf("counts more than the %d records", n))
		}
		m := Marker{Kind: tag, Count: count}
		switch tag {
		case tagApplied:
			if st > statusFailed {
				return bad("unknown status")
			}
			if len(j.Markers) > 0 {
				return bad("an applied marker must come first")
			}
			m.Failed = st == statusFailed
			j.Applied = true
			j.AppliedCount = count
			j.Complete = !m.Failed && count == n
			j.Undone = false
		case tagRolledForward:
			if st != 0 {
				return bad("unknown status")
			}
			if j.Version < 2 {
				return bad("a version 1 journal cannot be rolled forward")
			}
			for _, p := range j.Markers {
				if p.Kind != tagApplied {
					return bad("a rolled-forward marker may follow only an applied marker")
				}
			}
			if j.Complete {
				return bad("the fix was already complete")
			}
			j.RolledForward = true
			j.Complete = true
			j.Undone = false
		case tagUndone:
			if st != 0 {
				return bad("unknown status")
			}
			j.Undone = true
			j.Complete = false
		}
		j.Markers = append(j.Markers, m)
		j.end = r.off
	}
	return nil
}
