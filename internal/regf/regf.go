package regf

import (
	"encoding/binary"
	"fmt"
	"io"
	"sort"
)

// Sizes and limits.
const (
	BaseBlockSize = 4096      // base block ("regf"), first 4096 bytes of the file
	ChecksumEnd   = 508       // the checksum covers bytes [0, 508)
	binAlign      = 4096      // a hive bin's size is a multiple of 4096
	binHeaderSize = 32        // "hbin" header
	MaxHiveSize   = 256 << 20 // whole-hive read limit (a large SYSTEM hive is 20-100 MiB)
	maxSubkeys    = 1 << 18   // per key, over all lists
	maxValues     = 1 << 16   // per key
)

var le = binary.LittleEndian

// BaseBlock is the decoded base block (file header).
type BaseBlock struct {
	PrimarySeq    uint32 // offset 4
	SecondarySeq  uint32 // offset 8
	LastWritten   uint64 // offset 12, FILETIME
	Major, Minor  uint32 // offsets 20, 24
	FileType      uint32 // offset 28: 0 primary file
	FileFormat    uint32 // offset 32: 1 direct memory load
	RootCell      uint32 // offset 36, relative to the hive bins data
	BinsSize      uint32 // offset 40, hive bins data size
	Clustering    uint32 // offset 44
	Flags         uint32 // offset 144 (Windows 10)
	Checksum      uint32 // offset 508, as stored
	ComputedCksum uint32 // XOR-32 of bytes [0,508) with the 0/-1 adjustment
}

// Clean reports whether the primary and secondary sequence numbers match.
func (b *BaseBlock) Clean() bool { return b.PrimarySeq == b.SecondarySeq }

// ChecksumOK reports whether the stored checksum is the computed one.
func (b *BaseBlock) ChecksumOK() bool { return b.Checksum == b.ComputedCksum }

// Checksum computes the base block checksum of b (at least 508 bytes):
// the XOR of its first 127 little-endian 32-bit words, 0 stored as 1 and
// 0xFFFFFFFF as 0xFFFFFFFE.
func Checksum(b []byte) uint32 {
	var x uint32
	for i := 0; i+4 <= ChecksumEnd && i+4 <= len(b); i += 4 {
		x ^= le.Uint32(b[i:])
	}
	switch x {
	case 0:
		return 1
	case 0xffffffff:
		return 0xfffffffe
	}
	return x
}

// ParseBaseBlock decodes and checks the base block at the start of hive.
// A wrong checksum or unequal sequence numbers are not format errors
// (see BaseBlock.ChecksumOK, Clean): the caller decides.
func ParseBaseBlock(hive []byte) (*BaseBlock, error) {
	if int64(len(hive)) > MaxHiveSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(hive))
	}
	if len(hive) < BaseBlockSize {
		return nil, formatErr("base block", 0, "", "file is %d bytes, shorter than the %d-byte base block", len(hive), BaseBlockSize)
	}
	if string(hive[:4]) != "regf" {
		return nil, formatErr("base block", 0, "Signature", "%q, want \"regf\"", hive[:4])
	}
	b := &BaseBlock{
		PrimarySeq:   le.Uint32(hive[4:]),
		SecondarySeq: le.Uint32(hive[8:]),
		LastWritten:  le.Uint64(hive[12:]),
		Major:        le.Uint32(hive[20:]),
		Minor:        le.Uint32(hive[24:]),
		FileType:     le.Uint32(hive[28:]),
		FileFormat:   le.Uint32(hive[32:]),
		RootCell:     le.Uint32(hive[36:]),
		BinsSize:     le.Uint32(hive[40:]),
		Clustering:   le.Uint32(hive[44:]),
		Flags:        le.Uint32(hive[144:]),
		Checksum:     le.Uint32(hive[508:]),
	}
	b.ComputedCksum = Checksum(hive)
	if b.Major != 1 {
		return nil, formatErr("base block", 20, "Major version", "%d, want 1", b.Major)
	}
	if b.Minor < 2 || b.Minor > 6 {
		return nil, formatErr("base block", 24, "Minor version", "%d, want 2..6", b.Minor)
	}
	if b.FileType != 0 {
		return nil, formatErr("base block", 28, "File type", "%d, want 0 (primary file; 1 and 6 are transaction logs)", b.FileType)
	}
	if b.FileFormat != 1 {
		return nil, formatErr("base block", 32, "File format", "%d, want 1 (direct memory load)", b.FileFormat)
	}
	if b.BinsSize == 0 || b.BinsSize%binAlign != 0 {
		return nil, formatErr("base block", 40, "Hive bins data size", "%d is not a positive multiple of %d", b.BinsSize, binAlign)
	}
	if int64(BaseBlockSize)+int64(b.BinsSize) > int64(len(hive)) {
		return nil, formatErr("base block", 40, "Hive bins data size", "%d bytes of hive bins, but the file has only %d after the base block", b.BinsSize, len(hive)-BaseBlockSize)
	}
	if b.RootCell >= b.BinsSize {
		return nil, formatErr("base block", 36, "Root cell offset", "0x%x is beyond the hive bins data (0x%x bytes)", b.RootCell, b.BinsSize)
	}
	return b, nil
}

// Bin is one hive bin: its offset and size relative to the hive bins data.
type Bin struct {
	Offset uint32
	Size   uint32
}

// Cell is one cell as the walker sees it. Offset is relative to the hive
// bins data (file offset = 4096 + Offset); Size is the absolute size,
// header included.
type Cell struct {
	Offset    uint32
	Size      uint32
	Allocated bool
}

// Hive is a parsed hive held in memory. It does not copy the bytes.
type Hive struct {
	b    []byte // the whole file
	Base *BaseBlock
	Bins []Bin // in file order
}

// Parse checks the base block and the chain of hive bins. Cells are read
// on demand (and checked to lie inside their bin); WalkCells checks them all.
func Parse(hive []byte) (*Hive, error) {
	bb, err := ParseBaseBlock(hive)
	if err != nil {
		return nil, err
	}
	h := &Hive{b: hive, Base: bb}
	for off := uint32(0); off < bb.BinsSize; {
		abs := int64(BaseBlockSize) + int64(off)
		hb := hive[abs:]
		if len(hb) < binHeaderSize {
			return nil, formatErr("hbin", abs, "", "truncated header")
		}
		if string(hb[:4]) != "hbin" {
			return nil, formatErr("hbin", abs, "Signature", "%q, want \"hbin\"", hb[:4])
		}
		if got := le.Uint32(hb[4:]); got != off {
			return nil, formatErr("hbin", abs+4, "Offset", "0x%x, want 0x%x (its position in the hive bins data)", got, off)
		}
		size := le.Uint32(hb[8:])
		if size < binAlign || size%binAlign != 0 || uint64(off)+uint64(size) > uint64(bb.BinsSize) {
			return nil, formatErr("hbin", abs+8, "Size", "0x%x: not a multiple of 4096 inside the hive bins data (0x%x bytes)", size, bb.BinsSize)
		}
		h.Bins = append(h.Bins, Bin{Offset: off, Size: size})
		off += size
	}
	return h, nil
}

// Bytes is the hive file the Hive was parsed from.
func (h *Hive) Bytes() []byte { return h.b }

// FileOffset turns an offset relative to the hive bins data into a file offset.
func FileOffset(cellOff uint32) int64 { return int64(BaseBlockSize) + int64(cellOff) }

// binOf returns the bin holding offset off (relative to the hive bins data).
func (h *Hive) binOf(off uint32) (Bin, bool) {
	i := sort.Search(len(h.Bins), func(i int) bool { return h.Bins[i].Offset+h.Bins[i].Size > off })
	if i == len(h.Bins) || h.Bins[i].Offset > off {
		return Bin{}, false
	}
	return h.Bins[i], true
}

// cell returns the data of the allocated cell at off (without its 4-byte
// size field). what names the structure expected there, for errors.
func (h *Hive) cell(off uint32, what string) ([]byte, error) {
	abs := FileOffset(off)
	bin, ok := h.binOf(off)
	if !ok || off < bin.Offset+binHeaderSize || off%8 != 0 {
		return nil, formatErr(what, abs, "", "cell offset 0x%x is not a cell position inside a hive bin", off)
	}
	raw := int32(le.Uint32(h.b[abs:]))
	if raw >= 0 {
		return nil, formatErr(what, abs, "Size", "cell is not allocated (size %d)", raw)
	}
	size := -int64(raw)
	if size < 8 || size%8 != 0 || int64(off)+size > int64(bin.Offset)+int64(bin.Size) {
		return nil, formatErr(what, abs, "Size", "cell size %d does not fit its hive bin at 0x%x (0x%x bytes)", size, bin.Offset, bin.Size)
	}
	return h.b[abs+4 : abs+size], nil
}

// WalkCells visits every cell of every bin in file order and checks that
// the cells tile each bin exactly. fn may be nil (check only); an error
// from fn stops the walk and is returned.
func (h *Hive) WalkCells(fn func(Cell) error) error {
	for _, bin := range h.Bins {
		end := bin.Offset + bin.Size
		for off := bin.Offset + binHeaderSize; off < end; {
			abs := FileOffset(off)
			if end-off < 4 {
				return formatErr("cell", abs, "Size", "%d bytes left in the hive bin, too few for a cell", end-off)
			}
			raw := int32(le.Uint32(h.b[abs:]))
			size := int64(raw)
			if size < 0 {
				size = -size
			}
			if size < 8 || size%8 != 0 || int64(off)+size > int64(end) {
				return formatErr("cell", abs, "Size", "%d: not a multiple of 8 of at least 8 bytes inside its hive bin (0x%x..0x%x)", raw, bin.Offset, end)
			}
			if fn != nil {
				if err := fn(Cell{Offset: off, Size: uint32(size), Allocated: raw < 0}); err != nil {
					return err
				}
			}
			off += uint32(size)
		}
	}
	return nil
}

// ReadHive reads a whole hive file from r, refusing more than MaxHiveSize bytes.
func ReadHive(r io.Reader) ([]byte, error) { return readLimited(r, MaxHiveSize) }

func readLimited(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w (%d bytes)", ErrTooLarge, limit)
	}
	return b, nil
}
