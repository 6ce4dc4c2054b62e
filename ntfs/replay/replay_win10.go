package replay

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/unbrick/unbrick/ntfs"
	"github.com/unbrick/unbrick/ntfs/logfile"
)

// Redo of the operations Windows 10 added: ZeroEndOfFileRecord (0x25),
// UpdateRecordDataRoot (0x21) and UpdateRecordDataAllocation (0x22).
//
// ZeroEndOfFileRecord zeroes the redo length of bytes from the record
// offset of an MFT record (ntfs3 do_action ZeroEndOfFileRecord: memset at
// the record offset, which must stay inside the record; ntfsrecover
// redo_action37: at record offset + attribute offset, only when that
// range ends exactly at the record's end, and the record is written even
// when the bytes were zero already). We redo the shape both accept:
// attribute offset 0, the range ending at the record's end, starting at or
// after the bytes in use (it clears what a shrinking record left behind,
// never a live attribute). The record is rewritten (LSN stamped) as both
// sources do. ntfsrecover requires the undo operation Noop.
//
// UpdateRecordDataRoot and UpdateRecordDataAllocation replace the data
// part of a view index entry ($Secure's $SII/$SDH, $Quota's $Q, $ObjId's
// $O...), in an $INDEX_ROOT or an INDX block: the redo data is copied to
// the entry's data offset (entry + 0, u16) and must end inside the entry
// (ntfs3 do_action UpdateRecordDataRoot/Allocation, the only source:
// ntfsrecover does not implement them and refuses such logs). We also
// refuse a data offset inside the entry header or the key, a target that
// is the end entry, and (when the record carries undo data of the same
// length) bytes on disk that are neither the logged old nor new value.

// redoZeroEndOfRecord zeroes the end of the fixed-up MFT record b.
func redoZeroEndOfRecord(b []byte, r *logfile.LogRecord) error {
	off, n := int(r.RecordOffset), int(r.RedoLength)
	used := int(binary.LittleEndian.Uint32(b[ntfs.MFTOffBytesInUse:]))
	if r.AttrOffset != 0 {
		return fmt.Errorf("attribute offset %d: ntfsrecover and ntfs3 zero different places", r.AttrOffset)
	}
	if n == 0 || off+n != len(b) {
		return fmt.Errorf("%d bytes from offset %#x do not end at the record's end (%d bytes): the sources disagree on this shape", n, off, len(b))
	}
	if off < used || used > len(b) {
		return fmt.Errorf("zeroing from %#x would clear bytes in use (up to %#x)", off, used)
	}
	clear(b[off:])
	return nil
}

// viewEntryData checks the view index entry at p (entries end at end) and
// returns the offset of its data.
func viewEntryData(b []byte, p, end, n int) (int, error) {
	if p < 0 || p+16 > end {
		return 0, fmt.Errorf("no index entry at %#x", p)
	}
	el := int(binary.LittleEndian.Uint16(b[p+8:]))
	kl := int(binary.LittleEndian.Uint16(b[p+10:]))
	do := int(binary.LittleEndian.Uint16(b[p:]))
	dl := int(binary.LittleEndian.Uint16(b[p+2:]))
	switch {
	case binary.LittleEndian.Uint32(b[p+12:])&2 != 0:
		return 0, fmt.Errorf("the index entry at %#x is the end entry", p)
	case el < 16 || p+el > end:
		return 0, fmt.Errorf("the index entry at %#x has length %d", p, el)
	case do < 16+kl || do+n > el || n > dl:
		return 0, fmt.Errorf("%d bytes of data at entry offset %d (key %d bytes, data %d bytes, entry %d bytes) do not fit the entry's data", n, do, kl, dl, el)
	}
	return p + do, nil
}

// updateViewData replaces the data of the view entry at p.
func updateViewData(b []byte, p, end int, r *logfile.LogRecord) error {
	data, undo := r.RedoData(), r.UndoData()
	if len(data) == 0 {
		return errors.New("the record carries no redo data")
	}
	at, err := viewEntryData(b, p, end, len(data))
	if err != nil {
		return err
	}
	dst := b[at : at+len(data)]
	switch {
	case bytes.Equal(dst, data):
		return errNoChange
	case r.Undo == logfile.OpCompensationLogRecord || len(undo) != len(data) || bytes.Equal(dst, undo):
		copy(dst, data)
		return nil
	}
	return errors.New("the entry's data on disk is neither the logged old nor new value")
}

// redoUpdateRecordDataRoot updates a view entry of the $INDEX_ROOT at
// record offset; the entry is at record offset + attribute offset.
func redoUpdateRecordDataRoot(b []byte, r *logfile.LogRecord) error {
	off := int(r.RecordOffset)
	hdr, entriesEnd, err := indexRootHeader(b, off)
	if err != nil {
		return err
	}
	target := off + int(r.AttrOffset)
	if !entryAt(b, hdr+int(binary.LittleEndian.Uint32(b[hdr:])), entriesEnd, target) {
		return fmt.Errorf("offset %#x is not an index entry of the root", target)
	}
	return updateViewData(b, target, entriesEnd, r)
}

// redoUpdateRecordDataBlock updates the view entry at the attribute
// offset of an INDX block.
func redoUpdateRecordDataBlock(b []byte, r *logfile.LogRecord) error {
	start, end, _, err := blockEntries(b, indxHdrOff)
	if err != nil {
		return err
	}
	p := int(r.AttrOffset)
	if !entryAt(b, start, end, p) {
		return fmt.Errorf("offset %#x is not an index entry of the block", p)
	}
	return updateViewData(b, p, end, r)
}
