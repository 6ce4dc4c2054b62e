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

// Redo of UpdateNonresidentValue: redo data written into a non-resident
// attribute's data. Windows logs it for a whole new index block (when a
// directory's index grows a block: the block image, undo Noop), for parts
// of index blocks, and for other non-resident metadata such as $Secure's
// $SDS stream (ntfsrecover playlog.c play_one_redo: "Known cases: INDX,
// $SDS, ATTR_LIST").
//
// The attribute comes from the open attribute table (replay_attrs.go), its
// run list checked against the log's LCNs. Then:
//
// On an $INDEX_ALLOCATION (the INDX block at the LCNs plus cluster index *
// 512, index block size bytes): the bytes at record offset are replaced,
// the block's LSN becomes the log record's and its update sequence number
// advances. The block on disk must be a valid INDX block whose own VCN is
// the target VCN, unless the redo data is a whole block header with its
// entries (then the old contents do not matter: a block whose fixups fail
// is replaced by zeros first). A block whose LSN shows the change is there
// is skipped. The result must be a consistent block (entries walking to the
// index length, allocated size = block size - 0x18), else we refuse.
//
// On other attributes: the bytes at record offset from the first listed
// cluster's start are replaced; no LSN, no fixups; always redone (the
// write is idempotent).
//
// Sources (facts only) and where they differ:
//   - ntfsrecover (redo_update_index_value/change_index_value on INDX,
//     redo_update_value on other data) writes at record offset + attribute
//     offset, from the block (INDX) or from the first cluster's start
//     (other data, ignoring the cluster index), checks and stamps the
//     block's LSN as for every INDX operation, and with no redo data in
//     the record writes zeros;
//   - ntfs3 (do_action UpdateNonresidentValue) writes at record offset
//     from target VCN * cluster size + cluster index * 512 of the
//     attribute, advances an index block's update sequence number but
//     neither checks nor sets its LSN.
//
// We redo only the shapes on which they agree: attribute offset 0, cluster
// index 0 outside index blocks, redo data present. We check and set the
// LSN as ntfsrecover does (so that later records on the same block see the
// change as done); ntfs3 leaves the LSN the image carries.

// redoNonresidentValue redoes an UpdateNonresidentValue record. It reports
// whether anything changed.
func redoNonresidentValue(v *ntfs.Volume, ov *overlay, attrs openAttrTable, r *logfile.LogRecord, latest logfile.LSN) (bool, error) {
	bad := func(reason string) error { return &UnsupportedLogOpError{Op: r.Redo, LSN: r.LSN, Reason: reason} }
	switch r.Undo {
	case logfile.OpNoop, logfile.OpUpdateNonresidentValue, logfile.OpCompensationLogRecord:
	default:
		return false, bad(fmt.Sprintf("undo operation %s with this redo is not implemented yet", r.Undo))
	}
	data := r.RedoData()
	switch {
	case r.RedoLength == 0 || data == nil:
		return false, bad("the record carries no redo data (ntfsrecover would write zeros, ntfs3 copies past the record): not implemented")
	case r.AttrOffset != 0:
		return false, bad(fmt.Sprintf("attribute offset %d: ntfsrecover and ntfs3 write such a record to different places", r.AttrOffset))
	case r.AttrFlags&attrFlagActsOnMFT != 0:
		return false, bad("a non-resident value change flagged as acting on an MFT record")
	}
	ra, err := resolveTarget(v, ov, attrs, r)
	if err != nil {
		return false, bad(err.Error())
	}
	switch ra.ref.Record() {
	case 0, 1, ntfs.RecordLogFile:
		return false, bad(fmt.Sprintf("a non-resident value change in file %s ($MFT, $MFTMirr or $LogFile) is not implemented", ra.ref))
	}
	if ra.typ == ntfs.AttrIndexAllocation {
		return redoIndexBlockValue(v, ov, r, latest, data)
	}
	if r.AttrFlags&attrFlagActsOnINDX != 0 {
		return false, bad(fmt.Sprintf("flagged as acting on an index block, but attribute %#x of file %s is not an index allocation", uint32(ra.typ), ra.ref))
	}
	return redoRawValue(v, ov, r, data)
}

// redoRawValue writes data at record offset from the start of r's first
// cluster, across r's clusters.
func redoRawValue(v *ntfs.Volume, ov *overlay, r *logfile.LogRecord, data []byte) (bool, error) {
	bad := func(reason string) error { return &UnsupportedLogOpError{Op: r.Redo, LSN: r.LSN, Reason: reason} }
	cs := int64(v.Boot().ClusterSize)
	if r.ClusterIndex != 0 {
		return false, bad(fmt.Sprintf("cluster index %d outside an index block: ntfsrecover and ntfs3 write such a record to different places", r.ClusterIndex))
	}
	start := int64(r.RecordOffset)
	if start+int64(len(data)) > int64(len(r.LCNs))*cs {
		return false, bad(fmt.Sprintf("%d bytes at offset %d run past the %d listed cluster(s)", len(data), start, len(r.LCNs)))
	}
	changed := false
	for k := int64(0); k < int64(len(data)); {
		pos := start + k
		lcn := r.LCNs[pos/cs]
		n := min(int64(len(data))-k, cs-pos%cs)
		at := lcn*cs + pos%cs
		old, err := ov.read(at, int(n))
		if err != nil {
			return false, err
		}
		if !bytes.Equal(old, data[k:k+n]) {
			changed = true
			if err := ov.write(at, data[k:k+n]); err != nil {
				return false, err
			}
		}
		k += n
	}
	return changed, nil
}

// fullIndexBlockImage reports whether data, written at offset 0, is a
// whole INDX header with all its entries (ntfsrecover check_full_index).
func fullIndexBlockImage(r *logfile.LogRecord, data []byte) bool {
	return r.RecordOffset == 0 && r.AttrOffset == 0 && len(data) >= indxHdrOff+8 && string(data[:4]) == "INDX" &&
		int64(len(data)) >= int64(binary.LittleEndian.Uint32(data[indxHdrOff+4:]))+indxHdrOff
}

// redoIndexBlockValue writes data into the index block r names.
func redoIndexBlockValue(v *ntfs.Volume, ov *overlay, r *logfile.LogRecord, latest logfile.LSN, data []byte) (bool, error) {
	bad := func(reason string) error { return &UnsupportedLogOpError{Op: r.Redo, LSN: r.LSN, Reason: reason} }
	at, err := indxPlace(v, r)
	if err != nil {
		return false, bad(err.Error())
	}
	xs := v.Boot().IndexBlockSize
	wantVCN := indexBlockVCN(v, r)
	if fullIndexBlockImage(r, data) && int64(binary.LittleEndian.Uint64(data[indxVCNOff:])) != wantVCN {
		return false, bad(fmt.Sprintf("the logged index block is VCN %d, the log names VCN %d", int64(binary.LittleEndian.Uint64(data[indxVCNOff:])), wantVCN))
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
	raw, err := ov.read(at, xs)
	if err != nil {
		return false, err
	}
	b, err := indexBlockValue(raw, r, data, wantVCN, latest)
	if errors.Is(err, errNoChange) {
		return false, nil
	}
	if err != nil {
		return false, bad(fmt.Sprintf("index block at cluster %d: %v", r.LCNs[0], err))
	}
	return true, stageIndexBlock(v, ov, r, at, b)
}

// indexBlockValue computes the index block that r's redo data makes of the
// block raw (as on disk, with fixups): the fixed-up new block, errNoChange
// when the change is there, or why it cannot be done.
func indexBlockValue(raw []byte, r *logfile.LogRecord, data []byte, wantVCN int64, latest logfile.LSN) ([]byte, error) {
	xs := len(raw)
	target := int(r.RecordOffset)
	if target+len(data) > xs || len(data) == 0 {
		return nil, fmt.Errorf("%d bytes at offset %d do not fit the %d-byte index block", len(data), target, xs)
	}
	full := fullIndexBlockImage(r, data)
	b := append([]byte(nil), raw...)
	_, _, _, ferr := applyFixups(b, "index block")
	valid := ferr == nil && string(b[:4]) == "INDX"
	switch {
	case valid:
		blockVCN := int64(binary.LittleEndian.Uint64(b[indxVCNOff:]))
		if blockVCN == wantVCN && !r.UndoPass && reached(logfile.LSN(binary.LittleEndian.Uint64(b[indxLSNOff:])), r.LSN, latest) {
			return nil, errNoChange
		}
		if blockVCN != wantVCN && !full {
			return nil, fmt.Errorf("the INDX block there is VCN %d, the log names VCN %d", blockVCN, wantVCN)
		}
		// A stale block of another VCN (clusters freed and reused) is
		// replaced whatever its LSN; ntfsrecover would skip it if that
		// LSN happened to fall between this record's and the newest.
	case !full:
		return nil, errors.New("no valid INDX block there for a partial write")
	case ferr != nil:
		// ntfsrecover play_one_redo: a block that fails its fixups is
		// not needed when the log carries the whole block; it starts
		// from zeros.
		b = make([]byte, xs)
	}
	if bytes.Equal(b[target:target+len(data)], data) {
		return nil, errNoChange // ntfsrecover writes nothing when the bytes match
	}
	copy(b[target:], data)
	if string(b[:4]) != "INDX" {
		return nil, errors.New("the result is not an INDX block")
	}
	if err := checkIndexBlock(b, xs); err != nil {
		return nil, fmt.Errorf("the redone block would be inconsistent: %v", err)
	}
	return b, nil
}

// indexBlockVCN is the VCN an index block at r's place records in its
// header: the target VCN, or for blocks smaller than a cluster the block's
// offset in 512-byte units.
func indexBlockVCN(v *ntfs.Volume, r *logfile.LogRecord) int64 {
	cs := int64(v.Boot().ClusterSize)
	if int64(v.Boot().IndexBlockSize) < cs {
		return (r.TargetVCN*cs + int64(r.ClusterIndex)*512) / 512
	}
	return r.TargetVCN
}

// checkIndexBlock verifies a fixed-up INDX block as ntfsrecover's
// sanity_indx does: entries walking to the index length, the last one
// flagged, allocated size the block size less the 0x18-byte header.
func checkIndexBlock(b []byte, xs int) error {
	if err := checkIndexEntries(b, indxHdrOff); err != nil {
		return err
	}
	if alloc := int(binary.LittleEndian.Uint32(b[indxHdrOff+8:])); alloc != xs-indxHdrOff {
		return fmt.Errorf("allocated size %d, want %d", alloc, xs-indxHdrOff)
	}
	usaOff := int(binary.LittleEndian.Uint16(b[4:]))
	usaCount := int(binary.LittleEndian.Uint16(b[6:]))
	if usaCount != xs/mst.Stride+1 || usaOff < 0x28 || usaOff%2 != 0 || usaOff+2*usaCount > int(binary.LittleEndian.Uint32(b[indxHdrOff:]))+indxHdrOff {
		return errors.New("the update sequence array does not fit the block header")
	}
	return nil
}

// stageIndexBlock sets the block's LSN to r's, protects it and stages it.
func stageIndexBlock(v *ntfs.Volume, ov *overlay, r *logfile.LogRecord, at int64, b []byte) error {
	if !r.UndoPass {
		binary.LittleEndian.PutUint64(b[indxLSNOff:], uint64(r.LSN))
	}
	if err := mst.ProtectInPlace(b); err != nil {
		return fmt.Errorf("journal replay: index block at cluster %d: %w", r.LCNs[0], err)
	}
	return ov.write(at, b)
}

// nonresidentValueReached reports whether an uncommitted
// UpdateNonresidentValue may be on disk: for an index block by its LSN,
// for other data when the bytes there are the new ones (and differ from
// the old ones).
func nonresidentValueReached(v *ntfs.Volume, ov *overlay, attrs openAttrTable, r *logfile.LogRecord, latest logfile.LSN) (bool, error) {
	undoErr := func(reason string) error {
		return &UnsupportedLogOpError{Op: r.Redo, LSN: r.LSN, Undo: true, Reason: reason}
	}
	if r.Undo == logfile.OpNoop {
		// Nothing to roll back (a new index block: Windows' undo of
		// it is Noop), whether or not it reached the disk.
		return false, nil
	}
	ra, err := resolveTarget(v, ov, attrs, r)
	if err != nil {
		return false, undoErr(err.Error())
	}
	if ra.typ == ntfs.AttrIndexAllocation {
		at, err := indxPlace(v, r)
		if err != nil {
			return false, undoErr(err.Error())
		}
		return indexBlockAtReached(v, ov, at, r, latest)
	}
	data := r.RedoData()
	cs := int64(v.Boot().ClusterSize)
	start := int64(r.RecordOffset) + int64(r.AttrOffset)
	if len(data) == 0 || start+int64(len(data)) > int64(len(r.LCNs))*cs || r.ClusterIndex != 0 {
		return false, undoErr("the change's place cannot be checked")
	}
	if bytes.Equal(data, r.UndoData()) {
		return false, nil
	}
	for k := int64(0); k < int64(len(data)); k++ {
		pos := start + k
		b, err := ov.read(r.LCNs[pos/cs]*cs+pos%cs, 1)
		if err != nil {
			return false, err
		}
		if b[0] != data[k] {
			return false, nil
		}
	}
	return true, nil
}
