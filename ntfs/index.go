package ntfs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/unbrick/unbrick/ntfs/internal/mst"
)

// Index entry flags.
const (
	IndexEntryHasChild = 0x0001 // the last 8 bytes of the entry are a child node VCN
	IndexEntryEnd      = 0x0002 // the last entry of a node; it has no key
)

// IndexNodeHasChildren is the INDEX_HEADER flag of a node whose entries
// point to child nodes (in $INDEX_ROOT: LARGE_INDEX, an allocation exists).
const IndexNodeHasChildren = 0x01

// CollationFileName is the collation rule of $I30 indexes.
const CollationFileName = 1

// CollationNTOFSULongs is the collation rule of $Extend\$ObjId:$O (keys
// compared as unsigned little-endian 32-bit words; ntfs-3g layout.h
// COLLATION_NTOFS_ULONGS = 19).
const CollationNTOFSULongs = 0x13

// IndexEntry is one entry of an index node. Offset is its byte offset in
// the node's Raw bytes. Layout: +0 file reference, +8 entry length, +10
// key length, +12 flags, +16 key; with IndexEntryHasChild the last 8
// bytes are the child node's VCN.
type IndexEntry struct {
	Offset    int
	Length    int
	KeyLength int
	Flags     uint16
	FileRef   FileRef
	Key       []byte    // aliases the node's Raw bytes
	ChildVCN  int64     // -1 without a child
	FileName  *FileName // decoded key of a $I30 entry
}

// HasChild reports whether the entry points to a child node.
func (e *IndexEntry) HasChild() bool { return e.Flags&IndexEntryHasChild != 0 }

// IsEnd reports whether this is the node's END entry.
func (e *IndexEntry) IsEnd() bool { return e.Flags&IndexEntryEnd != 0 }

// IndexNode is the root node (in $INDEX_ROOT) or one INDX block of an
// index. Raw is the $INDEX_ROOT value or the fixed-up block; HeaderOffset
// is where the INDEX_HEADER starts in Raw (16 or 24). EntriesOffset,
// IndexLength and AllocatedSize are as stored, relative to the header.
// INDX block layout: "INDX", +4/+6 USA, +8 LSN, +16 the block's VCN, +24
// INDEX_HEADER (+0 first entry offset, +4 index length, +8 allocated size,
// +12 flags).
type IndexNode struct {
	VCN           int64 // -1 for the root
	Raw           []byte
	HeaderOffset  int
	EntriesOffset int
	IndexLength   int
	AllocatedSize int
	Flags         uint8
	LSN           uint64
	USAOffset     int
	USACount      int
	USN           uint16
	Entries       []IndexEntry // in order; the last is the END entry
}

// HasChildren reports whether the node's entries have child pointers.
func (n *IndexNode) HasChildren() bool { return n.Flags&IndexNodeHasChildren != 0 }

// IndexRoot is a decoded $INDEX_ROOT value: +0 indexed attribute type, +4
// collation rule, +8 index block size, +12 clusters per block, +16 the
// root node's INDEX_HEADER.
type IndexRoot struct {
	IndexedType      AttrType
	Collation        uint32
	BlockSize        int
	ClustersPerBlock uint8
	Node             *IndexNode
}

// ParseIndexRoot decodes an $INDEX_ROOT value. With fileNames, keys are
// decoded as $FILE_NAME values.
func ParseIndexRoot(v []byte, fileNames bool) (*IndexRoot, error) {
	if len(v) < 32 {
		return nil, Corrupt("$INDEX_ROOT", -1, "", "%d bytes is too short", len(v))
	}
	r := &IndexRoot{
		IndexedType:      AttrType(binary.LittleEndian.Uint32(v)),
		Collation:        binary.LittleEndian.Uint32(v[4:]),
		BlockSize:        int(binary.LittleEndian.Uint32(v[8:])),
		ClustersPerBlock: v[12],
	}
	n, err := parseIndexNode(v, 16, len(v), fileNames)
	if err != nil {
		return nil, fmt.Errorf("$INDEX_ROOT: %w", err)
	}
	n.VCN = -1
	r.Node = n
	return r, nil
}

// INDX block header: byte offsets after the multi-sector header (ntfs/internal/mst)
// (libfsntfs "index entry"; ntfs-3g INDEX_BLOCK).
const (
	IndexBlockOffVCN     = 0x10 // int64: the block's VCN in $INDEX_ALLOCATION
	IndexBlockOffNode    = 0x18 // the index node header starts here
	IndexBlockHeaderSize = 0x28 // the update sequence array follows
)

// ParseIndexBlock checks and removes the fixups of an INDX block in place
// and decodes its node. With fileNames, keys are decoded as $FILE_NAME.
func ParseIndexBlock(b []byte, fileNames bool) (*IndexNode, error) {
	if len(b) < 512 {
		return nil, Corrupt("INDX block", -1, "", "%d bytes is too short", len(b))
	}
	if string(b[:4]) != "INDX" {
		return nil, Corrupt("INDX block", 0, "signature", "bad signature %q", b[:4])
	}
	usaOff, usaCount, usn, err := applyFixups(b, "INDX block")
	if err != nil {
		return nil, err
	}
	if usaOff < IndexBlockHeaderSize {
		return nil, Corrupt("INDX block", mst.OffUSAOffset, "update sequence array offset", "update sequence array at %d overlaps the header", usaOff)
	}
	n, err := parseIndexNode(b, IndexBlockOffNode, len(b), fileNames)
	if err != nil {
		return nil, fmt.Errorf("INDX block: %w", err)
	}
	n.LSN = binary.LittleEndian.Uint64(b[mst.OffLSN:])
	n.VCN = int64(binary.LittleEndian.Uint64(b[IndexBlockOffVCN:]))
	n.USAOffset, n.USACount, n.USN = usaOff, usaCount, usn
	if n.EntriesOffset+IndexBlockOffNode < usaOff+2*usaCount {
		return nil, Corrupt("INDX block", IndexBlockOffNode, "entries offset", "entries start inside the update sequence array")
	}
	return n, nil
}

func parseIndexNode(raw []byte, hdr, limit int, fileNames bool) (*IndexNode, error) {
	if hdr+16 > limit {
		return nil, Corrupt("index node header", -1, "", "index header truncated")
	}
	n := &IndexNode{
		Raw:           raw,
		HeaderOffset:  hdr,
		EntriesOffset: int(binary.LittleEndian.Uint32(raw[hdr:])),
		IndexLength:   int(binary.LittleEndian.Uint32(raw[hdr+4:])),
		AllocatedSize: int(binary.LittleEndian.Uint32(raw[hdr+8:])),
		Flags:         raw[hdr+12],
	}
	end := hdr + n.IndexLength
	if n.EntriesOffset < 16 || n.EntriesOffset%8 != 0 || n.IndexLength < n.EntriesOffset || end > limit || n.IndexLength > n.AllocatedSize || hdr+n.AllocatedSize > limit {
		return nil, Corrupt("index node header", 0, "entries offset", "index header (entries at %d, length %d, allocated %d) does not fit %d bytes", n.EntriesOffset, n.IndexLength, n.AllocatedSize, limit-hdr)
	}
	for off := hdr + n.EntriesOffset; ; {
		if off+16 > end {
			return nil, Corrupt("index node", 4, "index length", "index entries run past the index length without an END entry")
		}
		e := IndexEntry{
			Offset:    off,
			FileRef:   FileRef(binary.LittleEndian.Uint64(raw[off:])),
			Length:    int(binary.LittleEndian.Uint16(raw[off+8:])),
			KeyLength: int(binary.LittleEndian.Uint16(raw[off+10:])),
			Flags:     binary.LittleEndian.Uint16(raw[off+12:]),
			ChildVCN:  -1,
		}
		if e.Length < 16 || e.Length%8 != 0 || off+e.Length > end {
			return nil, Corrupt("index node", int64(off)+8, "entry length", "index entry at %d has invalid length %d", off, e.Length)
		}
		body := e.Length
		if e.HasChild() {
			if !n.HasChildren() {
				return nil, Corrupt("index node", int64(off)+12, "entry flags", "index entry at %d points to a child in a leaf node", off)
			}
			if e.Length < 24 {
				return nil, Corrupt("index node", int64(off)+8, "entry length", "index entry at %d too short for a child pointer", off)
			}
			body -= 8
			e.ChildVCN = int64(binary.LittleEndian.Uint64(raw[off+e.Length-8:]))
			if e.ChildVCN < 0 || e.ChildVCN > maxVCN {
				return nil, Corrupt("index node", int64(off+e.Length-8), "child VCN", "index entry at %d has invalid child VCN %d", off, e.ChildVCN)
			}
		} else if n.HasChildren() {
			return nil, Corrupt("index node", int64(off)+12, "entry flags", "index entry at %d in an internal node has no child pointer", off)
		}
		if !e.IsEnd() {
			if e.KeyLength == 0 || 16+e.KeyLength > body {
				return nil, Corrupt("index node", int64(off)+10, "key length", "index entry at %d: key of %d bytes does not fit the %d-byte entry", off, e.KeyLength, e.Length)
			}
			e.Key = raw[off+16 : off+16+e.KeyLength : off+16+e.KeyLength]
			if fileNames {
				fn, err := ParseFileName(e.Key)
				if err != nil {
					return nil, fmt.Errorf("index entry at %d: %w", off, err)
				}
				e.FileName = fn
			}
		}
		n.Entries = append(n.Entries, e)
		off += e.Length
		if e.IsEnd() {
			break
		}
	}
	return n, nil
}

// Index is an open index (a directory's $I30): its root node, the
// $INDEX_ALLOCATION holding the INDX blocks and the $BITMAP of blocks in
// use.
type Index struct {
	v         *Volume
	File      *File
	Name      string
	Root      *IndexRoot
	BlockSize int
	VCNSize   int64 // bytes per VCN unit of child pointers
	alloc     io.ReaderAt
	allocSize int64
	Bitmap    []byte
	NodesRead int // INDX blocks read through this Index (for tests and statistics)
}

// maxIndexBitmap bounds the $I30 $BITMAP read into memory (one bit per
// block: 4 MiB covers 128 GiB of 4 KiB blocks).
const maxIndexBitmap = 4 << 20

// OpenIndex opens the file's index of the given name ("$I30" for a
// directory).
func (f *File) OpenIndex(name string) (*Index, error) {
	ra := f.FindAttr(AttrIndexRoot, name)
	if ra == nil {
		if name == "$I30" {
			return nil, fmt.Errorf("%w: MFT record %d", ErrNotDirectory, f.Base.Number)
		}
		return nil, fmt.Errorf("%w: MFT record %d has no index %q", ErrNotFound, f.Base.Number, name)
	}
	if ra.NonResident {
		return nil, Corrupt(fmt.Sprintf("MFT record %d", f.Base.Number), -1, "$INDEX_ROOT", "$INDEX_ROOT is non-resident")
	}
	fileNames := name == "$I30"
	root, err := ParseIndexRoot(ra.Value, fileNames)
	if err != nil {
		return nil, fmt.Errorf("ntfs: MFT record %d: %w", f.Base.Number, err)
	}
	if fileNames && (root.IndexedType != AttrFileName || root.Collation != CollationFileName) {
		return nil, Corrupt(fmt.Sprintf("MFT record %d", f.Base.Number), -1, "$INDEX_ROOT", "$I30 indexes type 0x%x with collation %d", uint32(root.IndexedType), root.Collation)
	}
	ix := &Index{v: f.v, File: f, Name: name, Root: root, BlockSize: root.BlockSize}
	if !root.Node.HasChildren() {
		return ix, nil
	}
	if ix.BlockSize < 512 || ix.BlockSize > 65536 || ix.BlockSize&(ix.BlockSize-1) != 0 {
		return nil, Corrupt(fmt.Sprintf("MFT record %d", f.Base.Number), -1, "$INDEX_ROOT", "index block size %d is invalid", ix.BlockSize)
	}
	// Child VCNs count clusters when a block is at least a cluster, else
	// 512-byte units (ntfs-3g index.c, vcn_size_bits).
	if ix.BlockSize >= f.v.boot.ClusterSize {
		ix.VCNSize = int64(f.v.boot.ClusterSize)
	} else {
		ix.VCNSize = 512
	}
	ix.alloc, ix.allocSize, err = f.AttrReader(AttrIndexAllocation, name)
	if err != nil {
		return nil, fmt.Errorf("ntfs: MFT record %d: index %s has children but no usable $INDEX_ALLOCATION: %w", f.Base.Number, name, err)
	}
	bra, bsize, err := f.AttrReader(AttrBitmap, name)
	if err != nil {
		return nil, fmt.Errorf("ntfs: MFT record %d: index %s has no usable $BITMAP: %w", f.Base.Number, name, err)
	}
	if bsize > maxIndexBitmap {
		return nil, Corrupt(fmt.Sprintf("MFT record %d", f.Base.Number), -1, "$BITMAP", "index bitmap of %d bytes is implausibly large", bsize)
	}
	ix.Bitmap = make([]byte, bsize)
	if _, err := bra.ReadAt(ix.Bitmap, 0); err != nil && err != io.EOF {
		return nil, fmt.Errorf("ntfs: MFT record %d: read index bitmap: %w", f.Base.Number, err)
	}
	return ix, nil
}

// BlockOffset is the byte offset of the block with the given VCN in the
// $INDEX_ALLOCATION stream.
func (ix *Index) BlockOffset(vcn int64) int64 { return vcn * ix.VCNSize }

// BlockExtents returns where the block with the given VCN lies on the volume.
func (ix *Index) BlockExtents(vcn int64) ([]Extent, error) {
	rr, ok := ix.alloc.(*RunReader)
	if !ok {
		return nil, errors.New("ntfs: index allocation is not a plain non-resident attribute")
	}
	return rr.Extents(ix.BlockOffset(vcn), ix.BlockSize)
}

// Node reads and parses the INDX block with the given VCN. The block must
// be marked in use in the index bitmap and must carry its own VCN.
func (ix *Index) Node(vcn int64) (*IndexNode, error) {
	if ix.alloc == nil {
		return nil, Corrupt(fmt.Sprintf("index %s of record %d", ix.Name, ix.File.Base.Number), -1, "child VCN", "has no allocation but an entry points to VCN %d", vcn)
	}
	off := ix.BlockOffset(vcn)
	if off%int64(ix.BlockSize) != 0 || off < 0 || off+int64(ix.BlockSize) > ix.allocSize {
		return nil, Corrupt(fmt.Sprintf("index %s of record %d", ix.Name, ix.File.Base.Number), -1, "child VCN", "child VCN %d (byte %d) is not a block inside the %d-byte allocation", vcn, off, ix.allocSize)
	}
	bit := off / int64(ix.BlockSize)
	if bit/8 >= int64(len(ix.Bitmap)) || ix.Bitmap[bit/8]&(1<<(bit%8)) == 0 {
		return nil, Corrupt(fmt.Sprintf("index %s of record %d", ix.Name, ix.File.Base.Number), -1, "child VCN", "an entry points to block VCN %d, which the index bitmap marks free", vcn)
	}
	buf := make([]byte, ix.BlockSize)
	if _, err := ix.alloc.ReadAt(buf, off); err != nil && err != io.EOF {
		return nil, fmt.Errorf("ntfs: read index block VCN %d of record %d: %w", vcn, ix.File.Base.Number, err)
	}
	ix.NodesRead++
	n, err := ParseIndexBlock(buf, ix.Name == "$I30")
	if err != nil {
		return nil, fmt.Errorf("ntfs: record %d index block VCN %d: %w", ix.File.Base.Number, vcn, err)
	}
	if n.VCN != vcn {
		return nil, Corrupt(fmt.Sprintf("record %d: INDX block", ix.File.Base.Number), IndexBlockOffVCN, "VCN", "index block read at VCN %d says it is VCN %d", vcn, n.VCN)
	}
	return n, nil
}

// MaxIndexDepth bounds descent and walks (real indexes are a few levels
// deep); deeper means a corrupt or cyclic tree.
const MaxIndexDepth = 32

// Walk calls fn for every entry (not END entries) in collation order: a
// node's child subtree before the entry that points to it.
func (ix *Index) Walk(fn func(n *IndexNode, e *IndexEntry) error) error {
	seen := map[int64]bool{}
	return ix.walk(ix.Root.Node, 0, seen, fn)
}

func (ix *Index) walk(n *IndexNode, depth int, seen map[int64]bool, fn func(*IndexNode, *IndexEntry) error) error {
	if depth > MaxIndexDepth {
		return Corrupt(fmt.Sprintf("index %s of record %d", ix.Name, ix.File.Base.Number), -1, "child VCN", "is deeper than %d levels", MaxIndexDepth)
	}
	for i := range n.Entries {
		e := &n.Entries[i]
		if e.HasChild() {
			if seen[e.ChildVCN] {
				return Corrupt(fmt.Sprintf("index %s of record %d", ix.Name, ix.File.Base.Number), -1, "child VCN", "block VCN %d is referenced twice", e.ChildVCN)
			}
			seen[e.ChildVCN] = true
			c, err := ix.Node(e.ChildVCN)
			if err != nil {
				return err
			}
			if err := ix.walk(c, depth+1, seen, fn); err != nil {
				return err
			}
		}
		if !e.IsEnd() {
			if err := fn(n, e); err != nil {
				return err
			}
		}
	}
	return nil
}

// IndexHit is the result of a search: the entry, the node holding it and
// the path of nodes from the root (the root first) to that node.
type IndexHit struct {
	Entry *IndexEntry
	Node  *IndexNode
	Path  []*IndexNode
}

// FindName searches a $I30 index for a name by B-tree descent: in each
// node, entries are compared in order until one collates after the name,
// and the search continues in that entry's child. An exact (case-sensitive)
// match wins; otherwise a case-insensitive match is returned.
func (ix *Index) FindName(name []uint16) (*IndexHit, error) {
	if ix.Name != "$I30" {
		return nil, fmt.Errorf("ntfs: FindName searches $I30 indexes, not %q", ix.Name)
	}
	up := ix.v.upcase
	var cand *IndexHit
	n := ix.Root.Node
	var path []*IndexNode
	for depth := 0; ; depth++ {
		if depth > MaxIndexDepth {
			return nil, Corrupt(fmt.Sprintf("index %s of record %d", ix.Name, ix.File.Base.Number), -1, "child VCN", "is deeper than %d levels", MaxIndexDepth)
		}
		path = append(path, n)
		var next *IndexEntry
		for i := range n.Entries {
			e := &n.Entries[i]
			if e.IsEnd() {
				next = e
				break
			}
			key := e.FileName.NameUTF16
			c := CollateFileNames(up, name, key)
			if c == 0 {
				return &IndexHit{Entry: e, Node: n, Path: append([]*IndexNode(nil), path...)}, nil
			}
			if cand == nil && collateNamesIC(up, name, key) == 0 {
				cand = &IndexHit{Entry: e, Node: n, Path: append([]*IndexNode(nil), path...)}
			}
			if c < 0 {
				next = e
				break
			}
		}
		if next == nil || !next.HasChild() {
			if cand != nil {
				return cand, nil
			}
			return nil, ErrNotFound
		}
		c, err := ix.Node(next.ChildVCN)
		if err != nil {
			return nil, err
		}
		n = c
	}
}
