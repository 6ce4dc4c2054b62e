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

// Redo of the operations on index blocks (INDX records of an
// $INDEX_ALLOCATION): AddIndexEntryAllocation, DeleteIndexEntryAllocation,
// UpdateFileNameAllocation, WriteEndOfIndexBuffer,
// SetIndexEntryVcnAllocation and (replay_win10.go)
// UpdateRecordDataAllocation. UpdateNonresidentValue on an index block is
// in replay_nrvalue.go.
//
// Sources (facts only): ntfs-3g ntfsprogs/playlog.c (play_one_redo ON_INDX,
// redo_add_index, redo_delete_index, redo_update_index, write_protected)
// and Linux fs/ntfs3/fslog.c do_action. The block is the index block size
// of bytes at the log record's LCNs (plus cluster index * 512 for blocks
// smaller than a cluster); its LSN decides whether the change is there;
// after the change the block's LSN becomes the log record's and its update
// sequence number advances. Both sources insert and remove entries at
// record offset + attribute offset and adjust the index length; ntfsrecover
// moves the whole rest of the block, ntfs3 only the entries, and we move
// as ntfsrecover does (nothing reads past the entries).
//
// Target check: Windows resolves the block through the open attribute
// table. We require a valid INDX block at the logged clusters, whose own
// VCN is the log record's target VCN, on clusters $Bitmap marks in use;
// when the open attribute table (checkpoint dump and
// OpenNonresidentAttribute records) names the target attribute, it must
// also be an $INDEX_ALLOCATION mapping the target VCN to those clusters.
// Anything else is refused.

// indxUndoPairs lists, per supported index-block operation, the undo
// operations accepted with it (ntfsrecover distribute_redos).
var indxUndoPairs = map[logfile.LogOp][]logfile.LogOp{
	logfile.OpAddIndexEntryAllocation:    {logfile.OpDeleteIndexEntryAllocation},
	logfile.OpDeleteIndexEntryAllocation: {logfile.OpAddIndexEntryAllocation, logfile.OpCompensationLogRecord},
	logfile.OpUpdateFileNameAllocation:   {logfile.OpUpdateFileNameAllocation, logfile.OpCompensationLogRecord},
	logfile.OpWriteEndOfIndexBuffer:      {logfile.OpWriteEndOfIndexBuffer, logfile.OpCompensationLogRecord},
	logfile.OpSetIndexEntryVcnAllocation: {logfile.OpSetIndexEntryVcnAllocation, logfile.OpCompensationLogRecord},
	logfile.OpUpdateRecordDataAllocation: {logfile.OpUpdateRecordDataAllocation, logfile.OpCompensationLogRecord},
}

// INDX block header fields (ntfs-3g layout.h INDEX_BLOCK; libfsntfs
// "Index record"): 0x08 LSN, 0x10 VCN of this block, 0x18 index header
// (entries offset, index length, allocated size, flags), all header
// offsets relative to 0x18.
const (
	indxLSNOff = 0x08
	indxVCNOff = 0x10
	indxHdrOff = 0x18
)

// indxTarget returns the volume offset of the index block r acts on; the
// record offset must be 0 (the block starts where the log says).
func indxTarget(v *ntfs.Volume, r *logfile.LogRecord) (int64, error) {
	if r.RecordOffset != 0 {
		return 0, fmt.Errorf("record offset %d inside an index block operation is not implemented", r.RecordOffset)
	}
	return indxPlace(v, r)
}

// indxPlace returns the volume offset of the index block at r's clusters
// and cluster index.
func indxPlace(v *ntfs.Volume, r *logfile.LogRecord) (int64, error) {
	cs, xs := int64(v.Boot().ClusterSize), int64(v.Boot().IndexBlockSize)
	if len(r.LCNs) == 0 {
		return 0, errors.New("the record names no cluster")
	}
	for i := 1; i < len(r.LCNs); i++ {
		if r.LCNs[i] != r.LCNs[0]+int64(i) {
			return 0, fmt.Errorf("clusters %v are not contiguous: not implemented yet", r.LCNs)
		}
	}
	at := r.LCNs[0]*cs + int64(r.ClusterIndex)*512
	if int64(r.ClusterIndex)*512+xs > int64(len(r.LCNs))*cs {
		return 0, fmt.Errorf("a %d-byte index block at cluster index %d does not fit the %d listed cluster(s)",
			xs, r.ClusterIndex, len(r.LCNs))
	}
	for _, lcn := range r.LCNs {
		if lcn < 0 || lcn >= v.Boot().TotalClusters() {
			return 0, fmt.Errorf("cluster %d is outside the volume", lcn)
		}
	}
	return at, nil
}

// redoIndexBlockOp redoes an index-block operation; false: already there.
// When the open attribute table names the record's target attribute, it
// must be an $INDEX_ALLOCATION whose run list puts the target VCN on the
// logged clusters (replay_attrs.go).
func redoIndexBlockOp(v *ntfs.Volume, ov *overlay, attrs openAttrTable, r *logfile.LogRecord, latest logfile.LSN) (bool, error) {
	bad := func(reason string) error { return &UnsupportedLogOpError{Op: r.Redo, LSN: r.LSN, Reason: reason} }
	if !containsOp(indxUndoPairs[r.Redo], r.Undo) {
		return false, bad(fmt.Sprintf("undo operation %s with this redo is not implemented yet", r.Undo))
	}
	at, err := indxTarget(v, r)
	if err != nil {
		return false, bad(err.Error())
	}
	if _, ok := attrs[r.TargetAttr]; ok {
		ra, err := resolveTarget(v, ov, attrs, r)
		if err != nil {
			return false, bad(err.Error())
		}
		if ra.typ != ntfs.AttrIndexAllocation {
			return false, bad(fmt.Sprintf("the open attribute table names attribute %#x of file %s, not an index allocation", uint32(ra.typ), ra.ref))
		}
	}
	b, err := ov.read(at, v.Boot().IndexBlockSize)
	if err != nil {
		return false, err
	}
	if _, _, _, err := applyFixups(b, "index block"); err != nil || string(b[:4]) != "INDX" {
		return false, bad(fmt.Sprintf("no valid INDX block at cluster %d", r.LCNs[0]))
	}
	cs := int64(v.Boot().ClusterSize)
	blockVCN := int64(binary.LittleEndian.Uint64(b[indxVCNOff:]))
	want := r.TargetVCN
	if int64(v.Boot().IndexBlockSize) < cs {
		// small blocks count their VCN in 512-byte units
		want = (r.TargetVCN*cs + int64(r.ClusterIndex)*512) / 512
	}
	if blockVCN != want {
		return false, bad(fmt.Sprintf("the INDX block at cluster %d is VCN %d, the log names VCN %d", r.LCNs[0], blockVCN, want))
	}
	for _, lcn := range r.LCNs {
		used, err := clusterInUse(v, ov, lcn)
		if err != nil {
			return false, err
		}
		if !used {
			return false, bad(fmt.Sprintf("cluster %d of the index block is free in $Bitmap", lcn))
		}
	}
	if !r.UndoPass && reached(logfile.LSN(binary.LittleEndian.Uint64(b[indxLSNOff:])), r.LSN, latest) {
		return false, nil
	}
	var cerr error
	switch r.Redo {
	case logfile.OpAddIndexEntryAllocation:
		cerr = redoAddIndexEntryBlock(b, r)
	case logfile.OpDeleteIndexEntryAllocation:
		cerr = redoDeleteIndexEntryBlock(b, r)
	case logfile.OpUpdateFileNameAllocation:
		cerr = redoUpdateFileNameBlock(b, r)
	case logfile.OpWriteEndOfIndexBuffer:
		cerr = redoWriteEndOfIndexBlock(b, r)
	case logfile.OpSetIndexEntryVcnAllocation:
		cerr = redoSetIndexEntryVcnBlock(b, r)
	case logfile.OpUpdateRecordDataAllocation:
		cerr = redoUpdateRecordDataBlock(b, r)
	}
	if errors.Is(cerr, errNoChange) {
		return false, nil
	}
	if cerr != nil {
		return false, bad(fmt.Sprintf("index block at cluster %d: %v", r.LCNs[0], cerr))
	}
	if err := checkIndexEntries(b, indxHdrOff); err != nil {
		return false, bad(fmt.Sprintf("the redone index block at cluster %d would be inconsistent: %v", r.LCNs[0], err))
	}
	if !r.UndoPass {
		binary.LittleEndian.PutUint64(b[indxLSNOff:], uint64(r.LSN))
	}
	if err := mst.ProtectInPlace(b); err != nil {
		return false, fmt.Errorf("journal replay: index block at cluster %d: %w", r.LCNs[0], err)
	}
	return true, ov.write(at, b)
}

// indexBlockReached reports whether an uncommitted index-block change may
// be on disk: the block's LSN is at or past the log record's.
func indexBlockReached(v *ntfs.Volume, ov *overlay, r *logfile.LogRecord, latest logfile.LSN) (bool, error) {
	at, err := indxTarget(v, r)
	if err != nil {
		return false, &UnsupportedLogOpError{Op: r.Redo, LSN: r.LSN, Undo: true, Reason: err.Error()}
	}
	return indexBlockAtReached(v, ov, at, r, latest)
}

// indexBlockAtReached reports whether the index block at volume offset at
// has an LSN at or past r's.
func indexBlockAtReached(v *ntfs.Volume, ov *overlay, at int64, r *logfile.LogRecord, latest logfile.LSN) (bool, error) {
	b, err := ov.read(at, v.Boot().IndexBlockSize)
	if err != nil {
		return false, err
	}
	if _, _, _, err := applyFixups(b, "index block"); err != nil || string(b[:4]) != "INDX" {
		return false, nil // not an index block: the change cannot be there
	}
	return reached(logfile.LSN(binary.LittleEndian.Uint64(b[indxLSNOff:])), r.LSN, latest), nil
}

// clusterInUse reads lcn's bit in $Bitmap through the overlay.
func clusterInUse(v *ntfs.Volume, ov *overlay, lcn int64) (bool, error) {
	f, err := v.OpenRef(ntfs.MakeRef(ntfs.RecordBitmap, 0))
	if err != nil {
		return false, fmt.Errorf("journal replay: $Bitmap: %w", err)
	}
	ra, _, err := f.AttrReader(ntfs.AttrData, "")
	if err != nil {
		return false, fmt.Errorf("journal replay: $Bitmap data: %w", err)
	}
	rr, ok := ra.(*ntfs.RunReader)
	if !ok {
		return false, errors.New("journal replay: $Bitmap data is not non-resident")
	}
	cs := int64(v.Boot().ClusterSize)
	bmLCN, ok := rr.LCN(lcn / (cs * 8))
	if !ok || bmLCN < 0 {
		return false, fmt.Errorf("journal replay: $Bitmap does not cover cluster %d", lcn)
	}
	bit := lcn % (cs * 8)
	by, err := ov.read(bmLCN*cs+bit/8, 1)
	if err != nil {
		return false, err
	}
	return by[0]&(1<<(bit%8)) != 0, nil
}

// blockEntries returns the index header's entries start, index length end
// and allocated end, as offsets in b, checked against b.
func blockEntries(b []byte, hdr int) (start, end, alloc int, err error) {
	start = hdr + int(binary.LittleEndian.Uint32(b[hdr:]))
	end = hdr + int(binary.LittleEndian.Uint32(b[hdr+4:]))
	alloc = hdr + int(binary.LittleEndian.Uint32(b[hdr+8:]))
	if start < hdr+16 || start > end || end > alloc || alloc > len(b) {
		return 0, 0, 0, fmt.Errorf("index header (entries at %d, length to %d, allocated to %d) does not fit", start, end, alloc)
	}
	return start, end, alloc, nil
}

// entryAt reports whether an index entry starts at target, walking the
// entries from start to end.
func entryAt(b []byte, start, end, target int) bool {
	for p := start; p+16 <= end; {
		if p == target {
			return true
		}
		l := int(binary.LittleEndian.Uint16(b[p+8:]))
		if l < 16 || l%8 != 0 {
			return false
		}
		p += l
	}
	return false
}

// redoAddIndexEntryBlock inserts the redo entry at the attribute offset
// (ntfsrecover redo_add_index; ntfs3 do_action AddIndexEntryAllocation).
func redoAddIndexEntryBlock(b []byte, r *logfile.LogRecord) error {
	data := r.RedoData()
	start, end, alloc, err := blockEntries(b, indxHdrOff)
	if err != nil {
		return err
	}
	target := int(r.AttrOffset)
	if len(data) < 16 || len(data)%8 != 0 || int(binary.LittleEndian.Uint16(data[8:])) != len(data) {
		return fmt.Errorf("the %d-byte redo data is not one index entry", len(data))
	}
	if !entryAt(b, start, end, target) {
		return fmt.Errorf("offset %#x is not an index entry of the block", target)
	}
	if target+len(data) <= len(b) && bytes.Equal(b[target:target+len(data)], data) {
		return errNoChange
	}
	if end+len(data) > alloc {
		return fmt.Errorf("a %d-byte entry does not fit the block", len(data))
	}
	copy(b[target+len(data):], b[target:len(b)-len(data)])
	copy(b[target:], data)
	binary.LittleEndian.PutUint32(b[indxHdrOff+4:], uint32(end-indxHdrOff+len(data)))
	return nil
}

// redoDeleteIndexEntryBlock removes the entry at the attribute offset,
// which must be the undo entry (ntfsrecover redo_delete_index; ntfs3
// do_action DeleteIndexEntryAllocation). An entry no longer in the block
// was deleted already.
func redoDeleteIndexEntryBlock(b []byte, r *logfile.LogRecord) error {
	undo := r.UndoData()
	start, end, _, err := blockEntries(b, indxHdrOff)
	if err != nil {
		return err
	}
	target := int(r.AttrOffset)
	if len(undo) < 16 || len(undo)%8 != 0 {
		return fmt.Errorf("the %d-byte undo data is not an index entry", len(undo))
	}
	if !bytes.Contains(b[start:end], undo) {
		return errNoChange
	}
	if !entryAt(b, start, end, target) || target+len(undo) > end ||
		int(binary.LittleEndian.Uint16(b[target+8:])) != len(undo) || !bytes.Equal(b[target:target+len(undo)], undo) {
		return errors.New("the index entry on disk at that offset is not the one the log deletes")
	}
	copy(b[target:], b[target+len(undo):])
	binary.LittleEndian.PutUint32(b[indxHdrOff+4:], uint32(end-indxHdrOff-len(undo)))
	return nil
}

// redoUpdateFileNameBlock replaces the duplicated information of the
// file name key of the entry at the attribute offset (ntfs3 do_action
// UpdateFileNameAllocation; ntfsrecover redo_update_index writes the redo
// data from the key's creation time, the same place). As for the root
// (redoUpdateFileNameRoot), old bytes that are neither the logged old nor
// the new value are refused.
func redoUpdateFileNameBlock(b []byte, r *logfile.LogRecord) error {
	data, undo := r.RedoData(), r.UndoData()
	start, end, _, err := blockEntries(b, indxHdrOff)
	if err != nil {
		return err
	}
	if len(data) != fileNameDupSize || (r.Undo != logfile.OpCompensationLogRecord && len(undo) != fileNameDupSize) {
		return fmt.Errorf("%d bytes of file name information (undo %d), want %d", len(data), len(undo), fileNameDupSize)
	}
	p := int(r.AttrOffset)
	if !entryAt(b, start, end, p) {
		return fmt.Errorf("offset %#x is not an index entry of the block", p)
	}
	return updateFileNameDup(b, p, end, r, data, undo)
}

// redoWriteEndOfIndexBlock replaces the block's entries from the entry at
// the attribute offset on by the redo data and sets the index length to
// end there (ntfs3 do_action WriteEndOfIndexBuffer: index length = the
// redo data's end less the 0x18-byte header, within the allocated size;
// ntfsrecover redo_write_index: the same when the bytes differ, a length
// that is a multiple of 8). Bytes already equal to the redo data with the
// index length already at their end are done; equal bytes with another
// index length are refused (ntfsrecover would leave the length, ntfs3 set
// it).
func redoWriteEndOfIndexBlock(b []byte, r *logfile.LogRecord) error {
	data := r.RedoData()
	start, end, alloc, err := blockEntries(b, indxHdrOff)
	if err != nil {
		return err
	}
	p := int(r.AttrOffset)
	if len(data) == 0 || len(data)%8 != 0 {
		return fmt.Errorf("%d bytes of index entries, want a positive multiple of 8", len(data))
	}
	if !entryAt(b, start, end, p) {
		return fmt.Errorf("offset %#x is not an index entry of the block", p)
	}
	if p+len(data) > alloc {
		return fmt.Errorf("%d bytes of entries at %#x run past the allocated size", len(data), p)
	}
	newLen := uint32(p + len(data) - indxHdrOff)
	if bytes.Equal(b[p:p+len(data)], data) {
		if binary.LittleEndian.Uint32(b[indxHdrOff+4:]) == newLen {
			return errNoChange
		}
		return errors.New("the entries are in place but the index length differs: the sources disagree on this shape")
	}
	copy(b[p:], data)
	binary.LittleEndian.PutUint32(b[indxHdrOff+4:], newLen)
	return nil
}

// redoSetIndexEntryVcnBlock sets the sub-node VCN of the entry at the
// attribute offset (ntfs3 do_action SetIndexEntryVcnAllocation; ntfsrecover
// redo_update_vcn, entry length - 8, written when it differs).
func redoSetIndexEntryVcnBlock(b []byte, r *logfile.LogRecord) error {
	data := r.RedoData()
	start, end, _, err := blockEntries(b, indxHdrOff)
	if err != nil {
		return err
	}
	if len(data) != 8 {
		return fmt.Errorf("%d bytes of VCN, want 8", len(data))
	}
	p := int(r.AttrOffset)
	if !entryAt(b, start, end, p) {
		return fmt.Errorf("offset %#x is not an index entry of the block", p)
	}
	return setEntryVCN(b, p, end, data, nil, false)
}

// checkIndexEntries verifies an index header's entries: lengths that walk
// exactly to the index length, the last one flagged last.
func checkIndexEntries(b []byte, hdr int) error {
	start, end, _, err := blockEntries(b, hdr)
	if err != nil {
		return err
	}
	for p := start; p+16 <= end; {
		l := int(binary.LittleEndian.Uint16(b[p+8:]))
		if l < 16 || l%8 != 0 || p+l > end {
			return fmt.Errorf("index entry at %#x has length %d", p, l)
		}
		if binary.LittleEndian.Uint32(b[p+12:])&2 != 0 {
			if p+l != end {
				return fmt.Errorf("the last index entry ends at %#x, the index length at %#x", p+l, end)
			}
			return nil
		}
		p += l
	}
	return errors.New("no last index entry")
}
