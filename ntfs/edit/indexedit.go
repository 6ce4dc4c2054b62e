package edit

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/unbrick/unbrick/ntfs"
	"github.com/unbrick/unbrick/ntfs/internal/utf16le"
)

// Removing entries from an index B-tree: a directory's $I30 (keys are
// $FILE_NAME values, filename collation) or a view index such as
// $Extend\$ObjId:$O (keys are object IDs, COLLATION_NTOFS_ULONGS). The
// editing rules below do not depend on the keys: an ixTree knows its
// index only through its attribute name and a label for messages, and a
// search is given a comparison of the sought key with an entry.
//
// The tree is edited in memory (nodes loaded lazily, only those on the
// paths the edit follows) and every change is recorded as a commit of a
// whole node, in an order chosen so that a power cut after any commit
// leaves a readable tree that has lost nothing it should still hold (see
// doc.go "Delete write order"):
//
//   - leaf entry, node keeps a real entry: remove it, commit the node.
//   - entry with a child: its in-order successor (first entry of the
//     leftmost leaf right of it) takes its place, keeping its child pointer;
//     commit that node first, then the leaf without the successor (a cut
//     in between leaves a duplicate, never a loss).
//   - a leaf (INDX block) that would become empty is not written at all: it
//     is unlinked from its parent and freed in the index's $BITMAP. The parent
//     entry k pointing to it cannot keep a pointer to nothing, so (as
//     ntfs-3g index.c does) its key is re-inserted into the tree, into the
//     leftmost leaf under entry k+1; when k is the END entry, END takes the
//     child of the last real entry, whose key is re-inserted at the end of
//     the rightmost leaf under that child; when the parent holds nothing
//     else it is unlinked the same way, and a root left with only an END
//     entry pointing to an empty node becomes a leaf again. The leaf that
//     receives the key is committed before the parent loses it; once the
//     parent no longer points to the block, the block is rewritten empty
//     (so that readers scanning allocated blocks find no stale names) and
//     then freed in the index's $BITMAP.
//   - a change that needs more room than the node (INDX allocated size) or
//     the MFT record (for the root) has is refused: that would need a node
//     split, which this package does not do.

// Index entry byte helpers (entries are kept as their raw bytes).
func entLen(e []byte) int      { return int(binary.LittleEndian.Uint16(e[8:])) }
func entFlags(e []byte) uint16 { return binary.LittleEndian.Uint16(e[12:]) }
func entIsEnd(e []byte) bool   { return entFlags(e)&ntfs.IndexEntryEnd != 0 }
func entHasChild(e []byte) bool {
	return entFlags(e)&ntfs.IndexEntryHasChild != 0
}
func entChild(e []byte) int64      { return int64(binary.LittleEndian.Uint64(e[len(e)-8:])) }
func entRef(e []byte) ntfs.FileRef { return ntfs.FileRef(binary.LittleEndian.Uint64(e)) }

// entName returns the file name (UTF-16 units) of a $I30 entry's key.
func entName(e []byte) []uint16 {
	kl := int(binary.LittleEndian.Uint16(e[10:]))
	if kl < 66 || 16+kl > len(e) {
		return nil
	}
	nl := int(e[16+64])
	if 66+2*nl > kl {
		return nil
	}
	return utf16le.Units(e[16+66 : 16+66+2*nl])
}

func entNamespace(e []byte) uint8 { return e[16+65] }

// entKey returns an entry's key bytes (nil if the key does not fit).
func entKey(e []byte) []byte {
	kl := int(binary.LittleEndian.Uint16(e[10:]))
	end := len(e)
	if entHasChild(e) {
		end -= 8
	}
	if kl == 0 || 16+kl > end {
		return nil
	}
	return e[16 : 16+kl]
}

// entData returns the data of a view-index entry: +0 data offset, +2 data
// length (both from the entry start) take the place of a $I30 entry's file
// reference. Nil if the data does not fit between the key and the child
// pointer.
func entData(e []byte) []byte {
	do, dl := int(binary.LittleEndian.Uint16(e)), int(binary.LittleEndian.Uint16(e[2:]))
	end := len(e)
	if entHasChild(e) {
		end -= 8
	}
	kl := int(binary.LittleEndian.Uint16(e[10:]))
	if do < 16+kl || do+dl > end {
		return nil
	}
	return e[do : do+dl]
}

// entSetChild returns a copy of e that points to child vcn (adding the 8
// pointer bytes when e had none).
func entSetChild(e []byte, vcn int64) []byte {
	var out []byte
	if entHasChild(e) {
		out = append([]byte(nil), e...)
	} else {
		out = make([]byte, len(e)+8)
		copy(out, e)
		binary.LittleEndian.PutUint16(out[8:], uint16(len(out)))
		binary.LittleEndian.PutUint16(out[12:], entFlags(e)|ntfs.IndexEntryHasChild)
	}
	binary.LittleEndian.PutUint64(out[len(out)-8:], uint64(vcn))
	return out
}

// entDropChild returns a copy of e without its child pointer.
func entDropChild(e []byte) []byte {
	if !entHasChild(e) {
		return append([]byte(nil), e...)
	}
	out := append([]byte(nil), e[:len(e)-8]...)
	binary.LittleEndian.PutUint16(out[8:], uint16(len(out)))
	binary.LittleEndian.PutUint16(out[12:], entFlags(e)&^ntfs.IndexEntryHasChild)
	return out
}

// ixNode is one node under edit. For the root, clean/exts are unused: it is
// serialized into the $INDEX_ROOT value of its MFT record.
type ixNode struct {
	vcn      int64 // -1 for the root
	entries  [][]byte
	flags    uint8
	hdrOff   int // INDEX_HEADER position in clean (INDX: 24)
	entOff   int // entries offset relative to the header
	alloc    int // INDX: allocated size relative to the header
	clean    []byte
	usaOff   int
	usaCount int
	usn      uint16
	exts     []ntfs.Extent
	covered  bool // rewritten by coverTarget
}

func (n *ixNode) isRoot() bool { return n.vcn < 0 }

// length is the index length (header-relative end of the END entry).
func (n *ixNode) length() int {
	l := n.entOff
	for _, e := range n.entries {
		l += len(e)
	}
	return l
}

// realEntries counts the entries that are not END.
func (n *ixNode) realEntries() int { return len(n.entries) - 1 }

func (n *ixNode) remove(i int) { n.entries = append(n.entries[:i], n.entries[i+1:]...) }

func (n *ixNode) insert(i int, e []byte) {
	n.entries = append(n.entries, nil)
	copy(n.entries[i+1:], n.entries[i:])
	n.entries[i] = e
}

func newIxNode(in *ntfs.IndexNode) *ixNode {
	n := &ixNode{vcn: in.VCN, flags: in.Flags, hdrOff: in.HeaderOffset, entOff: in.EntriesOffset, alloc: in.AllocatedSize,
		usaOff: in.USAOffset, usaCount: in.USACount, usn: in.USN}
	for _, e := range in.Entries {
		n.entries = append(n.entries, append([]byte(nil), in.Raw[e.Offset:e.Offset+e.Length]...))
	}
	if in.VCN >= 0 {
		n.clean = append([]byte(nil), in.Raw...)
	}
	return n
}

// serializeBlock writes the node's entries into its INDX block image.
func (n *ixNode) serializeBlock() ([]byte, error) {
	l := n.length()
	if l > n.alloc || n.hdrOff+l > len(n.clean) {
		return nil, &needsSplitError{what: fmt.Sprintf("index block VCN %d", n.vcn), need: l - n.alloc, free: 0}
	}
	b := n.clean
	binary.LittleEndian.PutUint32(b[n.hdrOff+4:], uint32(l))
	b[n.hdrOff+12] = n.flags
	off := n.hdrOff + n.entOff
	for _, e := range n.entries {
		off += copy(b[off:], e)
	}
	return b, nil
}

// serializeRoot builds the $INDEX_ROOT value from the old value's fixed
// part and the node's entries; allocated size equals the index length, as
// ntfs-3g and Windows keep it.
func (n *ixNode) serializeRoot(old []byte) []byte {
	fixed := 16 + n.entOff
	l := n.length()
	v := make([]byte, 16+l)
	copy(v, old[:fixed])
	binary.LittleEndian.PutUint32(v[16+4:], uint32(l))
	binary.LittleEndian.PutUint32(v[16+8:], uint32(l))
	v[16+12] = n.flags
	off := fixed
	for _, e := range n.entries {
		off += copy(v[off:], e)
	}
	return v
}

// ixTree is one index ($I30 of a directory, $O of $ObjId) under edit.
type ixTree struct {
	p        *planner
	dir      *ntfs.File // the file holding the index
	name     string     // its attribute name: "$I30", "$O"
	ix       *ntfs.Index
	root     *ixNode
	rootRec  *recImage // record holding $INDEX_ROOT
	nodes    map[int64]*ixNode
	freed    []int64
	unlinked []*ixNode             // freed nodes, blanked after their parent let go
	commits  int                   // node commits made
	dirLabel string                // the index's file in words ("directory record 64")
	label    func(e []byte) string // an entry's key in words (quoted name, object ID)
}

type pathStep struct {
	n *ixNode
	i int // entry index followed (or found) in n
}

// newIxTree opens the index name of f for editing; rootRec is the image of
// the record holding its $INDEX_ROOT.
func newIxTree(p *planner, f *ntfs.File, name string, rootRec *recImage, what string, label func([]byte) string) (*ixTree, error) {
	ix, err := f.OpenIndex(name)
	if err != nil {
		return nil, err
	}
	t := &ixTree{p: p, dir: f, name: name, ix: ix, rootRec: rootRec, nodes: map[int64]*ixNode{},
		dirLabel: what, label: label}
	t.root = newIxNode(ix.Root.Node)
	t.root.vcn = -1
	return t, nil
}

// newDirTree opens a directory's $I30 index for editing.
func newDirTree(p *planner, dir *ntfs.File, rootRec *recImage) (*ixTree, error) {
	return newIxTree(p, dir, "$I30", rootRec, fmt.Sprintf("directory record %d", dir.Base.Number), func(e []byte) string {
		return fmt.Sprintf("%q", utf16le.Decode(unitsToBytes(entName(e))))
	})
}

func (t *ixTree) node(vcn int64) (*ixNode, error) {
	if n, ok := t.nodes[vcn]; ok {
		return n, nil
	}
	for _, f := range t.freed {
		if f == vcn {
			return nil, ntfs.Corrupt(t.dirLabel, -1, "child VCN", "%s block VCN %d is referenced after being freed", t.name, vcn)
		}
	}
	in, err := t.ix.Node(vcn)
	if err != nil {
		return nil, err
	}
	if in.Flags&ntfs.IndexNodeHasChildren == 0 && len(in.Entries) == 1 {
		return nil, ntfs.Corrupt(t.dirLabel, -1, "index entries", "%s block VCN %d is an empty leaf (only an END entry); run chkdsk", t.name, vcn)
	}
	exts, err := t.ix.BlockExtents(vcn)
	if err != nil {
		return nil, err
	}
	n := newIxNode(in)
	n.exts = exts
	t.nodes[vcn] = n
	return n, nil
}

// errNameNotIndexed: the name is not in the parent's index.
var errNameNotIndexed = errors.New("name not found in the parent directory's index")

// errKeyNotIndexed: a search found no entry with the key.
var errKeyNotIndexed = errors.New("key not found in the index")

// find descends the B-tree to the entry whose key cmp reports equal to
// the sought one (cmp(e) < 0: the sought key collates before e's) and
// returns the path of (node, entry index) from the root to it, or
// errKeyNotIndexed.
func (t *ixTree) find(cmp func(e []byte) (int, error)) ([]pathStep, error) {
	n := t.root
	var path []pathStep
	for depth := 0; depth <= ntfs.MaxIndexDepth; depth++ {
		next := -1
		for i, e := range n.entries {
			if entIsEnd(e) {
				next = i
				break
			}
			c, err := cmp(e)
			if err != nil {
				return nil, err
			}
			if c == 0 {
				return append(path, pathStep{n, i}), nil
			}
			if c < 0 {
				next = i
				break
			}
		}
		if next < 0 {
			return nil, ntfs.Corrupt(t.dirLabel, -1, "index entries", "%s index node without an END entry", t.name)
		}
		path = append(path, pathStep{n, next})
		e := n.entries[next]
		if !entHasChild(e) {
			return nil, errKeyNotIndexed
		}
		var err error
		if n, err = t.node(entChild(e)); err != nil {
			return nil, err
		}
	}
	return nil, ntfs.Corrupt(t.dirLabel, -1, "child VCN", "%s index deeper than %d levels", t.name, ntfs.MaxIndexDepth)
}

// findName finds the $I30 entry of name (namespace ns), which must
// reference ref (record and sequence number), or errNameNotIndexed.
func (t *ixTree) findName(name []uint16, ns uint8, ref ntfs.FileRef) ([]pathStep, error) {
	up := t.p.v.Upcase()
	path, err := t.find(func(e []byte) (int, error) {
		en := entName(e)
		if en == nil {
			return 0, ntfs.Corrupt(t.dirLabel, -1, "index key", "index entry without a valid $FILE_NAME key")
		}
		return ntfs.CollateFileNames(up, name, en), nil
	})
	if errors.Is(err, errKeyNotIndexed) {
		return nil, errNameNotIndexed
	}
	if err != nil {
		return nil, err
	}
	last := path[len(path)-1]
	if e := last.n.entries[last.i]; entRef(e) != ref || entNamespace(e) != ns {
		return nil, ntfs.Corrupt(t.dirLabel, -1, "index key", "index entry %q is %v namespace %d, but the file is %v namespace %d",
			utf16le.Decode(unitsToBytes(name)), entRef(e), entNamespace(e), ref, ns)
	}
	return path, nil
}

// descend follows child pointers from vcn, always taking the first entry
// (leftmost) or the END entry (rightmost), to a leaf; the returned path's
// steps start at the node with that vcn.
func (t *ixTree) descend(vcn int64, rightmost bool) ([]pathStep, error) {
	var path []pathStep
	for depth := 0; depth <= ntfs.MaxIndexDepth; depth++ {
		n, err := t.node(vcn)
		if err != nil {
			return nil, err
		}
		i := 0
		if rightmost {
			i = len(n.entries) - 1
		}
		path = append(path, pathStep{n, i})
		e := n.entries[i]
		if !entHasChild(e) {
			if n.realEntries() == 0 {
				return nil, ntfs.Corrupt(t.dirLabel, -1, "index entries", "%s block VCN %d is an empty leaf", t.name, n.vcn)
			}
			return path, nil
		}
		vcn = entChild(e)
	}
	return nil, ntfs.Corrupt(t.dirLabel, -1, "child VCN", "index deeper than %d levels", ntfs.MaxIndexDepth)
}

// commitNode records the node's current state as a commit.
func (t *ixTree) commitNode(n *ixNode, what string) error {
	t.commits++
	if n.isRoot() {
		off, err := t.rootRec.findAttr(ntfs.AttrIndexRoot, t.name, -1)
		if err != nil {
			return err
		}
		old, err := t.rootRec.residentValue(off)
		if err != nil {
			return err
		}
		if err := t.rootRec.setResidentValue(off, n.serializeRoot(old)); err != nil {
			return err
		}
		return t.p.commitRecordImage(t.rootRec, fmt.Sprintf("MFT record %d: %s index root of %s: %s", t.rootRec.num, t.name, t.dirLabel, what))
	}
	b, err := n.serializeBlock()
	if err != nil {
		return err
	}
	t.p.commitBlockImage(fmt.Sprintf("indx:%d:%s:%d", t.dir.Base.Number, t.name, n.vcn), b, n.usaOff, n.usaCount, n.usn, n.exts,
		fmt.Sprintf("%s block VCN %d of %s: %s", t.name, n.vcn, t.dirLabel, what))
	return nil
}

// removeAt removes the entry at the end of path (found by find).
func (t *ixTree) removeAt(path []pathStep, label string) error {
	last := path[len(path)-1]
	n, i := last.n, last.i
	e := n.entries[i]
	if !entHasChild(e) {
		if n.isRoot() || n.realEntries() > 1 {
			n.remove(i)
			return t.commitNode(n, "entry "+label+" removed")
		}
		return t.unlinkEmpty(path, "last entry "+label+" removed with its block", true)
	}
	// Internal entry: promote the in-order successor.
	right := n.entries[i+1]
	sub, err := t.descend(entChild(right), false)
	if err != nil {
		return err
	}
	leaf := sub[len(sub)-1].n
	succ := leaf.entries[0]
	repl := entSetChild(succ, entChild(e))
	n.entries[i] = repl
	sname := t.label(succ)
	if err := t.commitNode(n, fmt.Sprintf("entry %s replaced by its successor %s", label, sname)); err != nil {
		return err
	}
	full := append(append(append([]pathStep(nil), path[:len(path)-1]...), pathStep{n, i + 1}), sub...)
	if leaf.realEntries() > 1 {
		leaf.remove(0)
		return t.commitNode(leaf, fmt.Sprintf("successor %s moved up", sname))
	}
	return t.unlinkEmpty(full, fmt.Sprintf("successor %s moved up; block emptied", sname), false)
}

// removeEntry removes the entry at the end of path (found by find) and
// frees the blocks that leaves empty, once nothing points to them.
func (t *ixTree) removeEntry(path []pathStep, label string) error {
	if err := t.removeAt(path, label); err != nil {
		return err
	}
	if len(t.freed) == 0 {
		return nil
	}
	// When the last commit is the record that also holds a resident
	// $BITMAP of this index (the root let go of the blocks), the bitmap
	// edit merges into that same record write: unlink and free are one
	// atomic write. Otherwise the unlinked blocks are first blanked.
	ba := t.dir.FindAttr(ntfs.AttrBitmap, t.name)
	if ba != nil && !ba.NonResident && len(t.p.commits) > 0 &&
		t.p.commits[len(t.p.commits)-1].key == fmt.Sprintf("rec:%d", ba.Record) {
		t.unlinked = nil
	} else if err := t.blankUnlinked(); err != nil {
		return err
	}
	var rs []bitRange
	for _, vcn := range t.freed {
		rs = append(rs, bitRange{t.ix.BlockOffset(vcn) / int64(t.ix.BlockSize), 1})
	}
	t.freed = nil
	return t.p.clearBits(t.dir, ntfs.AttrBitmap, t.name, rs, fmt.Sprintf("%s $BITMAP of %s: emptied block(s) freed", t.name, t.dirLabel))
}

// unlinkEmpty drops the INDX node at the end of path (it would hold no
// real entry) from the tree. path[len-2] is its parent and the entry that
// points to it. holdsTarget says the node still holds the entry being
// deleted: before the parent lets go of it, that entry is overwritten with
// a copy of the key moved down (which then exists elsewhere), so that no
// state of the plan lists the deleted name from a leaked block.
func (t *ixTree) unlinkEmpty(path []pathStep, why string, holdsTarget bool) error {
	x := path[len(path)-1].n
	if x.isRoot() {
		return fmt.Errorf("internal error: unlinking the index root")
	}
	par := path[len(path)-2]
	p, k := par.n, par.i
	if !entHasChild(p.entries[k]) || entChild(p.entries[k]) != x.vcn {
		return fmt.Errorf("internal error: path does not lead to VCN %d", x.vcn)
	}
	t.freed = append(t.freed, x.vcn)
	t.unlinked = append(t.unlinked, x)
	delete(t.nodes, x.vcn)
	switch {
	case !entIsEnd(p.entries[k]):
		// Entry k loses its (now empty) left subtree: re-insert its key at
		// the front of the leftmost leaf right of it.
		key := entDropChild(p.entries[k])
		sub, err := t.descend(entChild(p.entries[k+1]), false)
		if err != nil {
			return err
		}
		q := sub[len(sub)-1].n
		q.insert(0, key)
		kname := t.label(key)
		if err := t.commitNode(q, fmt.Sprintf("entry %s moved down (%s)", kname, why)); err != nil {
			return err
		}
		if err := t.coverTarget(x, key, holdsTarget); err != nil {
			return err
		}
		p.remove(k)
		return t.commitNode(p, fmt.Sprintf("entry %s and its pointer to freed VCN %d removed", kname, x.vcn))
	case k > 0:
		// END points to the empty node: END takes the previous entry's
		// child; that entry's key goes to the end of the rightmost leaf
		// under that child.
		prev := p.entries[k-1]
		key := entDropChild(prev)
		sub, err := t.descend(entChild(prev), true)
		if err != nil {
			return err
		}
		ql := sub[len(sub)-1]
		ql.n.insert(ql.i, key)
		kname := t.label(key)
		if err := t.commitNode(ql.n, fmt.Sprintf("entry %s moved down (%s)", kname, why)); err != nil {
			return err
		}
		if err := t.coverTarget(x, key, holdsTarget); err != nil {
			return err
		}
		p.entries[k] = entSetChild(p.entries[k], entChild(prev))
		p.remove(k - 1)
		return t.commitNode(p, fmt.Sprintf("entry %s removed, END re-pointed from freed VCN %d", kname, x.vcn))
	case p.isRoot():
		// The root's only child is gone: the root becomes a leaf.
		p.entries[k] = entDropChild(p.entries[k])
		p.flags &^= ntfs.IndexNodeHasChildren
		return t.commitNode(p, fmt.Sprintf("root is a leaf again (freed VCN %d; %s)", x.vcn, why))
	default:
		// The parent holds only END -> x: it empties too.
		return t.unlinkEmpty(path[:len(path)-1], why, false)
	}
}

// coverTarget rewrites leaf x, about to be unlinked, so that it holds a
// copy of key (an entry that exists elsewhere in the tree and collates
// equal to x's bound in the parent) instead of the entry being deleted.
// Lookups of key stop at the parent; a reader scanning the leaked block
// later sees a duplicate of a live name, not the deleted one.
func (t *ixTree) coverTarget(x *ixNode, key []byte, holdsTarget bool) error {
	if !holdsTarget || x.flags&ntfs.IndexNodeHasChildren != 0 || x.realEntries() != 1 {
		return nil
	}
	x.entries = [][]byte{append([]byte(nil), key...), x.entries[len(x.entries)-1]}
	x.covered = true
	return t.commitNode(x, fmt.Sprintf("deleted entry replaced by a copy of %s before the block is unlinked", t.label(key)))
}

// blankUnlinked rewrites every node unlinked so far as an empty leaf (END
// entry only). It runs after the parent commits and before the index's
// $BITMAP frees the blocks: readers that list a directory by scanning the
// blocks the bitmap marks in use (ntfs-3g's readdir does) must not find the
// old names in a block the tree no longer references.
func (t *ixTree) blankUnlinked() error {
	for _, x := range t.unlinked {
		if x.covered {
			continue // holds only a copy of a live key: nothing stale to hide
		}
		end := make([]byte, 16)
		binary.LittleEndian.PutUint16(end[8:], 16)
		binary.LittleEndian.PutUint16(end[12:], ntfs.IndexEntryEnd)
		x.entries = [][]byte{end}
		x.flags = 0
		if err := t.commitNode(x, "unlinked block emptied before it is freed"); err != nil {
			return err
		}
	}
	t.unlinked = nil
	return nil
}

func unitsToBytes(u []uint16) []byte {
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	return b
}
