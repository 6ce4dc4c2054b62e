package replay

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/unbrick/unbrick/ntfs"
	"github.com/unbrick/unbrick/ntfs/logfile"
)

// Redo of the two operations that change a non-resident attribute's header
// in its MFT record: UpdateMappingPairs and SetNewAttributeSizes.
//
// Non-resident attribute header (ntfs-3g layout.h ATTR_RECORD; libfsntfs
// "Non-resident attribute"): 0x10 lowest VCN, 0x18 highest VCN, 0x20
// mapping pairs offset, 0x28 allocated size, 0x30 data size, 0x38
// initialized size, 0x40 compressed size (only when the compression unit
// is set; otherwise the mapping pairs may start there).

const (
	nrLowestVCN  = 0x10
	nrHighestVCN = 0x18
	nrRunsOff    = 0x20
	nrAllocSize  = 0x28
	nrDataSize   = 0x30
	nrInitSize   = 0x38
	nrTotalSize  = 0x40
)

// nonResidentAttrAt checks that a non-resident attribute starts at off and
// returns its length.
func nonResidentAttrAt(b []byte, off int) (int, error) {
	l, err := attrAt(b, off)
	if err != nil {
		return 0, err
	}
	if b[off+ntfs.AttrOffNonResident] == 0 || l < 0x40 {
		return 0, fmt.Errorf("the attribute at %#x is not non-resident", off)
	}
	return l, nil
}

// redoUpdateMappingPairs replaces the mapping pairs from record offset +
// attribute offset to the attribute's end by the redo data, resizes the
// attribute and the record by the difference and recomputes the highest
// VCN from the new run list.
//
// Sources: ntfsrecover redo_update_mapping replaces undo-length bytes by
// redo-length bytes and moves the rest of the record, resizing by
// redo - undo (which must be a multiple of 8); ntfs3 do_action
// UpdateMappingPairs sets the attribute size to align8(attribute offset +
// redo length). Both recompute the highest VCN. They give the same record
// when the undo data runs to the attribute's end and both lengths are
// multiples of 8; we require that and refuse other shapes.
func redoUpdateMappingPairs(b []byte, r *logfile.LogRecord) error {
	data := r.RedoData()
	off, aoff := int(r.RecordOffset), int(r.AttrOffset)
	l, err := nonResidentAttrAt(b, off)
	if err != nil {
		return err
	}
	runOff := int(binary.LittleEndian.Uint16(b[off+nrRunsOff:]))
	newLen, oldLen := len(data), int(r.UndoLength)
	target := off + aoff
	if aoff < runOff || aoff%8 != 0 || newLen%8 != 0 || oldLen%8 != 0 || aoff+oldLen != l {
		return fmt.Errorf("mapping pairs update of %d bytes at attribute offset %d (undo %d bytes, mapping pairs at %d, attribute %d bytes) is not implemented yet",
			newLen, aoff, oldLen, runOff, l)
	}
	if target+newLen > len(b) {
		return fmt.Errorf("%d bytes of mapping pairs run past the record", newLen)
	}
	resize := newLen - oldLen
	if bytes.Equal(b[target:target+newLen], data) {
		return errNoChange
	}
	used := int(binary.LittleEndian.Uint32(b[ntfs.MFTOffBytesInUse:]))
	if used+resize > int(binary.LittleEndian.Uint32(b[ntfs.MFTOffBytesAllocated:])) {
		return fmt.Errorf("%d bytes of mapping pairs do not fit the record", newLen)
	}
	if resize > 0 {
		copy(b[target+newLen:], b[target+oldLen:len(b)-resize])
	} else if resize < 0 {
		copy(b[target+newLen:], b[target+oldLen:])
	}
	copy(b[target:], data)
	binary.LittleEndian.PutUint32(b[off+4:], uint32(l+resize))
	binary.LittleEndian.PutUint32(b[ntfs.MFTOffBytesInUse:], uint32(used+resize))
	lowest := int64(binary.LittleEndian.Uint64(b[off+nrLowestVCN:]))
	runs, err := ntfs.DecodeRunList(b[off+runOff:off+l+resize], lowest)
	if err != nil {
		return fmt.Errorf("the new mapping pairs: %w", err)
	}
	highest := lowest - 1
	if len(runs) > 0 {
		last := runs[len(runs)-1]
		highest = last.VCN + last.Length - 1
	}
	binary.LittleEndian.PutUint64(b[off+nrHighestVCN:], uint64(highest))
	return nil
}

// redoSetNewAttributeSizes sets a non-resident attribute's sizes from the
// redo data.
//
// The redo data's field order: Linux ntfs3 (fslog.c struct
// NEW_ATTRIBUTE_SIZES, do_action SetNewAttributeSizes) reads it as
// allocated size, valid data length (the initialized size), file size
// (the data size) and, when present, total allocated (compressed size);
// ntfsrecover (redo_sizes) copies it over the header from the allocated
// size on, in on-disk order (allocated, data, initialized). They agree
// when the initialized size equals the data size, the usual case. We
// follow ntfs3, whose layout follows Windows' own structure; a log in which
// the two sizes differ therefore replays differently from ntfsrecover
// (tests: replay_nonresident_test.go). Sizes out of order (initialized >
// data > allocated) are refused, as is a fourth size for an attribute that
// has no compressed-size field.
func redoSetNewAttributeSizes(b []byte, r *logfile.LogRecord) error {
	data := r.RedoData()
	off := int(r.RecordOffset)
	if r.AttrOffset != 0 {
		return fmt.Errorf("attribute offset %d: only 0 is handled", r.AttrOffset)
	}
	l, err := nonResidentAttrAt(b, off)
	if err != nil {
		return err
	}
	if len(data) != 24 && len(data) != 32 {
		return fmt.Errorf("%d bytes of new sizes, want 24 or 32", len(data))
	}
	alloc := binary.LittleEndian.Uint64(data[0:])
	valid := binary.LittleEndian.Uint64(data[8:])
	size := binary.LittleEndian.Uint64(data[16:])
	if valid > size || size > alloc || int64(alloc) < 0 {
		return fmt.Errorf("sizes out of order: allocated %d, file size %d, valid data %d", alloc, size, valid)
	}
	runOff := int(binary.LittleEndian.Uint16(b[off+nrRunsOff:]))
	if len(data) == 32 && (runOff < nrTotalSize+8 || l < nrTotalSize+8) {
		return errors.New("a total allocated size for an attribute with no such field")
	}
	want := make([]byte, 24)
	binary.LittleEndian.PutUint64(want[0:], alloc)
	binary.LittleEndian.PutUint64(want[8:], size)
	binary.LittleEndian.PutUint64(want[16:], valid)
	changed := !bytes.Equal(b[off+nrAllocSize:off+nrAllocSize+24], want)
	copy(b[off+nrAllocSize:], want)
	if len(data) == 32 {
		changed = changed || !bytes.Equal(b[off+nrTotalSize:off+nrTotalSize+8], data[24:32])
		copy(b[off+nrTotalSize:], data[24:32])
	}
	if !changed {
		return errNoChange
	}
	return nil
}
