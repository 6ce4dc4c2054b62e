package edit

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf16"

	"github.com/unbrick/unbrick/ntfs"
)

// Object IDs: a file's $OBJECT_ID attribute (type 0x40) and the index that
// finds a file by it, $Extend\$ObjId:$O (format and sources in doc.go,
// "Object IDs"). Deleting such a file also removes its $O entry, with the
// same B-tree editing (indexedit.go) and write-order rules as its $I30
// entries.

// objectIDEdit is the planned removal of one file's $O entry.
type objectIDEdit struct {
	tree *ixTree
	path []pathStep // root .. the entry
	id   string     // the object ID as a GUID
	file string     // the file's path, for messages
}

// objIDRefusal is the advice for every object ID refusal: chkdsk rebuilds
// $ObjId from the files' $OBJECT_ID attributes.
const objIDRefusal = "Run chkdsk on Windows first (it repairs the object ID index), then retry"

// findObjectID returns the planned removal of f's $O entry, nil when f has
// no object ID, or a *RefusedError when the entry cannot be removed safely:
// $ObjId missing, the key not indexed, an entry naming another file, a
// damaged index. Nothing is committed.
func (p *planner) findObjectID(f *ntfs.File, path string) (*objectIDEdit, error) {
	a := f.FindAttr(ntfs.AttrObjectID, "")
	if a == nil {
		return nil, nil
	}
	fail := func(format string, args ...any) error {
		return refuse(objIDRefusal, "%s: "+format, append([]any{path}, args...)...)
	}
	if a.NonResident {
		return nil, fail("its $OBJECT_ID attribute is non-resident (it is always a resident 16- or 64-byte value)")
	}
	if len(a.Value) != 16 && len(a.Value) != 64 {
		return nil, fail("its $OBJECT_ID attribute holds %d bytes (expected 16 or 64)", len(a.Value))
	}
	key := a.Value[:16]
	id := formatGUID(key)
	damaged := func(err error) error {
		if errors.Is(err, ntfs.ErrCorrupt) {
			return fail("the object ID index $Extend\\$ObjId:$O is damaged: %v", err)
		}
		return err
	}
	ext, err := p.v.OpenRef(ntfs.MakeRef(ntfs.RecordExtend, 0))
	if err != nil {
		return nil, damaged(fmt.Errorf("ntfs: $Extend: %w", err))
	}
	eix, err := ext.OpenIndex("$I30")
	if err != nil {
		return nil, damaged(fmt.Errorf("ntfs: $Extend: %w", err))
	}
	hit, err := eix.FindName(utf16.Encode([]rune("$ObjId")))
	if errors.Is(err, ntfs.ErrNotFound) {
		return nil, fail("it has object ID %s but the volume has no $Extend\\$ObjId to unindex it from", id)
	}
	if err != nil {
		return nil, damaged(err)
	}
	of, err := p.v.OpenRef(hit.Entry.FileRef)
	if err != nil {
		return nil, damaged(fmt.Errorf("ntfs: $Extend\\$ObjId: %w", err))
	}
	ra := of.FindAttr(ntfs.AttrIndexRoot, "$O")
	if ra == nil || ra.NonResident {
		return nil, fail("$Extend\\$ObjId (record %d) has no $O index root", of.Base.Number)
	}
	root, err := ntfs.ParseIndexRoot(ra.Value, false)
	if err != nil {
		return nil, damaged(err)
	}
	if root.IndexedType != 0 || root.Collation != ntfs.CollationNTOFSULongs {
		return nil, fail("$Extend\\$ObjId:$O indexes type 0x%x with collation 0x%x, not a view index with COLLATION_NTOFS_ULONGS (0x%x)",
			uint32(root.IndexedType), root.Collation, ntfs.CollationNTOFSULongs)
	}
	rootRec, err := p.rec(ra.Record)
	if err != nil {
		return nil, err
	}
	tree, err := newIxTree(p, of, "$O", rootRec, fmt.Sprintf("$Extend\\$ObjId (record %d)", of.Base.Number), objectIDLabel)
	if err != nil {
		return nil, damaged(err)
	}
	pth, err := tree.find(func(e []byte) (int, error) {
		k := entKey(e)
		if len(k) != len(key) {
			return 0, ntfs.Corrupt("$ObjId:$O index entry", 10, "key length", "$O entry with a %d-byte key (object IDs are %d bytes)", len(k), len(key))
		}
		return ntfs.CollateULongs(key, k)
	})
	if errors.Is(err, errKeyNotIndexed) {
		return nil, fail("its object ID %s is not in $Extend\\$ObjId:$O (the volume is inconsistent)", id)
	}
	if err != nil {
		return nil, damaged(err)
	}
	last := pth[len(pth)-1]
	data := entData(last.n.entries[last.i])
	if len(data) < 8 {
		return nil, fail("the object ID index $Extend\\$ObjId:$O is damaged: the entry of %s has %d bytes of data", id, len(data))
	}
	if got := ntfs.FileRef(binary.LittleEndian.Uint64(data)); got != f.Ref() {
		return nil, fail("the $O entry of object ID %s names MFT record %d sequence %d, not this file (record %d sequence %d)",
			id, got.Record(), got.Seq(), f.Base.Number, f.Base.Sequence)
	}
	return &objectIDEdit{tree: tree, path: pth, id: id, file: path}, nil
}

// remove plans the removal of the entry (after the file's names are gone).
func (o *objectIDEdit) remove() error {
	err := o.tree.removeEntry(o.path, "object ID "+o.id)
	if errors.Is(err, ntfs.ErrCorrupt) {
		return refuse(objIDRefusal, "%s: the object ID index $Extend\\$ObjId:$O is damaged: %v", o.file, err)
	}
	return wrapSplit(err, o.file)
}

// objectIDLabel names a $O entry in plan descriptions.
func objectIDLabel(e []byte) string {
	if k := entKey(e); len(k) == 16 {
		return "object ID " + formatGUID(k)
	}
	return "object ID (malformed key)"
}

// formatGUID renders 16 bytes as a GUID: the first three fields are
// little-endian numbers, the last 8 bytes are printed in order.
func formatGUID(b []byte) string {
	return fmt.Sprintf("%08x-%04x-%04x-%x-%x", binary.LittleEndian.Uint32(b), binary.LittleEndian.Uint16(b[4:]),
		binary.LittleEndian.Uint16(b[6:]), b[8:10], b[10:16])
}
