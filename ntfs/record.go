package ntfs

import (
	"encoding/binary"
	"fmt"
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

// fixupStride is the update-sequence stride: always 512 bytes, whatever the
// sector size (ntfs-3g mst.c, NTFS_BLOCK_SIZE).
const fixupStride = 512

// applyFixups checks and removes the update sequence protection of a
// multi-sector structure (FILE, INDX, RCRD, RSTR) in place: the last two
// bytes of every 512-byte stride must equal the update sequence number
// USA[0]; they are replaced by USA[1..n]. It returns the USA offset, count
// and USN. kind names the structure in errors.
func applyFixups(b []byte, kind string) (usaOff, usaCount int, usn uint16, err error) {
	if len(b) < fixupStride || len(b)%fixupStride != 0 {
		return 0, 0, 0, corruptf("%s: size %d is not a multiple of %d", kind, len(b), fixupStride)
	}
	usaOff = int(binary.LittleEndian.Uint16(b[4:]))
	usaCount = int(binary.LittleEndian.Uint16(b[6:]))
	strides := len(b) / fixupStride
	if usaCount != strides+1 {
		return 0, 0, 0, corruptf("%s: update sequence array has %d entries, want %d for %d bytes", kind, usaCount, strides+1, len(b))
	}
	if usaOff < 8 || usaOff%2 != 0 || usaOff+2*usaCount > fixupStride-2 {
		return 0, 0, 0, corruptf("%s: update sequence array offset %d is invalid", kind, usaOff)
	}
	usn = binary.LittleEndian.Uint16(b[usaOff:])
	for i := 0; i < strides; i++ {
		tail := i*fixupStride + fixupStride - 2
		if got := binary.LittleEndian.Uint16(b[tail:]); got != usn {
			return 0, 0, 0, corruptf("%s: update sequence mismatch in 512-byte stride %d (0x%04x, want 0x%04x): torn write or bad sector", kind, i, got, usn)
		}
	}
	for i := 0; i < strides; i++ {
		tail := i*fixupStride + fixupStride - 2
		copy(b[tail:tail+2], b[usaOff+2+2*i:])
	}
	return usaOff, usaCount, usn, nil
}

// Record is a parsed MFT (FILE) record. Raw holds the record with fixups
// removed (the bytes as they are meant, not as stored); every offset in
// Record and its Attributes is relative to Raw. Layout (NTFS 3.1): +4 USA
// offset, +6 USA count, +8 $LogFile LSN, +16 sequence number, +18 link
// count, +20 first attribute offset, +22 flags, +24 bytes in use, +28 bytes
// allocated, +32 base record reference, +40 next attribute instance, +44 own
// record number (libfsntfs document "MFT entry header"; ntfs-3g MFT_RECORD).
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
		return nil, corruptf("%s: %d bytes is too short", what, len(b))
	}
	switch string(b[:4]) {
	case "FILE":
	case "BAAD":
		return nil, corruptf("%s: marked BAAD (a multi-sector transfer failed; run chkdsk)", what)
	case "\x00\x00\x00\x00":
		return nil, corruptf("%s: never initialized (all zero header)", what)
	default:
		return nil, corruptf("%s: bad signature %q (want FILE)", what, b[:4])
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
		LSN:            binary.LittleEndian.Uint64(b[8:]),
		Sequence:       binary.LittleEndian.Uint16(b[16:]),
		LinkCount:      binary.LittleEndian.Uint16(b[18:]),
		AttrOffset:     int(binary.LittleEndian.Uint16(b[20:])),
		Flags:          binary.LittleEndian.Uint16(b[22:]),
		BytesInUse:     int(binary.LittleEndian.Uint32(b[24:])),
		BytesAllocated: int(binary.LittleEndian.Uint32(b[28:])),
		BaseRef:        FileRef(binary.LittleEndian.Uint64(b[32:])),
		NextInstance:   binary.LittleEndian.Uint16(b[40:]),
	}
	if r.BytesAllocated != len(b) {
		return nil, corruptf("%s: allocated size %d differs from the volume's record size %d", what, r.BytesAllocated, len(b))
	}
	if r.BytesInUse < 48 || r.BytesInUse > len(b) || r.BytesInUse%8 != 0 {
		return nil, corruptf("%s: bytes in use %d is invalid", what, r.BytesInUse)
	}
	if usaOff >= 0x30 {
		// NTFS 3.1 stores the record's own number at +44.
		if own := binary.LittleEndian.Uint32(b[44:]); uint64(own) != n&0xffffffff {
			return nil, corruptf("%s: header says it is record %d (misplaced record or wrong $MFT run list)", what, own)
		}
	}
	if r.AttrOffset < usaOff+2*usaCount || r.AttrOffset%8 != 0 || r.AttrOffset+8 > r.BytesInUse {
		return nil, corruptf("%s: first attribute offset %d is invalid", what, r.AttrOffset)
	}
	for off := r.AttrOffset; ; {
		if off+4 > r.BytesInUse {
			return nil, corruptf("%s: attribute list runs past bytes in use (%d) without an end marker", what, r.BytesInUse)
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
