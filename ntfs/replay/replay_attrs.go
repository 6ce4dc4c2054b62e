package replay

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/unbrick/unbrick/ntfs"
	"github.com/unbrick/unbrick/ntfs/internal/utf16le"
	"github.com/unbrick/unbrick/ntfs/logfile"
)

// The open attribute table during replay: which attribute a log record's
// TargetAttr names, for the operations that act on non-resident attribute
// data outside the MFT (UpdateNonresidentValue).
//
// Sources (facts only): Linux fs/ntfs3/fslog.c (the analysis pass starts
// from the checkpoint's OpenAttributeTableDump and adds the entry of each
// OpenNonresidentAttribute record at the offset its TargetAttr names, the
// redo data being the entry itself, the undo data, when present, the
// attribute's name; do_action then reads and writes the attribute's data
// through its run list at target VCN * cluster size + cluster index * 512).
// ntfs-3g ntfsrecover.c refresh_attributes feeds its table from the same
// two record kinds.
//
// The two sources place the entry's fields 8 bytes apart (ntfs3
// OPEN_ATTR_ENRTY_32, 0x2C bytes: file reference at 0x08, attribute type at
// 0x1C; ntfsrecover ATTR_OLD: reference at 0x10, type at 0x24; the 0x28-byte
// form: ntfs3 type at 0x08 and reference at 0x10, ntfsrecover type at 0x10
// and reference at 0x18). We read ntfs3's layout (the one lfs_tables.go
// uses for the checkpoint dump) and never trust it alone: the attribute it
// names must exist in that file's base MFT record (read through the replay
// overlay, so attributes created earlier in the replay count), or in an
// extension record its $ATTRIBUTE_LIST names, and its run list must map
// the record's target VCN to exactly the record's LCNs. Anything else is
// refused.

// openAttr is one entry of the open attribute table.
type openAttr struct {
	ref  ntfs.FileRef
	typ  ntfs.AttrType
	name string // "" when the log did not carry it
	// named: the name is known (an empty name then means unnamed).
	named bool
}

// openAttrTable maps a TargetAttr to its entry.
type openAttrTable map[uint16]openAttr

// newOpenAttrTable starts from the checkpoint's open attribute table.
func newOpenAttrTable(lf *logfile.LogFile) openAttrTable {
	t := openAttrTable{}
	for _, a := range lf.OpenAttributes {
		if a.Index > 0xFFFF {
			continue
		}
		t[uint16(a.Index)] = openAttr{ref: ntfs.FileRef(a.File), typ: ntfs.AttrType(a.Type), name: a.Name, named: a.Name != ""}
	}
	return t
}

// note records the entry an OpenNonresidentAttribute record opens. Records
// of other operations, and entries of an unknown size, change nothing.
func (t openAttrTable) note(r *logfile.LogRecord) {
	if r.Type != logfile.LogRecordStandard || r.Redo != logfile.OpOpenNonresidentAttribute {
		return
	}
	e, ok := parseOpenAttrEntry(r.RedoData())
	if !ok {
		delete(t, r.TargetAttr)
		return
	}
	if u := r.UndoData(); len(u) > 0 && len(u)%2 == 0 {
		e.name, e.named = utf16le.Decode(u), true
		e.name = strings.TrimRight(e.name, "\x00")
	}
	t[r.TargetAttr] = e
}

// parseOpenAttrEntry decodes an open attribute entry in ntfs3's layouts.
func parseOpenAttrEntry(b []byte) (openAttr, bool) {
	switch len(b) {
	case 0x2C:
		return openAttr{ref: ntfs.FileRef(binary.LittleEndian.Uint64(b[0x08:])), typ: ntfs.AttrType(binary.LittleEndian.Uint32(b[0x1C:]))}, true
	case 0x28:
		return openAttr{typ: ntfs.AttrType(binary.LittleEndian.Uint32(b[0x08:])), ref: ntfs.FileRef(binary.LittleEndian.Uint64(b[0x10:]))}, true
	}
	return openAttr{}, false
}

// resolvedAttr is a non-resident attribute a log record acts on.
type resolvedAttr struct {
	ref  ntfs.FileRef
	typ  ntfs.AttrType
	name string
	runs []ntfs.Run
}

// resolveTarget finds the non-resident attribute r.TargetAttr names and
// checks that its run list maps r's target VCN to r's LCNs.
func resolveTarget(v *ntfs.Volume, ov *overlay, t openAttrTable, r *logfile.LogRecord) (*resolvedAttr, error) {
	e, ok := t[r.TargetAttr]
	if !ok {
		return nil, fmt.Errorf("target attribute %#x is not in the open attribute table (no table dump or OpenNonresidentAttribute record names it)", r.TargetAttr)
	}
	if len(r.LCNs) == 0 {
		return nil, fmt.Errorf("the record names no cluster")
	}
	n := e.ref.Record()
	if n >= v.MFTRecords() {
		return nil, fmt.Errorf("open attribute %#x names MFT record %d, past the end of $MFT", r.TargetAttr, n)
	}
	rec, err := overlayRecord(v, ov, n)
	if err != nil {
		return nil, fmt.Errorf("open attribute %#x: %w", r.TargetAttr, err)
	}
	if !rec.InUse() || rec.BaseRef != 0 || (e.ref.Seq() != 0 && rec.Sequence != e.ref.Seq()) {
		return nil, fmt.Errorf("open attribute %#x names file %s, but MFT record %d is not in use with that sequence number as a base record", r.TargetAttr, e.ref, n)
	}
	match := func(a *ntfs.Attribute) bool {
		return a.Type == e.typ && a.NonResident && (!e.named || a.Name == e.name)
	}
	found := 0
	for _, a := range rec.Attributes {
		if match(a) {
			found++
			if runsMap(a.Runs, r.TargetVCN, r.LCNs) {
				return &resolvedAttr{ref: e.ref, typ: a.Type, name: a.Name, runs: a.Runs}, nil
			}
		}
	}
	// The attribute, or the part of it holding the target VCN, may live
	// in an extension record the base record's $ATTRIBUTE_LIST names.
	list, err := overlayAttrList(v, ov, rec)
	if err != nil {
		return nil, fmt.Errorf("file %s: %w", e.ref, err)
	}
	for _, le := range list {
		if le.Type != e.typ || le.Ref.Record() == n || (e.named && le.Name != e.name) || le.LowestVCN > r.TargetVCN {
			continue
		}
		x, err := overlayRecord(v, ov, le.Ref.Record())
		if err != nil {
			return nil, fmt.Errorf("file %s: extension record %d: %w", e.ref, le.Ref.Record(), err)
		}
		if !x.InUse() || x.BaseRef.Record() != n || x.Sequence != le.Ref.Seq() {
			return nil, fmt.Errorf("file %s: MFT record %d is not an extension record of it", e.ref, le.Ref.Record())
		}
		for _, a := range x.Attributes {
			if match(a) && a.Instance == le.Instance && a.Name == le.Name {
				found++
				if runsMap(a.Runs, r.TargetVCN, r.LCNs) {
					return &resolvedAttr{ref: e.ref, typ: a.Type, name: a.Name, runs: a.Runs}, nil
				}
			}
		}
	}
	if found == 0 {
		return nil, fmt.Errorf("file %s has no non-resident attribute of type %#x", e.ref, uint32(e.typ))
	}
	return nil, fmt.Errorf("clusters %v are not where attribute %#x of file %s keeps VCN %d", r.LCNs, uint32(e.typ), e.ref, r.TargetVCN)
}

// overlayRecord reads and parses MFT record n as the replay has left it.
func overlayRecord(v *ntfs.Volume, ov *overlay, n uint64) (*ntfs.Record, error) {
	if n >= v.MFTRecords() {
		return nil, fmt.Errorf("MFT record %d is past the end of $MFT", n)
	}
	ext, err := v.RecordExtents(n)
	if err != nil {
		return nil, err
	}
	raw := make([]byte, 0, v.Boot().RecordSize)
	for _, x := range ext {
		b, err := ov.read(x.Offset, x.Length)
		if err != nil {
			return nil, err
		}
		raw = append(raw, b...)
	}
	return ntfs.ParseRecord(raw, n)
}

// maxAttrListSize bounds a non-resident $ATTRIBUTE_LIST read during replay
// (NTFS keeps it under 256 KiB).
const maxAttrListSize = 256 << 10

// overlayAttrList returns the entries of rec's $ATTRIBUTE_LIST (none when
// it has no list), reading a non-resident list through the overlay.
func overlayAttrList(v *ntfs.Volume, ov *overlay, rec *ntfs.Record) ([]ntfs.AttrListEntry, error) {
	a := rec.FindAttr(ntfs.AttrAttributeList, "")
	if a == nil {
		return nil, nil
	}
	if !a.NonResident {
		return ntfs.ParseAttributeList(a.Value)
	}
	if a.DataSize < 0 || a.DataSize > maxAttrListSize {
		return nil, fmt.Errorf("$ATTRIBUTE_LIST of %d bytes", a.DataSize)
	}
	cs := int64(v.Boot().ClusterSize)
	val := make([]byte, 0, a.DataSize)
	for _, x := range a.Runs {
		for c := int64(0); c < x.Length && int64(len(val)) < a.DataSize; c++ {
			if x.LCN < 0 || x.LCN+c >= v.Boot().TotalClusters() {
				return nil, fmt.Errorf("$ATTRIBUTE_LIST run at LCN %d is outside the volume", x.LCN)
			}
			b, err := ov.read((x.LCN+c)*cs, int(min(cs, a.DataSize-int64(len(val)))))
			if err != nil {
				return nil, err
			}
			val = append(val, b...)
		}
	}
	if int64(len(val)) != a.DataSize {
		return nil, fmt.Errorf("$ATTRIBUTE_LIST runs hold %d of its %d bytes", len(val), a.DataSize)
	}
	return ntfs.ParseAttributeList(val)
}

// runsMap reports whether runs put VCNs vcn, vcn+1, ... on lcns.
func runsMap(runs []ntfs.Run, vcn int64, lcns []int64) bool {
	for i, want := range lcns {
		got, ok := int64(-1), false
		for _, x := range runs {
			if vcn+int64(i) >= x.VCN && vcn+int64(i) < x.VCN+x.Length && x.LCN >= 0 {
				got, ok = x.LCN+vcn+int64(i)-x.VCN, true
				break
			}
		}
		if !ok || got != want {
			return false
		}
	}
	return true
}
