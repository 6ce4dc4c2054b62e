package replay

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/unbrick/unbrick/ntfs"
	"github.com/unbrick/unbrick/ntfs/internal/mst"
	"github.com/unbrick/unbrick/ntfs/logfile"
)

// Redo of the operations that restructure one MFT record:
// InitializeFileRecordSegment, DeallocateFileRecordSegment,
// CreateAttribute, DeleteAttribute, WriteEndOfFileRecordSegment (same
// length), AddIndexEntryRoot, DeleteIndexEntryRoot, UpdateFileNameRoot,
// SetIndexEntryVcnRoot, UpdateResidentValue with a size change, and
// (replay_nonresident.go) UpdateMappingPairs and SetNewAttributeSizes,
// (replay_win10.go) ZeroEndOfFileRecord and UpdateRecordDataRoot.
//
// Sources (facts only): ntfs-3g ntfsprogs/playlog.c (redo_create_file,
// redo_delete_file, insert_resident, remove_resident, redo_write_end,
// redo_add_root_index, redo_delete_root_index, distribute_redos,
// play_one_redo, sanity_mft) — the oracle the tests compare with — and Linux
// fs/ntfs3/fslog.c do_action, a port of Windows' restart logic.
//
// Common frame (both sources): the record is located from the log record's
// LCN, cluster index and target VCN; a record whose LSN shows the change
// already reached it is skipped; after the change the record's LSN becomes
// the log record's LSN, its update sequence number advances, and a record in
// the $MFTMirr range is copied to the mirror. Where the two sources differ
// the choice is written next to the operation below; each such choice is
// one Windows itself (as ntfs3 ports it) makes.
//
// Operation pairs: the undo operation must be the one Windows pairs with
// the redo (or a compensation record), as ntfsrecover's distribute_redos
// requires; any other pairing is refused, because ntfsrecover silently
// does nothing with it and we will not guess.

// errNoChange reports that an MFT redo found its change already in place.
var errNoChange = errors.New("no change")

// mftUndoPairs lists, per supported MFT operation, the undo operations
// accepted with it.
var mftUndoPairs = map[logfile.LogOp][]logfile.LogOp{
	logfile.OpInitializeFileRecordSegment: {logfile.OpNoop},
	logfile.OpDeallocateFileRecordSegment: {logfile.OpInitializeFileRecordSegment, logfile.OpCompensationLogRecord},
	logfile.OpCreateAttribute:             {logfile.OpDeleteAttribute, logfile.OpCompensationLogRecord},
	logfile.OpDeleteAttribute:             {logfile.OpCreateAttribute, logfile.OpCompensationLogRecord},
	logfile.OpWriteEndOfFileRecordSegment: {logfile.OpWriteEndOfFileRecordSegment},
	logfile.OpAddIndexEntryRoot:           {logfile.OpDeleteIndexEntryRoot},
	logfile.OpDeleteIndexEntryRoot:        {logfile.OpAddIndexEntryRoot, logfile.OpCompensationLogRecord},
	logfile.OpUpdateFileNameRoot:          {logfile.OpUpdateFileNameRoot, logfile.OpCompensationLogRecord},
	logfile.OpSetIndexEntryVcnRoot:        {logfile.OpSetIndexEntryVcnRoot},
	logfile.OpZeroEndOfFileRecord:         {logfile.OpNoop},
	logfile.OpUpdateRecordDataRoot:        {logfile.OpUpdateRecordDataRoot, logfile.OpCompensationLogRecord},
	logfile.OpUpdateMappingPairs:          {logfile.OpUpdateMappingPairs},
	logfile.OpSetNewAttributeSizes:        {logfile.OpSetNewAttributeSizes, logfile.OpCompensationLogRecord},
}

// redoMFTRecordOp redoes one of the operations above. It reports whether
// the record was changed (false: already on disk).
func redoMFTRecordOp(v *ntfs.Volume, ov *overlay, r *logfile.LogRecord, latest logfile.LSN) (bool, error) {
	bad := func(reason string) error { return &UnsupportedLogOpError{Op: r.Redo, LSN: r.LSN, Reason: reason} }
	pairs, ok := mftUndoPairs[r.Redo]
	if !ok {
		return false, bad("not implemented yet")
	}
	if !containsOp(pairs, r.Undo) {
		return false, bad(fmt.Sprintf("undo operation %s with this redo is not implemented yet", r.Undo))
	}
	return redoMFTRecordWith(v, ov, r, latest, mftChange(r.Redo))
}

// mftChange is the change function of the MFT operation op (nil when op
// is not one).
func mftChange(op logfile.LogOp) func(b []byte, r *logfile.LogRecord) error {
	var change func(b []byte, r *logfile.LogRecord) error
	switch op {
	case logfile.OpInitializeFileRecordSegment:
		change = redoInitializeRecord
	case logfile.OpDeallocateFileRecordSegment:
		change = func(b []byte, _ *logfile.LogRecord) error { return redoDeallocateRecord(b) }
	case logfile.OpCreateAttribute:
		change = redoCreateAttribute
	case logfile.OpDeleteAttribute:
		change = redoDeleteAttribute
	case logfile.OpWriteEndOfFileRecordSegment:
		change = redoWriteEndOfRecord
	case logfile.OpAddIndexEntryRoot:
		change = redoAddIndexEntryRoot
	case logfile.OpDeleteIndexEntryRoot:
		change = redoDeleteIndexEntryRoot
	case logfile.OpUpdateFileNameRoot:
		change = redoUpdateFileNameRoot
	case logfile.OpSetIndexEntryVcnRoot:
		change = redoSetIndexEntryVcnRoot
	case logfile.OpZeroEndOfFileRecord:
		change = redoZeroEndOfRecord
	case logfile.OpUpdateRecordDataRoot:
		change = redoUpdateRecordDataRoot
	case logfile.OpUpdateMappingPairs:
		change = redoUpdateMappingPairs
	case logfile.OpSetNewAttributeSizes:
		change = redoSetNewAttributeSizes
	}
	return change
}

// redoMFTRecordWith runs change on the fixed-up MFT record r acts on,
// unless the record's LSN shows the change is there, and stages the
// result.
func redoMFTRecordWith(v *ntfs.Volume, ov *overlay, r *logfile.LogRecord, latest logfile.LSN, change func(b []byte, r *logfile.LogRecord) error) (bool, error) {
	bad := func(reason string) error { return &UnsupportedLogOpError{Op: r.Redo, LSN: r.LSN, Reason: reason} }
	n, at, err := mftTarget(v, ov, r)
	if err != nil {
		return false, err
	}
	raw, err := ov.read(at, v.Boot().RecordSize)
	if err != nil {
		return false, err
	}
	b := append([]byte(nil), raw...)
	_, _, _, ferr := applyFixups(b, fmt.Sprintf("MFT record %d", n))
	switch {
	case ferr == nil && string(b[:4]) == "FILE":
		if !r.UndoPass && reached(logfile.LSN(binary.LittleEndian.Uint64(b[mst.OffLSN:])), r.LSN, latest) {
			return false, nil
		}
	case r.Redo == logfile.OpInitializeFileRecordSegment && fullRecordImage(r.RedoData(), r, v.Boot().RecordSize):
		// The log carries the whole record: what was there does not
		// matter (ntfsrecover play_one_redo with check_full_mft: a
		// record that fails its fixups is replaced by zeros; one whose
		// fixups hold is kept under the new image; ntfs3 formats a new
		// record when reading fails).
		if ferr != nil {
			b = make([]byte, v.Boot().RecordSize)
		}
	default:
		return false, bad(fmt.Sprintf("MFT record %d is not a valid FILE record", n))
	}
	cerr := change(b, r)
	if errors.Is(cerr, errNoChange) {
		return false, nil
	}
	if cerr != nil {
		return false, bad(fmt.Sprintf("MFT record %d: %v", n, cerr))
	}
	if err := checkMFTRecordShape(b); err != nil {
		// ntfsrecover write_protected: sanity_mft failure means no write.
		return false, bad(fmt.Sprintf("the redone MFT record %d would be inconsistent: %v", n, err))
	}
	return true, stageMFTRecord(v, ov, r, n, at, b)
}

func containsOp(ops []logfile.LogOp, op logfile.LogOp) bool {
	for _, o := range ops {
		if o == op {
			return true
		}
	}
	return false
}

// fullRecordImage reports whether data is a whole MFT record header and
// attribute list ending in the end marker, placed at offset 0
// (ntfsrecover check_full_mft).
func fullRecordImage(data []byte, r *logfile.LogRecord, recSize int) bool {
	if r.RecordOffset != 0 || r.AttrOffset != 0 || len(data) > recSize || len(data) < ntfs.MFTOffBytesInUse+4 ||
		string(data[:4]) != "FILE" {
		return false
	}
	k := int(binary.LittleEndian.Uint16(data[ntfs.MFTOffAttrs:]))
	for k+4 <= len(data) {
		t := binary.LittleEndian.Uint32(data[k:])
		if t == uint32(ntfs.AttrEnd) {
			return true
		}
		if k+8 > len(data) || !knownAttrType(t) {
			return false
		}
		l := int(binary.LittleEndian.Uint32(data[k+4:]))
		if l < 16 || l%8 != 0 {
			return false
		}
		k += l
	}
	return false
}

// knownAttrType reports whether t is an attribute type code NTFS 3.1
// defines (ntfs-3g layout.h ATTR_TYPES; playlog.c valid_type).
func knownAttrType(t uint32) bool {
	switch t {
	case 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xA0, 0xB0, 0xC0, 0xD0, 0xE0, 0xF0, 0x100:
		return true
	}
	return false
}

// redoInitializeRecord copies the redo image to record offset + attribute
// offset and sets the in-use flag (ntfsrecover redo_create_file; ntfs3
// copies the image, whose flags Windows logs with the in-use bit set).
func redoInitializeRecord(b []byte, r *logfile.LogRecord) error {
	data := r.RedoData()
	target := int(r.RecordOffset) + int(r.AttrOffset)
	if target+len(data) > len(b) {
		return fmt.Errorf("a %d-byte image at offset %d runs past the record", len(data), target)
	}
	flags := binary.LittleEndian.Uint16(b[ntfs.MFTOffFlags:])
	if bytes.Equal(b[target:target+len(data)], data) && flags&ntfs.RecordInUse != 0 {
		return errNoChange
	}
	copy(b[target:], data)
	binary.LittleEndian.PutUint16(b[ntfs.MFTOffFlags:], binary.LittleEndian.Uint16(b[ntfs.MFTOffFlags:])|ntfs.RecordInUse)
	return nil
}

// redoDeallocateRecord clears the in-use flag and advances the record's
// sequence number.
//
// Sources disagree: ntfsrecover (redo_delete_file) copies the undo image
// back and clears the flag, keeping the sequence number; ntfs3 (do_action
// DeallocateFileRecordSegment) clears the flag and adds one to the
// sequence number, which is what Windows' own restart does (ntfs3 ports
// it) and what every NTFS writer does when it frees a record (ntfs-3g
// mft.c ntfs_mft_record_free bumps it too) so that stale references to
// the old file stop matching. We follow ntfs3; the oracle tests check that
// the only difference from ntfsrecover is this sequence number. The undo
// image is the record as it was: copying it back would only matter if
// the disk disagreed with the log, and then the LSN check already decided.
func redoDeallocateRecord(b []byte) error {
	flags := binary.LittleEndian.Uint16(b[ntfs.MFTOffFlags:])
	if flags&ntfs.RecordInUse == 0 {
		return errNoChange
	}
	binary.LittleEndian.PutUint16(b[ntfs.MFTOffFlags:], flags&^ntfs.RecordInUse)
	seq := binary.LittleEndian.Uint16(b[ntfs.MFTOffSequence:]) + 1
	binary.LittleEndian.PutUint16(b[ntfs.MFTOffSequence:], seq)
	return nil
}

// attrAt checks that an attribute of b starts at off and returns its
// length.
func attrAt(b []byte, off int) (int, error) {
	if !isAttrStart(b, off) {
		return 0, fmt.Errorf("no attribute starts at offset %#x", off)
	}
	end, err := attrEnd(b, off)
	if err != nil {
		return 0, err
	}
	return end - off, nil
}

// redoCreateAttribute inserts the attribute of the redo data at record
// offset (ntfsrecover redo_create_attribute/insert_resident; ntfs3
// do_action CreateAttribute). Bytes in use grow by its length; the next
// attribute instance passes the new attribute's; a FILE_NAME attribute
// adds a link. An attribute already in place is not inserted twice.
//
// The bytes after the record's end marker: ntfsrecover shifts the whole
// rest of the record, ntfs3 only the bytes in use. We shift the whole rest
// as ntfsrecover does (nothing reads past the end marker, and it keeps
// the result byte-identical with the oracle).
func redoCreateAttribute(b []byte, r *logfile.LogRecord) error {
	data := r.RedoData()
	off := int(r.RecordOffset)
	if r.AttrOffset != 0 || r.UndoLength != 0 {
		return fmt.Errorf("attribute offset %d / undo length %d: only a whole attribute with no undo data is handled", r.AttrOffset, r.UndoLength)
	}
	if len(data) < 24 || len(data)%8 != 0 || int(binary.LittleEndian.Uint32(data[4:])) != len(data) {
		return fmt.Errorf("the %d-byte redo data is not one attribute", len(data))
	}
	used := int(binary.LittleEndian.Uint32(b[ntfs.MFTOffBytesInUse:]))
	if off < ntfs.MFTOffNextInstance || off+8 > len(b) || used > len(b) {
		return fmt.Errorf("offset %#x (bytes in use %d) is outside the record", off, used)
	}
	if off != used-8 && !isAttrStart(b, off) {
		return fmt.Errorf("no attribute or end marker at offset %#x", off)
	}
	newType := binary.LittleEndian.Uint32(data[0:])
	if !knownAttrType(newType) {
		return fmt.Errorf("attribute type %#x is unknown", newType)
	}
	if at := binary.LittleEndian.Uint32(b[off:]); at < newType {
		return fmt.Errorf("attribute type %#x would precede type %#x", newType, at)
	}
	if off+len(data) > len(b) || used+len(data) > int(binary.LittleEndian.Uint32(b[ntfs.MFTOffBytesAllocated:])) {
		return fmt.Errorf("a %d-byte attribute does not fit", len(data))
	}
	if bytes.Equal(b[off:off+len(data)], data) {
		return errNoChange
	}
	copy(b[off+len(data):], b[off:len(b)-len(data)])
	copy(b[off:], data)
	binary.LittleEndian.PutUint32(b[ntfs.MFTOffBytesInUse:], uint32(used+len(data)))
	inst := binary.LittleEndian.Uint16(data[0x0E:])
	if binary.LittleEndian.Uint16(b[ntfs.MFTOffNextInstance:]) == inst {
		binary.LittleEndian.PutUint16(b[ntfs.MFTOffNextInstance:], inst+1)
	}
	if newType == uint32(ntfs.AttrFileName) {
		binary.LittleEndian.PutUint16(b[ntfs.MFTOffLinkCount:], binary.LittleEndian.Uint16(b[ntfs.MFTOffLinkCount:])+1)
	}
	return nil
}

// redoDeleteAttribute removes the attribute at record offset, which must
// be the one the undo data holds (ntfsrecover redo_delete_attribute /
// remove_resident compares it and does nothing otherwise). When no
// attribute of that type and instance is left the deletion already
// happened; when a different one is there we refuse, since the log and the
// disk then disagree. A FILE_NAME attribute drops a link.
// As for creation, the whole rest of the record is shifted.
func redoDeleteAttribute(b []byte, r *logfile.LogRecord) error {
	undo := r.UndoData()
	off := int(r.RecordOffset)
	if r.AttrOffset != 0 || r.RedoLength != 0 {
		return fmt.Errorf("attribute offset %d / redo length %d: only a whole attribute with no redo data is handled", r.AttrOffset, r.RedoLength)
	}
	if len(undo) < 16 || len(undo)%8 != 0 {
		return fmt.Errorf("the %d-byte undo data is not an attribute", len(undo))
	}
	if !hasAttrLike(b, undo) {
		// No attribute of the undo's type and instance is left: the
		// deletion already reached the record (ntfsrecover leaves the
		// record alone too).
		return errNoChange
	}
	l, err := attrAt(b, off)
	if err != nil {
		return err
	}
	if len(undo) != l {
		return fmt.Errorf("the %d-byte undo data is not the %d-byte attribute at %#x", len(undo), l, off)
	}
	cmp := len(undo)
	if binary.LittleEndian.Uint32(b[off:]) == uint32(ntfs.AttrData) && l >= 0x18 {
		// ntfsrecover compares a $DATA attribute only up to its value
		// offset (its value is not always logged).
		cmp = min(cmp, int(binary.LittleEndian.Uint16(b[off+0x14:])))
	}
	if !bytes.Equal(b[off:off+cmp], undo[:cmp]) {
		return errors.New("the attribute on disk is not the one the log deletes")
	}
	if binary.LittleEndian.Uint32(b[off:]) == uint32(ntfs.AttrFileName) {
		binary.LittleEndian.PutUint16(b[ntfs.MFTOffLinkCount:], binary.LittleEndian.Uint16(b[ntfs.MFTOffLinkCount:])-1)
	}
	used := int(binary.LittleEndian.Uint32(b[ntfs.MFTOffBytesInUse:]))
	copy(b[off:], b[off+l:])
	binary.LittleEndian.PutUint32(b[ntfs.MFTOffBytesInUse:], uint32(used-l))
	return nil
}

// redoResizeResident redoes an UpdateResidentValue whose redo and undo
// lengths differ: the attribute's whole value is replaced by one of another
// length, the attribute and the record grow or shrink by the difference of
// the 8-byte-aligned sizes.
//
// Sources: ntfs3 do_action UpdateResidentValue sets the attribute size to
// align8(attribute offset + redo length), the value length to the redo
// data's end minus the value offset, and moves the rest of the record;
// ntfsrecover expand_resident/shrink_resident compute the same sizes only
// when the value offset is 24 + 2 * name length, and shift the record from
// the value's start (shrinking: by the unaligned difference, which breaks
// the record unless the difference is a multiple of 8). We do it only where
// both give the same record: the redo replaces the whole value (attribute
// offset = value offset = 24 + 2 * name length, undo length = old value
// length) and, when shrinking, the difference is a multiple of 8. Other
// shapes are refused. The bytes moved are ntfsrecover's (the whole rest of
// the record), which Windows never reads past the end marker.
func redoResizeResident(b []byte, r *logfile.LogRecord) error {
	data := r.RedoData()
	off, aoff := int(r.RecordOffset), int(r.AttrOffset)
	l, err := attrAt(b, off)
	if err != nil {
		return err
	}
	if l < 0x18 || b[off+ntfs.AttrOffNonResident] != 0 {
		return errors.New("the attribute is not resident")
	}
	vo := int(binary.LittleEndian.Uint16(b[off+0x14:]))
	vl := int(binary.LittleEndian.Uint32(b[off+0x10:]))
	nameLen := int(b[off+9])
	newLen, oldLen := len(data), int(r.UndoLength)
	target := off + aoff
	if aoff == vo && vl == newLen && vo+vl <= l && bytes.Equal(b[target:target+newLen], data) {
		return errNoChange // the new value is in place
	}
	if aoff != vo || vo != 24+2*nameLen || oldLen != vl || vo+vl > l {
		return fmt.Errorf("a size change of part of a resident value (attribute offset %d, value at %d of %d bytes, undo %d bytes) is not implemented yet", aoff, vo, vl, oldLen)
	}
	resize := (vo+newLen+7)&^7 - (vo+oldLen+7)&^7
	if newLen < oldLen && (newLen == 0 || oldLen-newLen != -resize) {
		return fmt.Errorf("shrinking a resident value from %d to %d bytes is not implemented yet (the sources disagree)", oldLen, newLen)
	}
	used := int(binary.LittleEndian.Uint32(b[ntfs.MFTOffBytesInUse:]))
	if alloc := int(binary.LittleEndian.Uint32(b[ntfs.MFTOffBytesAllocated:])); used+resize > alloc || alloc > len(b) || used > len(b) || target+max(newLen, oldLen) > len(b) {
		return fmt.Errorf("a %d-byte value does not fit the record", newLen)
	}
	if resize >= 0 {
		copy(b[target+resize:], b[target:len(b)-resize])
	} else {
		copy(b[target+newLen:], b[target+oldLen:])
	}
	copy(b[target:], data)
	binary.LittleEndian.PutUint32(b[off+0x10:], uint32(newLen))
	binary.LittleEndian.PutUint32(b[off+0x04:], uint32(l+resize))
	binary.LittleEndian.PutUint32(b[ntfs.MFTOffBytesInUse:], uint32(used+resize))
	return nil
}

// hasAttrLike reports whether b has an attribute of the type and instance
// of the attribute image a.
func hasAttrLike(b, a []byte) bool {
	typ, inst := binary.LittleEndian.Uint32(a[0:]), binary.LittleEndian.Uint16(a[0x0E:])
	k := int(binary.LittleEndian.Uint16(b[ntfs.MFTOffAttrs:]))
	for k+16 <= len(b) {
		t := binary.LittleEndian.Uint32(b[k:])
		if t == uint32(ntfs.AttrEnd) || !knownAttrType(t) {
			return false
		}
		if t == typ && binary.LittleEndian.Uint16(b[k+0x0E:]) == inst {
			return true
		}
		l := int(binary.LittleEndian.Uint32(b[k+4:]))
		if l < 16 {
			return false
		}
		k += l
	}
	return false
}

// redoWriteEndOfRecord rewrites the end of the record. Only the case both
// sources agree on is done: redo and undo of the same length, at attribute
// offset 0, ending exactly at the record's bytes in use (ntfsrecover
// redo_write_end copies in place; ntfs3 copies to the record offset and
// sets bytes in use to its end). A write that changes the record's length
// is handled differently by the two (ntfsrecover inserts or removes bytes,
// ntfs3 truncates the record there) and is refused.
func redoWriteEndOfRecord(b []byte, r *logfile.LogRecord) error {
	data := r.RedoData()
	off := int(r.RecordOffset)
	used := int(binary.LittleEndian.Uint32(b[ntfs.MFTOffBytesInUse:]))
	if r.RedoLength != r.UndoLength || r.AttrOffset != 0 || off+len(data) != used || used > len(b) {
		return fmt.Errorf("a record end write that changes the record's length (redo %d, undo %d bytes at %#x, %d bytes in use) is not implemented yet",
			r.RedoLength, r.UndoLength, off, used)
	}
	if !isAttrStart(b, off) {
		return fmt.Errorf("no attribute starts at offset %#x", off)
	}
	if bytes.Equal(b[off:off+len(data)], data) {
		return errNoChange
	}
	copy(b[off:], data)
	return nil
}

// indexRootHeader returns the offset of the index header inside the
// $INDEX_ROOT attribute at off and the end of its index entries, checking
// the attribute.
func indexRootHeader(b []byte, off int) (hdr, entriesEnd int, err error) {
	l, err := attrAt(b, off)
	if err != nil {
		return 0, 0, err
	}
	if l < 0x18 || binary.LittleEndian.Uint32(b[off:]) != uint32(ntfs.AttrIndexRoot) || b[off+ntfs.AttrOffNonResident] != 0 {
		return 0, 0, fmt.Errorf("the attribute at %#x is not a resident $INDEX_ROOT", off)
	}
	vo := int(binary.LittleEndian.Uint16(b[off+0x14:]))
	vl := int(binary.LittleEndian.Uint32(b[off+0x10:]))
	if vo+vl > l || vl < 32 {
		return 0, 0, fmt.Errorf("$INDEX_ROOT value of %d bytes at %d does not fit its attribute", vl, vo)
	}
	hdr = off + vo + 16
	entriesEnd = hdr + int(binary.LittleEndian.Uint32(b[hdr+4:]))
	if entriesEnd > off+l || entriesEnd < hdr+int(binary.LittleEndian.Uint32(b[hdr:])) {
		return 0, 0, fmt.Errorf("$INDEX_ROOT index entries end at %#x, outside the attribute", entriesEnd)
	}
	return hdr, entriesEnd, nil
}

// resizeIndexRoot adds delta to the $INDEX_ROOT attribute at off: value
// length, attribute length, record bytes in use, index header used and
// allocated sizes (ntfsrecover resize_attribute; ntfs3 do_action
// Add/DeleteIndexEntryRoot change the same fields).
func resizeIndexRoot(b []byte, off, hdr, delta int) {
	add32 := func(p int) {
		binary.LittleEndian.PutUint32(b[p:], uint32(int(binary.LittleEndian.Uint32(b[p:]))+delta))
	}
	add32(off + 0x10)
	add32(off + 0x04)
	add32(ntfs.MFTOffBytesInUse)
	add32(hdr + 4)
	add32(hdr + 8)
}

// redoAddIndexEntryRoot inserts the index entry of the redo data at
// record offset + attribute offset inside the $INDEX_ROOT at record offset
// (ntfsrecover redo_add_root_index; ntfs3 do_action AddIndexEntryRoot).
// An entry already in place is not inserted twice.
func redoAddIndexEntryRoot(b []byte, r *logfile.LogRecord) error {
	data := r.RedoData()
	off := int(r.RecordOffset)
	hdr, entriesEnd, err := indexRootHeader(b, off)
	if err != nil {
		return err
	}
	target := off + int(r.AttrOffset)
	if len(data) < 16 || len(data)%8 != 0 || int(binary.LittleEndian.Uint16(data[8:])) != len(data) {
		return fmt.Errorf("the %d-byte redo data is not one index entry", len(data))
	}
	if target < hdr+int(binary.LittleEndian.Uint32(b[hdr:])) || target >= entriesEnd {
		return fmt.Errorf("offset %#x is not inside the root's index entries", target)
	}
	used := int(binary.LittleEndian.Uint32(b[ntfs.MFTOffBytesInUse:]))
	if used+len(data) > int(binary.LittleEndian.Uint32(b[ntfs.MFTOffBytesAllocated:])) || target+len(data) > len(b) {
		return fmt.Errorf("a %d-byte index entry does not fit", len(data))
	}
	if bytes.Equal(b[target:target+len(data)], data) {
		return errNoChange
	}
	copy(b[target+len(data):], b[target:len(b)-len(data)])
	copy(b[target:], data)
	resizeIndexRoot(b, off, hdr, len(data))
	return nil
}

// redoDeleteIndexEntryRoot removes the index entry at record offset +
// attribute offset, which must be the one the undo data holds
// (ntfsrecover redo_delete_root_index; ntfs3 do_action
// DeleteIndexEntryRoot, which takes the entry's own length).
func redoDeleteIndexEntryRoot(b []byte, r *logfile.LogRecord) error {
	undo := r.UndoData()
	off := int(r.RecordOffset)
	hdr, entriesEnd, err := indexRootHeader(b, off)
	if err != nil {
		return err
	}
	target := off + int(r.AttrOffset)
	if target < hdr+int(binary.LittleEndian.Uint32(b[hdr:])) || target+16 > entriesEnd {
		return fmt.Errorf("offset %#x is not an index entry of the root", target)
	}
	if !bytes.Contains(b[hdr:entriesEnd], undo) {
		// The entry is no longer in the root: its deletion already
		// reached the record (ntfsrecover leaves the record alone too).
		return errNoChange
	}
	el := int(binary.LittleEndian.Uint16(b[target+8:]))
	if el != len(undo) || el%8 != 0 || target+el > entriesEnd {
		return fmt.Errorf("the %d-byte undo data is not the %d-byte entry at %#x", len(undo), el, target)
	}
	if !bytes.Equal(b[target:target+el], undo) {
		if r.Undo == logfile.OpCompensationLogRecord {
			return errors.New("a compensated entry deletion whose entry differs from the log is not implemented yet")
		}
		return errors.New("the index entry on disk is not the one the log deletes")
	}
	copy(b[target:], b[target+el:])
	resizeIndexRoot(b, off, hdr, -el)
	return nil
}

// fileNameDupSize is the size of the duplicated information of a
// $FILE_NAME (four times, allocated and data size, file attributes, EA
// size or reparse tag) that an index entry keeps a copy of (ntfs3 ntfs.h
// NTFS_DUP_INFO; ntfs-3g layout.h FILE_NAME_ATTR).
const fileNameDupSize = 0x38

// redoUpdateFileNameRoot replaces the duplicated information of the
// $FILE_NAME key of the index entry at record offset + attribute offset in
// the $INDEX_ROOT at record offset: the 0x38 bytes after the entry header
// (0x10) and the parent reference (8).
//
// Sources: ntfs3 do_action UpdateFileNameRoot copies the duplicated
// information there; ntfsrecover redo_update_root_index writes the redo data
// so that it ends at the file name length field (the same place for 0x38
// bytes), but only when the bytes there equal the undo data (any value for
// a compensation record). We write when the bytes equal the undo data or
// the record is a compensation; bytes equal to the redo data are already
// done; anything else means the disk and the log disagree and is refused.
func redoUpdateFileNameRoot(b []byte, r *logfile.LogRecord) error {
	data, undo := r.RedoData(), r.UndoData()
	off := int(r.RecordOffset)
	hdr, entriesEnd, err := indexRootHeader(b, off)
	if err != nil {
		return err
	}
	if len(data) != fileNameDupSize || (r.Undo != logfile.OpCompensationLogRecord && len(undo) != fileNameDupSize) {
		return fmt.Errorf("%d bytes of file name information (undo %d), want %d", len(data), len(undo), fileNameDupSize)
	}
	target := off + int(r.AttrOffset)
	p := hdr + int(binary.LittleEndian.Uint32(b[hdr:]))
	for p < target && p+16 <= entriesEnd {
		el := int(binary.LittleEndian.Uint16(b[p+8:]))
		if el < 16 {
			break
		}
		p += el
	}
	if p != target || p+16 > entriesEnd {
		return fmt.Errorf("offset %#x is not an index entry of the root", target)
	}
	return updateFileNameDup(b, p, entriesEnd, r, data, undo)
}

// redoSetIndexEntryVcnRoot sets the sub-node VCN (the entry's last 8
// bytes) of the index entry at record offset + attribute offset in the
// $INDEX_ROOT at record offset.
//
// Sources: ntfs3 do_action SetIndexEntryVcnRoot writes the 8 redo bytes at
// the entry's end less 8; ntfsrecover redo_update_root_vcn writes them at
// the same place (entry length - 8) only when the bytes there equal the
// undo data. We write when they equal the undo data, take bytes equal to
// the redo data as done, and refuse anything else (the disk and the log
// disagree), and an entry without a sub-node.
func redoSetIndexEntryVcnRoot(b []byte, r *logfile.LogRecord) error {
	data, undo := r.RedoData(), r.UndoData()
	off := int(r.RecordOffset)
	hdr, entriesEnd, err := indexRootHeader(b, off)
	if err != nil {
		return err
	}
	if len(data) != 8 || len(undo) != 8 {
		return fmt.Errorf("%d bytes of VCN (undo %d), want 8", len(data), len(undo))
	}
	target := off + int(r.AttrOffset)
	if !entryAt(b, hdr+int(binary.LittleEndian.Uint32(b[hdr:])), entriesEnd, target) {
		return fmt.Errorf("offset %#x is not an index entry of the root", target)
	}
	return setEntryVCN(b, target, entriesEnd, data, undo, true)
}

// setEntryVCN writes data over the sub-node VCN of the index entry at p
// (entries end at end). With expect, the old bytes must be the undo data
// (or already the new ones).
func setEntryVCN(b []byte, p, end int, data, undo []byte, expect bool) error {
	if p+16 > end {
		return fmt.Errorf("no index entry at %#x", p)
	}
	el := int(binary.LittleEndian.Uint16(b[p+8:]))
	if el < 24 || el%8 != 0 || p+el > end || binary.LittleEndian.Uint32(b[p+12:])&1 == 0 {
		return fmt.Errorf("the index entry at %#x has no sub-node", p)
	}
	dst := b[p+el-8 : p+el]
	switch {
	case bytes.Equal(dst, data):
		return errNoChange
	case !expect || bytes.Equal(dst, undo):
		copy(dst, data)
		return nil
	}
	return errors.New("the sub-node VCN on disk is neither the logged old nor new value")
}

// updateFileNameDup redoes an UpdateFileName record on the index entry at
// p (entries end at end): it checks that the entry carries a file name key
// and replaces the key's duplicated information with the redo data when
// the bytes there are the logged old value (or the record is a
// compensation); bytes already equal to the new value are errNoChange.
func updateFileNameDup(b []byte, p, end int, r *logfile.LogRecord, data, undo []byte) error {
	el := int(binary.LittleEndian.Uint16(b[p+8:]))
	keyLen := int(binary.LittleEndian.Uint16(b[p+10:]))
	if binary.LittleEndian.Uint32(b[p+12:])&2 != 0 || keyLen < 0x42 || p+el > end || 0x10+keyLen > el {
		return fmt.Errorf("the index entry at %#x has no file name key", p)
	}
	dst := b[p+0x18 : p+0x18+fileNameDupSize]
	switch {
	case bytes.Equal(dst, data):
		return errNoChange
	case r.Undo == logfile.OpCompensationLogRecord || bytes.Equal(dst, undo):
		copy(dst, data)
		return nil
	}
	return errors.New("the file name information on disk is neither the logged old nor new value")
}

// checkMFTRecordShape verifies what ntfsrecover's sanity_mft verifies
// before it writes a record: attributes of known types in ascending type
// order, instances below the next instance, an end marker, bytes in use
// ending 8 bytes after it and not above bytes allocated.
func checkMFTRecordShape(b []byte) error {
	k := int(binary.LittleEndian.Uint16(b[ntfs.MFTOffAttrs:]))
	next := binary.LittleEndian.Uint16(b[ntfs.MFTOffNextInstance:])
	prev := uint32(0)
	for k+8 <= len(b) {
		t := binary.LittleEndian.Uint32(b[k:])
		if t == uint32(ntfs.AttrEnd) || !knownAttrType(t) {
			break
		}
		if t < prev {
			return fmt.Errorf("attribute type %#x after %#x", t, prev)
		}
		if k+16 > len(b) || binary.LittleEndian.Uint16(b[k+0x0E:]) >= next {
			return fmt.Errorf("attribute instance at %#x is not below the next instance %d", k, next)
		}
		l := int(binary.LittleEndian.Uint32(b[k+4:]))
		if l < 16 || l%8 != 0 {
			return fmt.Errorf("attribute length %d at %#x", l, k)
		}
		prev = t
		k += l
	}
	if k+4 > len(b) || binary.LittleEndian.Uint32(b[k:]) != uint32(ntfs.AttrEnd) {
		return errors.New("no end marker after the attributes")
	}
	used := int(binary.LittleEndian.Uint32(b[ntfs.MFTOffBytesInUse:]))
	if used != k+8 || int(binary.LittleEndian.Uint32(b[ntfs.MFTOffBytesAllocated:])) < used {
		return fmt.Errorf("bytes in use %d, attributes end at %d", used, k+8)
	}
	return nil
}

// stageMFTRecord sets the record's LSN to the log record's, protects it
// and stages it, with the $MFTMirr copy for a mirrored record (ntfsrecover
// write_protected and write_mirr: the whole MFT cluster is copied to the
// mirror's cluster for the same VCN).
func stageMFTRecord(v *ntfs.Volume, ov *overlay, r *logfile.LogRecord, n uint64, at int64, b []byte) error {
	if !r.UndoPass {
		// (an undo keeps the record's LSN: ntfs3 do_action with no
		// redo LSN, ntfsrecover write_protected outside its sync mode)
		binary.LittleEndian.PutUint64(b[mst.OffLSN:], uint64(r.LSN))
	}
	if err := mst.ProtectInPlace(b); err != nil {
		return fmt.Errorf("journal replay: MFT record %d: %w", n, err)
	}
	if err := ov.write(at, b); err != nil {
		return err
	}
	m, err := v.MFTMirror()
	if err != nil {
		if n >= ntfs.MirrorInStep {
			return nil // (a mirror that cannot be found holds no more than Windows keeps)
		}
		return fmt.Errorf("journal replay: %w", err)
	}
	if n >= uint64(m.Held) {
		return nil
	}
	cs := int64(v.Boot().ClusterSize)
	clu, err := ov.read(r.LCNs[0]*cs, int(cs))
	if err != nil {
		return err
	}
	mlcn, err := mirrorLCN(v, r.TargetVCN)
	if err != nil {
		return err
	}
	return ov.write(mlcn*cs, clu)
}
