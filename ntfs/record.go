package ntfs

import (
	"encoding/binary"
	"fmt"

	"github.com/unbrick/unbrick/ntfs/internal/mst"
)

// FileRef is an MFT reference: a 48-bit record number and a 16-bit
// sequence number (high bits), as stored in index entries, $FILE_NAME
// parents and base-record references.
type FileRef uint64

// MakeRef builds a FileRef from a record number and a sequence number.
func MakeRef(record uint64, seq uint16) FileRef {
	return FileRef(record&0xffffffffffff | uint64(seq)<<48)
}

// Record is the 48-bit record number.
func (r FileRef) Record() uint64 { return uint64(r) & 0xffffffffffff }

// Seq is the 16-bit sequence number.
func (r FileRef) Seq() uint16 { return uint16(r >> 48) }

func (r FileRef) String() string { return fmt.Sprintf("%d-%d", r.Record(), r.Seq()) }

// Well-known MFT record numbers.
const (
	RecordMFT     = 0
	RecordMFTMirr = 1
	RecordLogFile = 2
	RecordVolume  = 3
	RecordAttrDef = 4
	RecordRoot    = 5
	RecordBitmap  = 6
	RecordBoot    = 7
	RecordBadClus = 8
	RecordSecure  = 9
	RecordUpCase  = 10
	RecordExtend  = 11
)

// MFT record header flags.
const (
	RecordInUse     = 0x0001
	RecordDirectory = 0x0002
	RecordInExtend  = 0x0004
	RecordViewIndex = 0x0008
)

// MFT (FILE) record header: byte offsets of its fields in the fixed-up
// record, NTFS 3.1 (libfsntfs "MFT entry header"; ntfs-3g MFT_RECORD).
// This is the one definition: the parser (ParseRecord), the editors of
// ntfs/edit and the redo/undo code of ntfs/replay all use it.
const (
	MFTOffSequence       = 0x10 // uint16: sequence number
	MFTOffLinkCount      = 0x12 // uint16: hard link count
	MFTOffAttrs          = 0x14 // uint16: offset of the first attribute
	MFTOffFlags          = 0x16 // uint16: RecordInUse, RecordDirectory, ...
	MFTOffBytesInUse     = 0x18 // uint32: bytes in use (8-byte aligned)
	MFTOffBytesAllocated = 0x1C // uint32: record size
	MFTOffBaseRef        = 0x20 // uint64: base record reference (0 in a base record)
	MFTOffNextInstance   = 0x28 // uint16: next attribute instance number
	MFTOffRecordNumber   = 0x2C // uint32: own record number (NTFS 3.1)
	MFTHeaderSize        = 0x30 // the update sequence array follows (when USA offset >= 0x30)
)

// applyFixups checks and removes the multi-sector protection of a FILE or
// INDX structure in place (mst.Unprotect); kind names the structure in
// the *FormatError.
func applyFixups(b []byte, kind string) (usaOff, usaCount int, usn uint16, err error) {
	usaOff, usaCount, usn, e := mst.Unprotect(b)
	if e != nil {
		return 0, 0, 0, Corrupt(kind, e.Offset, e.Field, "%s", e.Msg)
	}
	return usaOff, usaCount, usn, nil
}

// Record is a parsed MFT (FILE) record. Raw holds the record with fixups
// removed (the bytes as they are meant, not as stored); every offset in
// Record and its Attributes is relative to Raw. The header layout is the
// MFTOff* constants (the multi-sector header before them: ntfs/internal/mst).
type Record struct {
	Number         uint64 // the record number this was read as
	Raw            []byte
	USAOffset      int
	USACount       int
	USN            uint16
	LSN            uint64
	Sequence       uint16
	LinkCount      uint16
	AttrOffset     int
	Flags          uint16
	BytesInUse     int
	BytesAllocated int
	BaseRef        FileRef // 0 in a base record
	NextInstance   uint16
	Attributes     []*Attribute // in on-disk order
}

// InUse reports whether the record's in-use flag is set.
func (r *Record) InUse() bool { return r.Flags&RecordInUse != 0 }

// IsDir reports whether the record's directory flag is set.
func (r *Record) IsDir() bool { return r.Flags&RecordDirectory != 0 }

// Ref is the MFT reference of this record (number and sequence).
func (r *Record) Ref() FileRef { return MakeRef(r.Number, r.Sequence) }

// ParseRecord decodes an MFT record of len(b) bytes (the record size), read
// as record number n. It applies the fixups to b in place (b becomes
// Record.Raw). A record that is all zeros (never used) or marked "BAAD"
// is an error.
func ParseRecord(b []byte, n uint64) (*Record, error) {
	what := fmt.Sprintf("MFT record %d", n)
	if len(b) < 512 {
		return nil, Corrupt(what, -1, "", "%d bytes is too short", len(b))
	}
	switch string(b[:4]) {
	case "FILE":
	case "BAAD":
		return nil, Corrupt(what, 0, "signature", "marked BAAD (a multi-sector transfer failed; run chkdsk)")
	case "\x00\x00\x00\x00":
		return nil, Corrupt(what, 0, "signature", "never initialized (all zero header)")
	default:
		return nil, Corrupt(what, 0, "signature", "bad signature %q (want FILE)", b[:4])
	}
	usaOff, usaCount, usn, err := applyFixups(b, what)
	if err != nil {
		return nil, err
	}
	r := &Record{
		Number:         n,
		Raw:            b,
		USAOffset:      usaOff,
		USACount:       usaCount,
		USN:            usn,
		LSN:            binary.LittleEndian.Uint64(b[mst.OffLSN:]),
		Sequence:       binary.LittleEndian.Uint16(b[MFTOffSequence:]),
		LinkCount:      binary.LittleEndian.Uint16(b[MFTOffLinkCount:]),
		AttrOffset:     int(binary.LittleEndian.Uint16(b[MFTOffAttrs:])),
		Flags:          binary.LittleEndian.Uint16(b[MFTOffFlags:]),
		BytesInUse:     int(binary.LittleEndian.Uint32(b[MFTOffBytesInUse:])),
		BytesAllocated: int(binary.LittleEndian.Uint32(b[MFTOffBytesAllocated:])),
		BaseRef:        FileRef(binary.LittleEndian.Uint64(b[MFTOffBaseRef:])),
		NextInstance:   binary.LittleEndian.Uint16(b[MFTOffNextInstance:]),
	}
	if r.BytesAllocated != len(b) {
		return nil, Corrupt(what, MFTOffBytesAllocated, "bytes allocated", "allocated size %d differs from the volume's record size %d", r.BytesAllocated, len(b))
	}
	if r.BytesInUse < 48 || r.BytesInUse > len(b) || r.BytesInUse%8 != 0 {
		return nil, Corrupt(what, MFTOffBytesInUse, "bytes in use", "bytes in use %d is invalid", r.BytesInUse)
	}
	if usaOff >= MFTHeaderSize {
		// NTFS 3.1 stores the record's own number.
		if own := binary.LittleEndian.Uint32(b[MFTOffRecordNumber:]); uint64(own) != n&0xffffffff {
			return nil, Corrupt(what, MFTOffRecordNumber, "record number", "header says it is record %d (misplaced record or wrong $MFT run list)", own)
		}
	}
	if r.AttrOffset < usaOff+2*usaCount || r.AttrOffset%8 != 0 || r.AttrOffset+8 > r.BytesInUse {
		return nil, Corrupt(what, MFTOffAttrs, "first attribute offset", "first attribute offset %d is invalid", r.AttrOffset)
	}
	for off := r.AttrOffset; ; {
		if off+4 > r.BytesInUse {
			return nil, Corrupt(what, int64(off), "attribute type", "attribute list runs past bytes in use (%d) without an end marker", r.BytesInUse)
		}
		if binary.LittleEndian.Uint32(b[off:]) == uint32(AttrEnd) {
			break
		}
		a, err := parseAttribute(b[:r.BytesInUse], off)
		if err != nil {
			return nil, fmt.Errorf("%s: attribute at offset %d: %w", what, off, err)
		}
		a.Record = n
		r.Attributes = append(r.Attributes, a)
		off += a.Length
	}
	return r, nil
}

// FindAttr returns the first attribute of the given type and name in this
// record alone, or nil.
func (r *Record) FindAttr(t AttrType, name string) *Attribute {
	for _, a := range r.Attributes {
		if a.Type == t && a.Name == name {
			return a
		}
	}
	return nil
}
