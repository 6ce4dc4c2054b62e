package edit

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/unbrick/unbrick/ntfs"
	"github.com/unbrick/unbrick/ntfs/internal/mst"
	"github.com/unbrick/unbrick/ntfs/internal/utf16le"
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

func newRecImage(r *ntfs.Record) *recImage {
	return &recImage{num: r.Number, buf: append([]byte(nil), r.Raw...), usaOff: r.USAOffset, usaCount: r.USACount, usn: r.USN}
}

func (ri *recImage) u16(off int) uint16      { return binary.LittleEndian.Uint16(ri.buf[off:]) }
func (ri *recImage) u32(off int) uint32      { return binary.LittleEndian.Uint32(ri.buf[off:]) }
func (ri *recImage) put16(off int, v uint16) { binary.LittleEndian.PutUint16(ri.buf[off:], v) }
func (ri *recImage) put32(off int, v uint32) { binary.LittleEndian.PutUint32(ri.buf[off:], v) }
func (ri *recImage) bytesInUse() int         { return int(ri.u32(ntfs.MFTOffBytesInUse)) }
func (ri *recImage) bytesAllocated() int     { return int(ri.u32(ntfs.MFTOffBytesAllocated)) }
func (ri *recImage) free() int               { return ri.bytesAllocated() - ri.bytesInUse() }
func (ri *recImage) firstAttr() int          { return int(ri.u16(ntfs.MFTOffAttrs)) }
func (ri *recImage) attrLen(off int) int     { return int(ri.u32(off + ntfs.AttrOffLength)) }
func (ri *recImage) attrType(off int) ntfs.AttrType {
	return ntfs.AttrType(ri.u32(off + ntfs.AttrOffType))
}

// findAttr returns the header offset of the attribute of type t and name
// (and, if instance >= 0, that instance) in the current image.
func (ri *recImage) findAttr(t ntfs.AttrType, name string, instance int) (int, error) {
	used := ri.bytesInUse()
	for off := ri.firstAttr(); off+8 <= used; {
		at := ri.attrType(off)
		if at == ntfs.AttrEnd {
			break
		}
		l := ri.attrLen(off)
		if l < 16 || l%8 != 0 || off+l > used {
			return 0, ntfs.Corrupt(fmt.Sprintf("MFT record %d", ri.num), int64(off)+ntfs.AttrOffLength, "attribute length", "attribute at %d has invalid length %d", off, l)
		}
		if at == t && (instance < 0 || int(ri.u16(off+ntfs.AttrOffInstance)) == instance) {
			nl, no := int(ri.buf[off+ntfs.AttrOffNameLength]), int(ri.u16(off+ntfs.AttrOffNameOffset))
			if no+2*nl <= l && utf16le.Decode(ri.buf[off+no:off+no+2*nl]) == name {
				return off, nil
			}
		}
		off += l
	}
	return 0, ntfs.Corrupt(fmt.Sprintf("MFT record %d", ri.num), -1, "", "attribute %v %q not found", t, name)
}

// residentValue returns the value of the resident attribute at off.
func (ri *recImage) residentValue(off int) ([]byte, error) {
	if ri.buf[off+ntfs.AttrOffNonResident] != 0 {
		return nil, ntfs.Corrupt(fmt.Sprintf("MFT record %d", ri.num), int64(off)+ntfs.AttrOffNonResident, "non-resident flag", "attribute at %d is not resident", off)
	}
	vl, vo := int(ri.u32(off+ntfs.AttrOffValueLength)), int(ri.u16(off+ntfs.AttrOffValueOffset))
	if vo+vl > ri.attrLen(off) {
		return nil, ntfs.Corrupt(fmt.Sprintf("MFT record %d", ri.num), int64(off)+ntfs.AttrOffValueLength, "value length", "resident value at %d overflows its attribute", off)
	}
	return ri.buf[off+vo : off+vo+vl], nil
}

// setResidentValue replaces the value of the resident attribute at off,
// growing or shrinking the attribute (8-byte aligned) and moving the
// attributes after it. It fails, changing nothing, when the record has no
// room.
func (ri *recImage) setResidentValue(off int, val []byte) error {
	if ri.buf[off+ntfs.AttrOffNonResident] != 0 {
		return ntfs.Corrupt(fmt.Sprintf("MFT record %d", ri.num), int64(off)+ntfs.AttrOffNonResident, "non-resident flag", "attribute at %d is not resident", off)
	}
	vo := int(ri.u16(off + ntfs.AttrOffValueOffset))
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
	ri.put32(off+ntfs.AttrOffLength, uint32(newLen))
	ri.put32(off+ntfs.AttrOffValueLength, uint32(len(val)))
	ri.put32(ntfs.MFTOffBytesInUse, uint32(used+delta))
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

// refuse returns a *ntfs.RefusedError: the reason (format, a) and what the
// user can do (choices).
func refuse(choices, format string, a ...any) error {
	return &ntfs.RefusedError{Reason: fmt.Sprintf(format, a...), Choices: choices}
}

// eofIsUnexpected turns a short read's io.EOF (or a nil error with fewer
// bytes than asked) into io.ErrUnexpectedEOF.
func eofIsUnexpected(err error) error {
	if err == nil || err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
