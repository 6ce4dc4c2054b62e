package replay

import (
	"encoding/binary"
	"fmt"

	"github.com/unbrick/unbrick/ntfs"
	"github.com/unbrick/unbrick/ntfs/logfile"
)

// Redo of SetBitsInNonresidentBitMap and ClearBitsInNonresidentBitMap.
//
// Redo data is a bitmap range (ntfs3 fslog.c BITMAP_RANGE: u32 first bit,
// u32 bit count; ntfs-3g logfile.h BITMAP_ACTION), the bits counted from
// the start of the clusters the record's LCN list names (the page of the
// bitmap at the target VCN). The change is the same whatever is on disk, so
// it is always redone (ntfsrecover playlog.c redo_force_bits). We refuse a
// range that runs past the listed clusters, and LCNs that are not where the
// target bitmap's run list puts the target VCN. The target is $Bitmap's
// data or $MFT's $BITMAP (checked against their run lists on disk), or any
// other non-resident $BITMAP attribute that the open attribute table names
// for the record's TargetAttr, such as the $I30 $BITMAP of a large
// directory (resolved as for UpdateNonresidentValue, replay_attrs.go: the
// attribute as the replay has left it must map the target VCN to the
// logged clusters). A table entry naming an attribute of another type
// (e.g. a $DATA stream) is refused: only bitmaps take bit operations.
// A roll-back (replay_undo.go) resolves the target through the table as
// the whole log left it; an entry reused since then for another attribute
// is refused rather than misapplied, since that attribute would have to be
// a $BITMAP mapping the same VCN to the same clusters.

const (
	attrFlagActsOnMFT  = 0x0002 // log record attribute flags (ntfs-3g ACTS_ON_MFT)
	attrFlagActsOnINDX = 0x0008
)

func redoBits(v *ntfs.Volume, ov *overlay, attrs openAttrTable, r *logfile.LogRecord) error {
	bad := func(reason string) error { return &UnsupportedLogOpError{Op: r.Redo, LSN: r.LSN, Reason: reason} }
	set := r.Redo == logfile.OpSetBitsInNonresidentBitMap
	switch {
	case set && r.Undo != logfile.OpClearBitsInNonresidentBitMap,
		!set && r.Undo != logfile.OpSetBitsInNonresidentBitMap && r.Undo != logfile.OpCompensationLogRecord:
		return bad(fmt.Sprintf("undo operation %s with this redo is not implemented yet", r.Undo))
	case r.AttrFlags&(attrFlagActsOnMFT|attrFlagActsOnINDX) != 0:
		return bad("a bitmap change flagged as acting on an MFT record or index block")
	case len(r.LCNs) == 0:
		return bad("the record names no cluster")
	}
	data := r.RedoData()
	if len(data) < 8 {
		return bad(fmt.Sprintf("bitmap range of %d bytes, want 8", len(data)))
	}
	first := int64(binary.LittleEndian.Uint32(data[0:]))
	count := int64(binary.LittleEndian.Uint32(data[4:]))
	cs := int64(v.Boot().ClusterSize)
	if first+count > int64(len(r.LCNs))*cs*8 {
		return bad(fmt.Sprintf("bits %d..%d run past the %d listed cluster(s)", first, first+count, len(r.LCNs)))
	}
	if err := checkBitmapLCNs(v, ov, attrs, r); err != nil {
		return bad(err.Error())
	}
	for i, lcn := range r.LCNs {
		lo, hi := max(first, int64(i)*cs*8), min(first+count, int64(i+1)*cs*8)
		if lo >= hi {
			continue
		}
		b, err := ov.read(lcn*cs, int(cs))
		if err != nil {
			return err
		}
		for bit := lo - int64(i)*cs*8; bit < hi-int64(i)*cs*8; bit++ {
			if set {
				b[bit>>3] |= 1 << (bit & 7)
			} else {
				b[bit>>3] &^= 1 << (bit & 7)
			}
		}
		if err := ov.write(lcn*cs, b); err != nil {
			return err
		}
	}
	return nil
}

// checkBitmapLCNs verifies that r's clusters are those of $Bitmap's data or
// of $MFT's $BITMAP at r's target VCN, or else those of the non-resident
// $BITMAP attribute the open attribute table names for r.
func checkBitmapLCNs(v *ntfs.Volume, ov *overlay, attrs openAttrTable, r *logfile.LogRecord) error {
	if isVolumeBitmap(v, r) {
		return nil
	}
	if _, ok := attrs[r.TargetAttr]; !ok {
		return fmt.Errorf("clusters %v at VCN %d are neither $Bitmap's nor $MFT's bitmap, and target attribute %#x is not in the open attribute table", r.LCNs, r.TargetVCN, r.TargetAttr)
	}
	a, err := resolveTarget(v, ov, attrs, r)
	if err != nil {
		return fmt.Errorf("clusters %v at VCN %d are neither $Bitmap's nor $MFT's bitmap: %w", r.LCNs, r.TargetVCN, err)
	}
	if a.typ != ntfs.AttrBitmap {
		return fmt.Errorf("open attribute %#x is attribute type %#x of file %s, not a $BITMAP: bit operations on it are refused", r.TargetAttr, uint32(a.typ), a.ref)
	}
	return nil
}

// isVolumeBitmap reports whether r's clusters are those of $Bitmap's data
// or of $MFT's $BITMAP at r's target VCN (their run lists on disk).
func isVolumeBitmap(v *ntfs.Volume, r *logfile.LogRecord) bool {
	for _, c := range []struct {
		rec uint64
		t   ntfs.AttrType
	}{{ntfs.RecordBitmap, ntfs.AttrData}, {0, ntfs.AttrBitmap}} {
		f, err := v.OpenRef(ntfs.MakeRef(c.rec, 0))
		if err != nil {
			continue
		}
		ra, _, err := f.AttrReader(c.t, "")
		if err != nil {
			continue
		}
		rr, ok := ra.(*ntfs.RunReader)
		if !ok {
			continue
		}
		match := true
		for i, lcn := range r.LCNs {
			got, ok := rr.LCN(r.TargetVCN + int64(i))
			if !ok || got != lcn {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

// bitsReachedDisk reports whether any bit of r's range already has the
// value r's redo gives it.
func bitsReachedDisk(v *ntfs.Volume, ov *overlay, attrs openAttrTable, r *logfile.LogRecord) (bool, error) {
	data := r.RedoData()
	if len(data) < 8 || len(r.LCNs) == 0 {
		return false, &UnsupportedLogOpError{Op: r.Redo, LSN: r.LSN, Reason: "malformed bitmap range"}
	}
	first := int64(binary.LittleEndian.Uint32(data[0:]))
	count := int64(binary.LittleEndian.Uint32(data[4:]))
	cs := int64(v.Boot().ClusterSize)
	if first+count > int64(len(r.LCNs))*cs*8 {
		return false, &UnsupportedLogOpError{Op: r.Redo, LSN: r.LSN, Reason: "bitmap range runs past the listed clusters"}
	}
	if err := checkBitmapLCNs(v, ov, attrs, r); err != nil {
		return false, &UnsupportedLogOpError{Op: r.Redo, LSN: r.LSN, Reason: err.Error()}
	}
	set := r.Redo == logfile.OpSetBitsInNonresidentBitMap
	for bit := first; bit < first+count; bit++ {
		i := bit / (cs * 8)
		b, err := ov.read(r.LCNs[i]*cs+(bit%(cs*8))/8, 1)
		if err != nil {
			return false, err
		}
		if (b[0]&(1<<(bit&7)) != 0) == set {
			return true, nil
		}
	}
	return false, nil
}
