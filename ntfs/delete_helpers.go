package ntfs

import (
	"encoding/binary"
	"fmt"
	"github.com/unbrick/unbrick/ntfs/internal/mst"
)

// Write-side helpers for multi-sector records and MFT record images.

// recImage is the clean (fixups removed) image of an MFT record being
// edited, with the USN it carries on disk.
type recImage struct {
	num      uint64
	buf      []byte
	usaOff   int
	usaCount int
	usn      uint16
}

func newRecImage(r *Record) *recImage {
	return &recImage{num: r.Number, buf: append([]byte(nil), r.Raw...), usaOff: r.USAOffset, usaCount: r.USACount, usn: r.USN}
}

func (ri *recImage) u16(off int) uint16        { return binary.LittleEndian.Uint16(ri.buf[off:]) }
func (ri *recImage) u32(off int) uint32        { return binary.LittleEndian.Uint32(ri.buf[off:]) }
func (ri *recImage) put16(off int, v uint16)   { binary.LittleEndian.PutUint16(ri.buf[off:], v) }
func (ri *recImage) put32(off int, v uint32)   { binary.LittleEndian.PutUint32(ri.buf[off:], v) }
func (ri *recImage) bytesInUse() int           { return int(ri.u32(MFTOffBytesInUse)) }
func (ri *recImage) bytesAllocated() int       { return int(ri.u32(MFTOffBytesAllocated)) }
func (ri *recImage) free() int                 { return ri.bytesAllocated() - ri.bytesInUse() }
func (ri *recImage) firstAttr() int            { return int(ri.u16(MFTOffAttrs)) }
func (ri *recImage) attrLen(off int) int       { return int(ri.u32(off + AttrOffLength)) }
func (ri *recImage) attrType(off int) AttrType { return AttrType(ri.u32(off + AttrOffType)) }

// findAttr returns the header offset of the attribute of type t and name
// (and, if instance >= 0, that instance) in the current image.
func (ri *recImage) findAttr(t AttrType, name string, instance int) (int, error) {
	used := ri.bytesInUse()
	for off := ri.firstAttr(); off+8 <= used; {
		at := ri.attrType(off)
		if at == AttrEnd {
			break
		}
		l := ri.attrLen(off)
		if l < 16 || l%8 != 0 || off+l > used {
			return 0, Corrupt(fmt.Sprintf("MFT record %d", ri.num), int64(off)+AttrOffLength, "attribute length", "attribute at %d has invalid length %d", off, l)
		}
		if at == t && (instance < 0 || int(ri.u16(off+AttrOffInstance)) == instance) {
			nl, no := int(ri.buf[off+AttrOffNameLength]), int(ri.u16(off+AttrOffNameOffset))
			if no+2*nl <= l && decodeUTF16(ri.buf[off+no:off+no+2*nl]) == name {
				return off, nil
			}
		}
		off += l
	}
	return 0, Corrupt(fmt.Sprintf("MFT record %d", ri.num), -1, "", "attribute %v %q not found", t, name)
}

// residentValue returns the value of the resident attribute at off.
func (ri *recImage) residentValue(off int) ([]byte, error) {
	if ri.buf[off+AttrOffNonResident] != 0 {
		return nil, Corrupt(fmt.Sprintf("MFT record %d", ri.num), int64(off)+AttrOffNonResident, "non-resident flag", "attribute at %d is not resident", off)
	}
	vl, vo := int(ri.u32(off+AttrOffValueLength)), int(ri.u16(off+AttrOffValueOffset))
	if vo+vl > ri.attrLen(off) {
		return nil, Corrupt(fmt.Sprintf("MFT record %d", ri.num), int64(off)+AttrOffValueLength, "value length", "resident value at %d overflows its attribute", off)
	}
	return ri.buf[off+vo : off+vo+vl], nil
}

// setResidentValue replaces the value of the resident attribute at off,
// growing or shrinking the attribute (8-byte aligned) and moving the
// attributes after it. It fails, changing nothing, when the record has no
// room.
func (ri *recImage) setResidentValue(off int, val []byte) error {
	if ri.buf[off+AttrOffNonResident] != 0 {
		return Corrupt(fmt.Sprintf("MFT record %d", ri.num), int64(off)+AttrOffNonResident, "non-resident flag", "attribute at %d is not resident", off)
	}
	vo := int(ri.u16(off + AttrOffValueOffset))
	oldLen := ri.attrLen(off)
	newLen := (vo + len(val) + 7) &^ 7
	delta := newLen - oldLen
	used := ri.bytesInUse()
	if used+delta > ri.bytesAllocated() {
		return &needsSplitError{what: fmt.Sprintf("MFT record %d", ri.num), need: delta, free: ri.free()}
	}
	tail := append([]byte(nil), ri.buf[off+oldLen:used]...)
	copy(ri.buf[off+vo:], val)
	clear(ri.buf[off+vo+len(val) : off+newLen])
	copy(ri.buf[off+newLen:], tail)
	if delta < 0 {
		clear(ri.buf[used+delta : used])
	}
	ri.put32(off+AttrOffLength, uint32(newLen))
	ri.put32(off+AttrOffValueLength, uint32(len(val)))
	ri.put32(MFTOffBytesInUse, uint32(used+delta))
	return nil
}

// protect returns the on-disk bytes for the current image and advances the
// image's USN to the one stamped.
func (ri *recImage) protect() ([]byte, error) {
	b, n, err := mst.Protect(ri.buf, ri.usaOff, ri.usaCount, ri.usn)
	if err != nil {
		return nil, fmt.Errorf("MFT record %d: %w", ri.num, err)
	}
	ri.usn = n
	return b, nil
}

// needsSplitError: a change would need more room than the node or record
// has (a B-tree split or moving the index root out), which this package
// refuses to do.
type needsSplitError struct {
	what       string
	need, free int
}

func (e *needsSplitError) Error() string {
	return fmt.Sprintf("%s would need %d more bytes but has %d free: the change would need an index node split, which this tool does not do", e.what, e.need, e.free)
}

// $MFTMirr (record 1) backs up the first records of $MFT. Two counts
// matter, both derived here and nowhere else:
//
//   - held: the records whose copies the mirror's $DATA holds. ntfs-3g
//     (bootsect.c) sizes the mirror as 4 records, or one cluster's worth
//     when a cluster holds more, and its mount (volume.c,
//     ntfs_device_mount) cuts that to what a read of $MFTMirr's $DATA returns,
//     i.e. the attribute's data size; its record writes (mft.c) then copy
//     every record below that count to the mirror, and so do our plans.
//     Windows gives the mirror's $DATA 4 records whatever the cluster size
//     (libfsntfs "New Technologies File System (NTFS)": "Back up of the
//     first 4 entries of the Master File Table"; a 2 MiB-cluster volume
//     formatted by Windows 10 was reported with a mirror cluster that
//     differs from $MFT at record 24; not observed here: no Windows
//     machine); mkntfs makes it one whole
//     cluster (observed: -c 65536 gives 64 records, -c 2097152 2048).
//   - inStep: the records that must match before anything is written:
//     min(held, 4). Windows keeps only records 0-3 in step (ntfs-3g
//     volume.c: "Windows 10 does not update the full $MFTMirr any more"),
//     so on a volume whose mirror holds more (large clusters) the copies
//     past record 3 may be stale without the volume being inconsistent.
//
// Every record a plan writes below held gets its mirror copy written in
// the same commit, so the inStep records (a subset) still match after any
// prefix of a plan.

// mirrorInStep is how many $MFTMirr records Windows keeps in step.
const mirrorInStep = 4

// mftMirror is $MFTMirr as a plan uses it.
type mftMirror struct {
	held int        // records whose copies the mirror's $DATA holds
	data *runReader // the mirror's $DATA
}

// inStep is how many records must match $MFT: min(held, 4).
func (m *mftMirror) inStep() int { return min(m.held, mirrorInStep) }

// recordExtents returns where record n's copy lies (n < held).
func (m *mftMirror) recordExtents(n uint64, rs int) ([]Extent, error) {
	if n >= uint64(m.held) {
		return nil, fmt.Errorf("internal error: $MFTMirr does not hold record %d", n)
	}
	return m.data.extents(int64(n)*int64(rs), rs)
}

// loadMirror reads $MFTMirr's record (Open calls it once; the result or
// the error is kept for the write side).
func (v *Volume) loadMirror() (*mftMirror, error) {
	f, err := v.OpenRef(MakeRef(RecordMFTMirr, 0))
	if err != nil {
		return nil, fmt.Errorf("$MFTMirr: %w", err)
	}
	a := f.FindAttr(AttrData, "")
	if a == nil || !a.NonResident || len(a.Runs) == 0 || a.Runs[0].Sparse() {
		return nil, Corrupt("$MFTMirr", -1, "$DATA", "has no non-resident $DATA")
	}
	if a.Runs[0].LCN != v.boot.MFTMirrLCN {
		return nil, Corrupt("$MFTMirr", -1, "$DATA", "data starts at cluster %d, the boot sector says %d", a.Runs[0].LCN, v.boot.MFTMirrLCN)
	}
	ra, size, err := f.attrReader(AttrData, "")
	if err != nil {
		return nil, fmt.Errorf("$MFTMirr data: %w", err)
	}
	rr, ok := ra.(*runReader)
	if !ok {
		return nil, Corrupt("$MFTMirr", -1, "$DATA", "data is not a plain non-resident attribute")
	}
	cs, rs := v.boot.ClusterSize, v.boot.RecordSize
	capacity := 4
	if cs > 4*rs {
		capacity = cs / rs
	}
	held := int(min(int64(capacity), size/int64(rs)))
	return &mftMirror{held: held, data: rr}, nil
}

// mirror returns $MFTMirr's layout (read when the volume was opened).
func (v *Volume) mirror() (*mftMirror, error) {
	if v.mirr == nil {
		return nil, fmt.Errorf("ntfs: $MFTMirr is unusable: %w", v.mirrErr)
	}
	return v.mirr, nil
}

// mirrorRecords is held, or 0 when $MFTMirr is unusable.
func (v *Volume) mirrorRecords() int {
	if v.mirr == nil {
		return 0
	}
	return v.mirr.held
}
