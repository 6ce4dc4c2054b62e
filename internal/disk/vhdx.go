package disk

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
	"unicode/utf16"
)

// FormatError is a container's metadata that is damaged, cut short or not
// what its specification allows, with where it is: the structure, its
// byte offset in the file and the field at fault.
type FormatError struct {
	Format    string // "VHDX", "VHD"
	Structure string // e.g. "region table", "metadata table entry 3"
	Offset    int64  // byte offset of the structure in the file
	Field     string // the field at fault; "" for the structure as a whole
	Msg       string
}

// Error says where the damage is: "VHDX region table at byte 196608:
// EntryCount: ...".
func (e *FormatError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s at byte %d: ", e.Format, e.Structure, e.Offset)
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// The parts of a VHDX file ("[MS-VHDX]: Virtual Hard Disk v2 (VHDX) File
// Format", Microsoft Open Specifications) that unbrick reads. Every
// integer is little-endian; GUIDs are in Microsoft's binary form (the
// first three fields little-endian).
const (
	vhdxSignature = "vhdxfile" // file type identifier, at byte 0

	// Headers (MS-VHDX 2.2.2): 4 KiB each at 64 KiB and 128 KiB.
	vhdxHeaderSize      = 4096
	vhdxHeader1Offset   = 64 << 10
	vhdxHeader2Offset   = 128 << 10
	vhdxHeaderSignature = "head" // Signature, at 0
	vhdxOffChecksum     = 4      // CRC-32C of the whole structure, this field zeroed (headers and region tables)
	vhdxOffSequence     = 8      // SequenceNumber, uint64: the valid header with the higher one is current
	vhdxOffVersion      = 66     // Version, uint16: 1

	// Region table (MS-VHDX 2.2.3): 64 KiB at 192 KiB, a copy at 256 KiB.
	vhdxRegionTableSize      = 64 << 10
	vhdxRegionTable1Offset   = 192 << 10
	vhdxRegionTable2Offset   = 256 << 10
	vhdxRegionTableSignature = "regi"
	vhdxOffRegionCount       = 8  // EntryCount, uint32, at most 2047
	vhdxRegionEntriesOffset  = 16 // 32-byte entries: Guid, FileOffset uint64, Length uint32, Required uint32
	vhdxRegionEntrySize      = 32
	vhdxMaxEntries           = 2047 // region and metadata table entries

	// Metadata region (MS-VHDX 2.6): a 64 KiB metadata table at its start,
	// then the items. Item offsets are relative to the region.
	vhdxMetadataTableSize       = 64 << 10
	vhdxMetadataSignature       = "metadata"
	vhdxOffMetadataCount        = 10 // EntryCount, uint16, at most 2047
	vhdxMetadataEntriesOffset   = 32 // 32-byte entries: ItemID, Offset uint32, Length uint32, flags uint32, reserved
	vhdxMetadataEntrySize       = 32
	vhdxMetadataIsUser          = 1 << 0  // flags bit 0: user metadata, not the system items read here
	vhdxMaxMetadataItem         = 1 << 20 // an item's Length is at most 1 MiB
	vhdxFileParametersSize      = 8       // BlockSize uint32, flags uint32
	vhdxFlagLeaveBlocks         = 1 << 0  // LeaveBlockAllocated (a fixed VHDX)
	vhdxFlagHasParent           = 1 << 1  // HasParent (a differencing VHDX)
	vhdxLocatorHeaderSize       = 20      // LocatorType GUID, Reserved uint16, KeyValueCount uint16
	vhdxLocatorEntrySize        = 12      // KeyOffset uint32, ValueOffset uint32, KeyLength uint16, ValueLength uint16
	vhdxOffLocatorKeyValueCount = 18
)

// The GUIDs unbrick looks for, as MS-VHDX writes them.
var (
	vhdxMetadataRegionGUID = mustGUID("8B7CA206-4790-4B9A-B8FE-575F050F886E") // region table: metadata region
	vhdxFileParametersGUID = mustGUID("CAA16737-FA36-4D43-B3B6-33F0AA44E76B") // metadata item: File Parameters
	vhdxParentLocatorGUID  = mustGUID("A8D35F2D-B30B-454D-ABF7-D3D84834AB0C") // metadata item: Parent Locator
	vhdxLocatorTypeVHDX    = mustGUID("B04AEFB7-D19E-4A81-B789-25B8E9445913") // parent locator type: a VHDX parent
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// vhdxInfo is what unbrick reads of a VHDX file.
type vhdxInfo struct {
	Sequence            uint64 // SequenceNumber of the current header
	CurrentHeader       int    // 1 or 2
	MetadataOffset      int64  // the metadata region's file offset
	MetadataLength      int64
	BlockSize           uint32 // File Parameters
	LeaveBlockAllocated bool
	HasParent           bool
	// Parent locator (HasParent only): its type and its key/value
	// entries (parent_linkage, relative_path, volume_path,
	// absolute_win32_path, ...).
	LocatorType [16]byte
	Locator     map[string]string
}

// readVHDX reads and checks the header section, the metadata table, the
// File Parameters item and, for a differencing VHDX, the Parent Locator
// item of a VHDX file of the given size: about 200 KiB, and the Parent
// Locator (at most 1 MiB, MS-VHDX's limit for an item), however large the
// file. The log is not replayed: a file closed cleanly has an empty one.
func readVHDX(r io.ReaderAt, size int64) (*vhdxInfo, error) {
	ferr := func(structure string, off int64, field, format string, a ...any) error {
		return &FormatError{Format: "VHDX", Structure: structure, Offset: off, Field: field, Msg: fmt.Sprintf(format, a...)}
	}
	id, err := readSpan(r, size, 0, len(vhdxSignature), "VHDX", "file type identifier")
	if err != nil {
		return nil, err
	}
	if string(id) != vhdxSignature {
		return nil, ferr("file type identifier", 0, "Signature", "%q, want %q", id, vhdxSignature)
	}
	v := &vhdxInfo{}

	// Headers: the valid one with the higher sequence number is current.
	var herr [2]error
	var seq [2]uint64
	var valid [2]bool
	for i, off := range []int64{vhdxHeader1Offset, vhdxHeader2Offset} {
		seq[i], herr[i] = parseVHDXHeader(r, size, off, i+1)
		valid[i] = herr[i] == nil
	}
	switch {
	case !valid[0] && !valid[1]:
		return nil, fmt.Errorf("no valid header: %w; %w", herr[0], herr[1])
	case valid[0] && (!valid[1] || seq[0] >= seq[1]):
		v.CurrentHeader, v.Sequence = 1, seq[0]
	default:
		v.CurrentHeader, v.Sequence = 2, seq[1]
	}

	// Region table, or its copy when the first is damaged.
	var rerr error
	found := false
	for _, off := range []int64{vhdxRegionTable1Offset, vhdxRegionTable2Offset} {
		var err error
		v.MetadataOffset, v.MetadataLength, err = parseVHDXRegionTable(r, size, off)
		if err == nil {
			found = true
			break
		}
		if rerr == nil {
			rerr = err
		}
	}
	if !found {
		return nil, rerr
	}

	// Metadata table.
	mt, err := readSpan(r, size, v.MetadataOffset, vhdxMetadataTableSize, "VHDX", "metadata table")
	if err != nil {
		return nil, err
	}
	if string(mt[:8]) != vhdxMetadataSignature {
		return nil, ferr("metadata table", v.MetadataOffset, "Signature", "%q, want %q", mt[:8], vhdxMetadataSignature)
	}
	count := int(binary.LittleEndian.Uint16(mt[vhdxOffMetadataCount:]))
	if count > vhdxMaxEntries {
		return nil, ferr("metadata table", v.MetadataOffset, "EntryCount", "%d entries, at most %d", count, vhdxMaxEntries)
	}
	type item struct{ off, length int64 }
	var params, locator *item
	for i := range count {
		e := mt[vhdxMetadataEntriesOffset+i*vhdxMetadataEntrySize:][:vhdxMetadataEntrySize]
		var guid [16]byte
		copy(guid[:], e)
		if guid != vhdxFileParametersGUID && guid != vhdxParentLocatorGUID ||
			binary.LittleEndian.Uint32(e[24:])&vhdxMetadataIsUser != 0 {
			continue // another item, or user metadata of the same GUID
		}
		at := v.MetadataOffset + int64(vhdxMetadataEntriesOffset+i*vhdxMetadataEntrySize)
		name := fmt.Sprintf("metadata table entry %d", i)
		off := int64(binary.LittleEndian.Uint32(e[16:]))
		length := int64(binary.LittleEndian.Uint32(e[20:]))
		switch {
		case length > vhdxMaxMetadataItem:
			return nil, ferr(name, at, "Length", "%d bytes, at most %d", length, vhdxMaxMetadataItem)
		case length > 0 && off < vhdxMetadataTableSize:
			return nil, ferr(name, at, "Offset", "%d lies inside the metadata table (items start at %d)", off, vhdxMetadataTableSize)
		case off+length > v.MetadataLength:
			return nil, ferr(name, at, "Offset", "item at %d, %d bytes, ends past the metadata region (%d bytes)", off, length, v.MetadataLength)
		}
		it := &item{off: v.MetadataOffset + off, length: length}
		if guid == vhdxFileParametersGUID {
			params = it
		} else {
			locator = it
		}
	}
	if params == nil {
		return nil, ferr("metadata table", v.MetadataOffset, "", "no File Parameters item (%s)", guidString(vhdxFileParametersGUID))
	}
	if params.length < vhdxFileParametersSize {
		return nil, ferr("File Parameters", params.off, "", "%d bytes, want %d", params.length, vhdxFileParametersSize)
	}
	fp, err := readSpan(r, size, params.off, vhdxFileParametersSize, "VHDX", "File Parameters")
	if err != nil {
		return nil, err
	}
	v.BlockSize = binary.LittleEndian.Uint32(fp)
	flags := binary.LittleEndian.Uint32(fp[4:])
	v.LeaveBlockAllocated = flags&vhdxFlagLeaveBlocks != 0
	v.HasParent = flags&vhdxFlagHasParent != 0
	if !v.HasParent {
		return v, nil
	}
	if locator == nil || locator.length == 0 {
		return nil, ferr("metadata table", v.MetadataOffset, "", "File Parameters say HasParent, but there is no Parent Locator item (%s)", guidString(vhdxParentLocatorGUID))
	}
	b, err := readSpan(r, size, locator.off, int(locator.length), "VHDX", "parent locator")
	if err != nil {
		return nil, err
	}
	v.LocatorType, v.Locator, err = parseVHDXParentLocator(b, locator.off)
	if err != nil {
		return nil, err
	}
	return v, nil
}

// parseVHDXHeader checks the header at off (signature, CRC-32C, version)
// and returns its sequence number.
func parseVHDXHeader(r io.ReaderAt, size, off int64, n int) (uint64, error) {
	name := fmt.Sprintf("header %d", n)
	h, err := readSpan(r, size, off, vhdxHeaderSize, "VHDX", name)
	if err != nil {
		return 0, err
	}
	ferr := func(field, format string, a ...any) error {
		return &FormatError{Format: "VHDX", Structure: name, Offset: off, Field: field, Msg: fmt.Sprintf(format, a...)}
	}
	if string(h[:4]) != vhdxHeaderSignature {
		return 0, ferr("Signature", "%q, want %q", h[:4], vhdxHeaderSignature)
	}
	if got, want := binary.LittleEndian.Uint32(h[vhdxOffChecksum:]), checksumCRC32C(h, vhdxOffChecksum); got != want {
		return 0, ferr("Checksum", "%#08x, the header's bytes give %#08x", got, want)
	}
	if ver := binary.LittleEndian.Uint16(h[vhdxOffVersion:]); ver != 1 {
		return 0, ferr("Version", "%d, want 1", ver)
	}
	return binary.LittleEndian.Uint64(h[vhdxOffSequence:]), nil
}

// parseVHDXRegionTable checks the region table at off and returns where
// the metadata region is.
func parseVHDXRegionTable(r io.ReaderAt, size, off int64) (int64, int64, error) {
	rt, err := readSpan(r, size, off, vhdxRegionTableSize, "VHDX", "region table")
	if err != nil {
		return 0, 0, err
	}
	ferr := func(structure string, at int64, field, format string, a ...any) error {
		return &FormatError{Format: "VHDX", Structure: structure, Offset: at, Field: field, Msg: fmt.Sprintf(format, a...)}
	}
	if string(rt[:4]) != vhdxRegionTableSignature {
		return 0, 0, ferr("region table", off, "Signature", "%q, want %q", rt[:4], vhdxRegionTableSignature)
	}
	if got, want := binary.LittleEndian.Uint32(rt[vhdxOffChecksum:]), checksumCRC32C(rt, vhdxOffChecksum); got != want {
		return 0, 0, ferr("region table", off, "Checksum", "%#08x, the table's bytes give %#08x", got, want)
	}
	count := binary.LittleEndian.Uint32(rt[vhdxOffRegionCount:])
	if count > vhdxMaxEntries {
		return 0, 0, ferr("region table", off, "EntryCount", "%d entries, at most %d", count, vhdxMaxEntries)
	}
	for i := range int(count) {
		e := rt[vhdxRegionEntriesOffset+i*vhdxRegionEntrySize:][:vhdxRegionEntrySize]
		var guid [16]byte
		copy(guid[:], e)
		if guid != vhdxMetadataRegionGUID {
			continue
		}
		at := off + int64(vhdxRegionEntriesOffset+i*vhdxRegionEntrySize)
		name := fmt.Sprintf("region table entry %d (metadata region)", i)
		fo := binary.LittleEndian.Uint64(e[16:])
		length := int64(binary.LittleEndian.Uint32(e[24:]))
		switch {
		case fo < 1<<20 || fo%(1<<20) != 0:
			return 0, 0, ferr(name, at, "FileOffset", "%d, want a multiple of 1 MiB, at least 1 MiB", fo)
		case length < vhdxMetadataTableSize:
			return 0, 0, ferr(name, at, "Length", "%d bytes, less than the %d-byte metadata table", length, vhdxMetadataTableSize)
		case fo > uint64(size) || uint64(length) > uint64(size)-fo:
			return 0, 0, ferr(name, at, "FileOffset", "the region (%d bytes at %d) ends past the end of the file (%d bytes)", length, fo, size)
		}
		return int64(fo), length, nil
	}
	return 0, 0, ferr("region table", off, "", "no metadata region (%s) among its %d entries", guidString(vhdxMetadataRegionGUID), count)
}

// parseVHDXParentLocator decodes a Parent Locator item (b, read at file
// offset off): its type and its UTF-16LE key/value entries.
func parseVHDXParentLocator(b []byte, off int64) ([16]byte, map[string]string, error) {
	var typ [16]byte
	ferr := func(structure string, field, format string, a ...any) error {
		return &FormatError{Format: "VHDX", Structure: structure, Offset: off, Field: field, Msg: fmt.Sprintf(format, a...)}
	}
	if len(b) < vhdxLocatorHeaderSize {
		return typ, nil, ferr("parent locator", "", "%d bytes, shorter than its %d-byte header", len(b), vhdxLocatorHeaderSize)
	}
	copy(typ[:], b)
	n := int(binary.LittleEndian.Uint16(b[vhdxOffLocatorKeyValueCount:]))
	if vhdxLocatorHeaderSize+n*vhdxLocatorEntrySize > len(b) {
		return typ, nil, ferr("parent locator", "KeyValueCount", "%d entries do not fit in the %d-byte item", n, len(b))
	}
	kv := make(map[string]string, n)
	for i := range n {
		e := b[vhdxLocatorHeaderSize+i*vhdxLocatorEntrySize:][:vhdxLocatorEntrySize]
		name := fmt.Sprintf("parent locator entry %d", i)
		str := func(what string, o uint32, l uint16) (string, error) {
			switch {
			case o == 0:
				return "", ferr(name, what+"Offset", "0, must be greater than zero")
			case l == 0 || l%2 != 0:
				return "", ferr(name, what+"Length", "%d, want a positive, even length for a UTF-16 string", l)
			case uint64(o)+uint64(l) > uint64(len(b)):
				return "", ferr(name, what+"Offset", "%d bytes at %d end past the %d-byte item", l, o, len(b))
			}
			return decodeUTF16(b[o:][:l], binary.LittleEndian), nil
		}
		k, err := str("Key", binary.LittleEndian.Uint32(e), binary.LittleEndian.Uint16(e[8:]))
		if err != nil {
			return typ, nil, err
		}
		val, err := str("Value", binary.LittleEndian.Uint32(e[4:]), binary.LittleEndian.Uint16(e[10:]))
		if err != nil {
			return typ, nil, err
		}
		kv[k] = val
	}
	return typ, kv, nil
}

// readSpan reads n bytes at off of a file of the given size; a span past
// the end of the file is a FormatError naming the structure.
func readSpan(r io.ReaderAt, size, off int64, n int, format, structure string) ([]byte, error) {
	if off < 0 || n < 0 || off > size || int64(n) > size-off {
		return nil, &FormatError{Format: format, Structure: structure, Offset: off,
			Msg: fmt.Sprintf("%d bytes at %d, but the file ends at %d (cut short?)", n, off, size)}
	}
	b := make([]byte, n)
	if m, err := r.ReadAt(b, off); m != n {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("read %s %s at byte %d: %w", format, structure, off, err)
	}
	return b, nil
}

// checksumCRC32C is the CRC-32C (Castagnoli) of b with the 4 bytes at
// field taken as zero.
func checksumCRC32C(b []byte, field int) uint32 {
	c := crc32.Update(0, castagnoli, b[:field])
	c = crc32.Update(c, castagnoli, make([]byte, 4))
	return crc32.Update(c, castagnoli, b[field+4:])
}

// decodeUTF16 decodes UTF-16 (in byte order bo) up to the first NUL.
func decodeUTF16(b []byte, bo binary.ByteOrder) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		c := bo.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}

// mustGUID returns the binary form (MS-VHDX, "GUID": Data1, Data2 and
// Data3 little-endian, Data4 as written) of a GUID written as text.
func mustGUID(s string) [16]byte {
	var g [16]byte
	h, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(h) != 16 {
		panic("bad GUID " + s)
	}
	g[0], g[1], g[2], g[3] = h[3], h[2], h[1], h[0]
	g[4], g[5] = h[5], h[4]
	g[6], g[7] = h[7], h[6]
	copy(g[8:], h[8:])
	return g
}

// guidString writes a binary GUID as text.
func guidString(g [16]byte) string {
	return fmt.Sprintf("%02X%02X%02X%02X-%02X%02X-%02X%02X-%X-%X",
		g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6], g[8:10], g[10:])
}
