package ntfs

import (
	"encoding/binary"
	"fmt"
)

// Write-side helpers for multi-sector records and MFT record images.

// nextUSN is the update sequence number a writer stamps next: incremented,
// skipping 0 and 0xFFFF (ntfs-3g mst.c ntfs_mst_pre_write_fixup).
func nextUSN(usn uint16) uint16 {
	usn++
	if usn == 0 || usn == 0xFFFF {
		usn = 1
	}
	return usn
}

// mstProtect returns the on-disk form of a clean (fixed-up) multi-sector
// structure: a copy with the update sequence number advanced from usn, each
// 512-byte stride's last two bytes saved into the update sequence array and
// replaced by the new number. It also returns the new number.
func mstProtect(clean []byte, usaOff, usaCount int, usn uint16) ([]byte, uint16, error) {
	strides := len(clean) / fixupStride
	if len(clean)%fixupStride != 0 || usaCount != strides+1 || usaOff < 8 || usaOff+2*usaCount > fixupStride-2 {
		return nil, 0, fmt.Errorf("update sequence array (offset %d, %d entries) does not fit a %d-byte structure", usaOff, usaCount, len(clean))
	}
	b := append([]byte(nil), clean...)
	n := nextUSN(usn)
	binary.LittleEndian.PutUint16(b[usaOff:], n)
	for i := 0; i < strides; i++ {
		tail := i*fixupStride + fixupStride - 2
		copy(b[usaOff+2+2*i:], b[tail:tail+2])
		binary.LittleEndian.PutUint16(b[tail:], n)
	}
	return b, n, nil
}

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
func (ri *recImage) bytesInUse() int           { return int(ri.u32(24)) }
func (ri *recImage) bytesAllocated() int       { return int(ri.u32(28)) }
func (ri *recImage) free() int                 { return ri.bytesAllocated() - ri.bytesInUse() }
func (ri *recImage) firstAttr() int            { return int(ri.u16(20)) }
func (ri *recImage) attrLen(off int) int       { return int(ri.u32(off + 4)) }
func (ri *recImage) attrType(off int) AttrType { return AttrType(ri.u32(off)) }

// findAttr returns the header offset of the attribute of type t and name
// (and, if instance >= 0, that instance) in the current image.
func (ri *recImage) findAttr(t AttrType, name string, instance int) (int, error) {
	used := ri.bytesInUse()
	for off := ri.firstAttr(); off+8 <= used; {
		at := ri.attrType(off)
		if at == AttrType(0xFFFFFFFF) {
			break
		}
		l := ri.attrLen(off)
		if l < 16 || l%8 != 0 || off+l > used {
			return 0, corruptf("MFT record %d: attribute at %d has invalid length %d", ri.num, off, l)
		}
		if at == t && (instance < 0 || int(ri.u16(off+14)) == instance) {
			nl, no := int(ri.buf[off+9]), int(ri.u16(off+10))
			if no+2*nl <= l && decodeUTF16(ri.buf[off+no:off+no+2*nl]) == name {
				return off, nil
			}
		}
		off += l
	}
	return 0, corruptf("MFT record %d: attribute %v %q not found", ri.num, t, name)
}

// residentValue returns the value of the resident attribute at off.
func (ri *recImage) residentValue(off int) ([]byte, error) {
	if ri.buf[off+8] != 0 {
		return nil, corruptf("MFT record %d: attribute at %d is not resident", ri.num, off)
	}
	vl, vo := int(ri.u32(off+16)), int(ri.u16(off+20))
	if vo+vl > ri.attrLen(off) {
		return nil, corruptf("MFT record %d: resident value at %d overflows its attribute", ri.num, off)
	}
	return ri.buf[off+vo : off+vo+vl], nil
}

// setResidentValue replaces the value of the resident attribute at off,
// growing or shrinking the attribute (8-byte aligned) and moving the
// attributes after it. It fails, changing nothing, when the record has no
// room.
func (ri *recImage) setResidentValue(off int, val []byte) error {
	if ri.buf[off+8] != 0 {
		return corruptf("MFT record %d: attribute at %d is not resident", ri.num, off)
	}
	vo := int(ri.u16(off + 20))
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
	ri.put32(off+4, uint32(newLen))
	ri.put32(off+16, uint32(len(val)))
	ri.put32(24, uint32(used+delta))
	return nil
}

// protect returns the on-disk bytes for the current image and advances the
// image's USN to the one stamped.
func (ri *recImage) protect() ([]byte, error) {
	b, n, err := mstProtect(ri.buf, ri.usaOff, ri.usaCount, ri.usn)
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

// mirrorRecords is how many MFT records $MFTMirr holds: 4, or one
// cluster's worth when a cluster holds more (ntfs-3g bootsect.c,
// mftmirr_size).
func (v *Volume) mirrorRecords() int {
	cs, rs := v.boot.ClusterSize, v.boot.RecordSize
	if cs <= 4*rs {
		return 4
	}
	return cs / rs
}
