package ntfs

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"
	"unicode/utf16"

	"github.com/unbrick/unbrick/ntfs/internal/utf16le"
)

// AttrType is an NTFS attribute type code.
type AttrType uint32

// Attribute type codes (libfsntfs document "Attribute types"; ntfs-3g layout.h).
const (
	AttrStandardInformation AttrType = 0x10
	AttrAttributeList       AttrType = 0x20
	AttrFileName            AttrType = 0x30
	AttrObjectID            AttrType = 0x40
	AttrSecurityDescriptor  AttrType = 0x50
	AttrVolumeName          AttrType = 0x60
	AttrVolumeInformation   AttrType = 0x70
	AttrData                AttrType = 0x80
	AttrIndexRoot           AttrType = 0x90
	AttrIndexAllocation     AttrType = 0xa0
	AttrBitmap              AttrType = 0xb0
	AttrReparsePoint        AttrType = 0xc0
	AttrEAInformation       AttrType = 0xd0
	AttrEA                  AttrType = 0xe0
	AttrLoggedUtilityStream AttrType = 0x100
	AttrEnd                 AttrType = 0xffffffff
)

var attrTypeNames = map[AttrType]string{
	AttrStandardInformation: "$STANDARD_INFORMATION", AttrAttributeList: "$ATTRIBUTE_LIST",
	AttrFileName: "$FILE_NAME", AttrObjectID: "$OBJECT_ID", AttrSecurityDescriptor: "$SECURITY_DESCRIPTOR",
	AttrVolumeName: "$VOLUME_NAME", AttrVolumeInformation: "$VOLUME_INFORMATION", AttrData: "$DATA",
	AttrIndexRoot: "$INDEX_ROOT", AttrIndexAllocation: "$INDEX_ALLOCATION", AttrBitmap: "$BITMAP",
	AttrReparsePoint: "$REPARSE_POINT", AttrEAInformation: "$EA_INFORMATION", AttrEA: "$EA",
	AttrLoggedUtilityStream: "$LOGGED_UTILITY_STREAM",
}

func (t AttrType) String() string {
	if s, ok := attrTypeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("attribute type 0x%x", uint32(t))
}

// Attribute flags (header +12).
const (
	AttrFlagCompressionMask = 0x00ff
	AttrFlagEncrypted       = 0x4000
	AttrFlagSparse          = 0x8000
)

// Attribute is one attribute header and (for a resident attribute) its
// value. Offset is the attribute's byte offset in the record's Raw bytes,
// so that an editor can compute exact byte positions. Layout: +0 type, +4
// length, +8 non-resident flag, +9 name length, +10 name offset, +12 flags,
// +14 instance; resident: +16 value length, +20 value offset, +22 indexed
// flag; non-resident: +16 lowest VCN, +24 highest VCN, +32 mapping pairs
// offset, +34 compression unit (log2 clusters), +40 allocated size, +48
// data size, +56 initialized size, +64 compressed size.
type Attribute struct {
	Type        AttrType
	Record      uint64 // number of the MFT record that holds it
	Offset      int    // offset of the attribute header in Record.Raw
	Length      int
	NonResident bool
	Name        string
	Flags       uint16
	Instance    uint16

	// Resident attributes.
	ValueOffset int    // relative to Offset
	Value       []byte // aliases the record's Raw bytes
	Indexed     bool

	// Non-resident attributes.
	LowestVCN       int64
	HighestVCN      int64
	RunsOffset      int // relative to Offset
	CompressionUnit uint8
	AllocatedSize   int64
	DataSize        int64
	InitializedSize int64
	CompressedSize  int64
	Runs            []Run
}

// Compressed reports whether the attribute's data is compressed.
func (a *Attribute) Compressed() bool { return a.Flags&AttrFlagCompressionMask != 0 }

// Encrypted reports whether the attribute's data is EFS-encrypted.
func (a *Attribute) Encrypted() bool { return a.Flags&AttrFlagEncrypted != 0 }

// Sparse reports whether the attribute is marked sparse.
func (a *Attribute) Sparse() bool { return a.Flags&AttrFlagSparse != 0 }

// Size is the attribute's logical size (value length or data size).
func (a *Attribute) Size() int64 {
	if a.NonResident {
		return a.DataSize
	}
	return int64(len(a.Value))
}

// Attribute header: byte offsets of its fields from the header's start
// (libfsntfs "MFT attribute"; ntfs-3g ATTR_RECORD). The common part comes
// first, then the resident or the non-resident part.
const (
	AttrOffType        = 0x00 // uint32: AttrType (AttrEnd ends the list)
	AttrOffLength      = 0x04 // uint32: header + value or run list, 8-byte aligned
	AttrOffNonResident = 0x08 // byte: 0 resident, 1 non-resident
	AttrOffNameLength  = 0x09 // byte: name length in UTF-16 units
	AttrOffNameOffset  = 0x0A // uint16: offset of the name
	AttrOffFlags       = 0x0C // uint16: AttrFlag*
	AttrOffInstance    = 0x0E // uint16: attribute instance number

	AttrOffValueLength     = 0x10 // resident: uint32 value length
	AttrOffValueOffset     = 0x14 // resident: uint16 value offset
	AttrOffIndexed         = 0x16 // resident: byte, indexed flag
	AttrResidentHeaderSize = 0x18

	AttrOffLowestVCN          = 0x10 // non-resident: int64
	AttrOffHighestVCN         = 0x18 // non-resident: int64
	AttrOffRunsOffset         = 0x20 // non-resident: uint16 mapping pairs offset
	AttrOffCompressionUnit    = 0x22 // non-resident: byte, log2 clusters
	AttrOffAllocatedSize      = 0x28 // non-resident: int64
	AttrOffDataSize           = 0x30 // non-resident: int64
	AttrOffInitializedSize    = 0x38 // non-resident: int64
	AttrOffCompressedSize     = 0x40 // non-resident, compressed or sparse: int64
	AttrNonResidentHeaderSize = 0x40
)

// ParseAttribute decodes the attribute header at off in rec (the bytes in
// use of a fixed-up record).
func ParseAttribute(rec []byte, off int) (*Attribute, error) { return parseAttribute(rec, off) }

func parseAttribute(rec []byte, off int) (*Attribute, error) {
	if off < 0 || off+16 > len(rec) {
		return nil, Corrupt("attribute header", int64(off), "type", "attribute header at %d runs past the record", off)
	}
	a := &Attribute{
		Type:        AttrType(binary.LittleEndian.Uint32(rec[off+AttrOffType:])),
		Offset:      off,
		Length:      int(binary.LittleEndian.Uint32(rec[off+AttrOffLength:])),
		NonResident: rec[off+AttrOffNonResident] != 0,
		Flags:       binary.LittleEndian.Uint16(rec[off+AttrOffFlags:]),
		Instance:    binary.LittleEndian.Uint16(rec[off+AttrOffInstance:]),
	}
	if rec[off+AttrOffNonResident] > 1 {
		return nil, Corrupt(a.Type.String(), AttrOffNonResident, "non-resident flag", "non-resident flag %d", rec[off+AttrOffNonResident])
	}
	minLen := AttrResidentHeaderSize
	if a.NonResident {
		minLen = AttrNonResidentHeaderSize
	}
	if a.Length < minLen || a.Length%8 != 0 || a.Length > len(rec)-off {
		return nil, Corrupt(a.Type.String(), AttrOffLength, "length", "length %d is invalid (%d bytes left in record)", a.Length, len(rec)-off)
	}
	b := rec[off : off+a.Length]
	nameLen := int(b[AttrOffNameLength])
	nameOff := int(binary.LittleEndian.Uint16(b[AttrOffNameOffset:]))
	if nameLen > 0 {
		if nameOff < 16 || nameOff+2*nameLen > a.Length {
			return nil, Corrupt(a.Type.String(), AttrOffNameOffset, "name offset", "name (offset %d, %d units) lies outside the attribute", nameOff, nameLen)
		}
		a.Name = utf16le.Decode(b[nameOff : nameOff+2*nameLen])
	}
	if !a.NonResident {
		vlen := int(binary.LittleEndian.Uint32(b[AttrOffValueLength:]))
		voff := int(binary.LittleEndian.Uint16(b[AttrOffValueOffset:]))
		if voff < AttrResidentHeaderSize || vlen < 0 || voff > a.Length || vlen > a.Length-voff {
			return nil, Corrupt(a.Type.String(), AttrOffValueOffset, "value offset", "resident value (offset %d, %d bytes) lies outside the attribute's %d bytes", voff, vlen, a.Length)
		}
		a.ValueOffset = voff
		a.Value = b[voff : voff+vlen : voff+vlen]
		a.Indexed = b[AttrOffIndexed] != 0
		return a, nil
	}
	a.LowestVCN = int64(binary.LittleEndian.Uint64(b[AttrOffLowestVCN:]))
	a.HighestVCN = int64(binary.LittleEndian.Uint64(b[AttrOffHighestVCN:]))
	a.RunsOffset = int(binary.LittleEndian.Uint16(b[AttrOffRunsOffset:]))
	a.CompressionUnit = b[AttrOffCompressionUnit]
	a.AllocatedSize = int64(binary.LittleEndian.Uint64(b[AttrOffAllocatedSize:]))
	a.DataSize = int64(binary.LittleEndian.Uint64(b[AttrOffDataSize:]))
	a.InitializedSize = int64(binary.LittleEndian.Uint64(b[AttrOffInitializedSize:]))
	if a.Length >= AttrOffCompressedSize+8 && (a.Compressed() || a.Sparse()) {
		a.CompressedSize = int64(binary.LittleEndian.Uint64(b[AttrOffCompressedSize:]))
	}
	if a.LowestVCN < 0 || a.LowestVCN > maxVCN || a.HighestVCN < -1 || a.HighestVCN > maxVCN || a.HighestVCN+1 < a.LowestVCN {
		return nil, Corrupt(a.Type.String(), AttrOffLowestVCN, "lowest VCN", "VCN range %d..%d is invalid", a.LowestVCN, a.HighestVCN)
	}
	if a.LowestVCN == 0 && (a.AllocatedSize < 0 || a.DataSize < 0 || a.InitializedSize < 0 ||
		a.DataSize > a.AllocatedSize && !a.Compressed() || a.InitializedSize > a.DataSize || a.AllocatedSize > maxVCN<<20) {
		return nil, Corrupt(a.Type.String(), AttrOffAllocatedSize, "allocated size", "sizes (allocated %d, data %d, initialized %d) are inconsistent", a.AllocatedSize, a.DataSize, a.InitializedSize)
	}
	if a.RunsOffset < AttrNonResidentHeaderSize || a.RunsOffset > a.Length {
		return nil, Corrupt(a.Type.String(), AttrOffRunsOffset, "mapping pairs offset", "mapping pairs offset %d is invalid", a.RunsOffset)
	}
	runs, err := DecodeRunList(b[a.RunsOffset:], a.LowestVCN)
	if err != nil {
		return nil, fmt.Errorf("%v: %w", a.Type, err)
	}
	var end int64 = a.LowestVCN
	if len(runs) > 0 {
		end = runs[len(runs)-1].VCN + runs[len(runs)-1].Length
	}
	if end != a.HighestVCN+1 && !(len(runs) == 0 && a.HighestVCN == -1) {
		return nil, Corrupt(a.Type.String(), AttrOffHighestVCN, "highest VCN", "run list covers VCN %d..%d but the header says %d..%d", a.LowestVCN, end-1, a.LowestVCN, a.HighestVCN)
	}
	a.Runs = runs
	return a, nil
}

// NTFSTime converts an NTFS timestamp (100 ns intervals since 1601-01-01
// UTC) to a time.Time in UTC.
func NTFSTime(t uint64) time.Time {
	const epochDiff = 116444736000000000 // 1601-01-01 to 1970-01-01 in 100 ns units
	if t > math.MaxInt64 {
		t = math.MaxInt64
	}
	d := int64(t) - epochDiff
	return time.Unix(d/1e7, (d%1e7)*100).UTC()
}

// StandardInformation is the $STANDARD_INFORMATION value: +0 creation,
// +8 modification, +16 MFT change, +24 access time, +32 file attributes,
// and from NTFS 3.0 on +52 security id, +64 USN.
type StandardInformation struct {
	Created, Modified, MFTChanged, Accessed uint64
	FileAttributes                          uint32
	OwnerID, SecurityID                     uint32
	USN                                     uint64
}

// ParseStandardInformation decodes a $STANDARD_INFORMATION value.
func ParseStandardInformation(v []byte) (*StandardInformation, error) {
	if len(v) < 48 {
		return nil, Corrupt("$STANDARD_INFORMATION", -1, "", "%d bytes is too short", len(v))
	}
	si := &StandardInformation{
		Created:        binary.LittleEndian.Uint64(v[0:]),
		Modified:       binary.LittleEndian.Uint64(v[8:]),
		MFTChanged:     binary.LittleEndian.Uint64(v[16:]),
		Accessed:       binary.LittleEndian.Uint64(v[24:]),
		FileAttributes: binary.LittleEndian.Uint32(v[32:]),
	}
	if len(v) >= 72 {
		si.OwnerID = binary.LittleEndian.Uint32(v[48:])
		si.SecurityID = binary.LittleEndian.Uint32(v[52:])
		si.USN = binary.LittleEndian.Uint64(v[64:])
	}
	return si, nil
}

// Namespace is a $FILE_NAME namespace.
type Namespace uint8

// Filename namespaces.
const (
	NamespacePOSIX    Namespace = 0
	NamespaceWin32    Namespace = 1
	NamespaceDOS      Namespace = 2
	NamespaceWin32DOS Namespace = 3
)

func (n Namespace) String() string {
	switch n {
	case NamespacePOSIX:
		return "POSIX"
	case NamespaceWin32:
		return "Win32"
	case NamespaceDOS:
		return "DOS"
	case NamespaceWin32DOS:
		return "Win32+DOS"
	}
	return fmt.Sprintf("namespace %d", uint8(n))
}

// FileName is a $FILE_NAME value, which is also the key of a $I30 index
// entry: +0 parent reference, +8/+16/+24/+32 creation, modification, MFT
// change and access times, +40 allocated size, +48 data size, +56 file
// attributes, +60 EA size or reparse tag, +64 name length (UTF-16 units),
// +65 namespace, +66 name.
type FileName struct {
	Parent                                  FileRef
	Created, Modified, MFTChanged, Accessed uint64
	AllocatedSize, DataSize                 int64
	FileAttributes                          uint32
	ReparseTag                              uint32
	Namespace                               Namespace
	Name                                    string
	NameUTF16                               []uint16
}

// ParseFileName decodes a $FILE_NAME value (or $I30 key).
func ParseFileName(v []byte) (*FileName, error) {
	if len(v) < 66 {
		return nil, Corrupt("$FILE_NAME", -1, "", "%d bytes is too short", len(v))
	}
	n := int(v[64])
	if 66+2*n > len(v) {
		return nil, Corrupt("$FILE_NAME", 64, "name length", "name of %d units overruns the %d-byte value", n, len(v))
	}
	if n == 0 {
		return nil, Corrupt("$FILE_NAME", 64, "name length", "empty name")
	}
	fn := &FileName{
		Parent:         FileRef(binary.LittleEndian.Uint64(v[0:])),
		Created:        binary.LittleEndian.Uint64(v[8:]),
		Modified:       binary.LittleEndian.Uint64(v[16:]),
		MFTChanged:     binary.LittleEndian.Uint64(v[24:]),
		Accessed:       binary.LittleEndian.Uint64(v[32:]),
		AllocatedSize:  int64(binary.LittleEndian.Uint64(v[40:])),
		DataSize:       int64(binary.LittleEndian.Uint64(v[48:])),
		FileAttributes: binary.LittleEndian.Uint32(v[56:]),
		ReparseTag:     binary.LittleEndian.Uint32(v[60:]),
		Namespace:      Namespace(v[65]),
		NameUTF16:      utf16le.Units(v[66 : 66+2*n]),
	}
	if fn.Namespace > NamespaceWin32DOS {
		return nil, Corrupt("$FILE_NAME", 65, "namespace", "unknown namespace %d", v[65])
	}
	fn.Name = string(utf16.Decode(fn.NameUTF16))
	return fn, nil
}

// AttrListEntry is one entry of an $ATTRIBUTE_LIST: +0 type, +4 entry
// length, +6 name length, +7 name offset, +8 lowest VCN, +16 reference of
// the record holding the attribute, +24 attribute instance, +26 name.
type AttrListEntry struct {
	Offset    int // in the attribute list value
	Type      AttrType
	Length    int
	Name      string
	LowestVCN int64
	Ref       FileRef
	Instance  uint16
}

// ParseAttributeList decodes an $ATTRIBUTE_LIST value.
func ParseAttributeList(v []byte) ([]AttrListEntry, error) {
	var out []AttrListEntry
	for off := 0; off < len(v); {
		if off+26 > len(v) {
			return nil, Corrupt("$ATTRIBUTE_LIST", int64(off), "entry", "entry at %d truncated", off)
		}
		e := AttrListEntry{
			Offset:    off,
			Type:      AttrType(binary.LittleEndian.Uint32(v[off:])),
			Length:    int(binary.LittleEndian.Uint16(v[off+4:])),
			LowestVCN: int64(binary.LittleEndian.Uint64(v[off+8:])),
			Ref:       FileRef(binary.LittleEndian.Uint64(v[off+16:])),
			Instance:  binary.LittleEndian.Uint16(v[off+24:]),
		}
		if e.Length < 26 || e.Length%8 != 0 || off+e.Length > len(v) {
			return nil, Corrupt("$ATTRIBUTE_LIST", int64(off)+4, "entry length", "entry at %d has invalid length %d", off, e.Length)
		}
		if e.LowestVCN < 0 || e.LowestVCN > maxVCN {
			return nil, Corrupt("$ATTRIBUTE_LIST", int64(off)+8, "lowest VCN", "entry at %d has invalid lowest VCN %d", off, e.LowestVCN)
		}
		nl, no := int(v[off+6]), int(v[off+7])
		if nl > 0 {
			if no < 26 || no+2*nl > e.Length {
				return nil, Corrupt("$ATTRIBUTE_LIST", int64(off)+7, "name offset", "entry at %d has its name outside the entry", off)
			}
			e.Name = utf16le.Decode(v[off+no : off+no+2*nl])
		}
		out = append(out, e)
		off += e.Length
	}
	return out, nil
}

// Volume flags in $VOLUME_INFORMATION.
const (
	VolumeDirty             = 0x0001
	VolumeResizeLogFile     = 0x0002
	VolumeUpgradeOnMount    = 0x0004
	VolumeMountedOnNT4      = 0x0008
	VolumeDeleteUSNUnderway = 0x0010
	VolumeRepairObjectIDs   = 0x0020
	VolumeChkdskUnderway    = 0x4000
	VolumeModifiedByChkdsk  = 0x8000
)

// VolumeInformation is the $VOLUME_INFORMATION value of $Volume: +8 major
// version, +9 minor version, +10 flags.
type VolumeInformation struct {
	Major, Minor uint8
	Flags        uint16
}

// ParseVolumeInformation decodes a $VOLUME_INFORMATION value.
func ParseVolumeInformation(v []byte) (*VolumeInformation, error) {
	if len(v) < 12 {
		return nil, Corrupt("$VOLUME_INFORMATION", -1, "", "%d bytes is too short", len(v))
	}
	return &VolumeInformation{Major: v[8], Minor: v[9], Flags: binary.LittleEndian.Uint16(v[10:])}, nil
}

// Reparse tags this package names.
const (
	ReparseTagMountPoint = 0xa0000003
	ReparseTagSymlink    = 0xa000000c
	ReparseTagDedup      = 0x80000013
	ReparseTagWOF        = 0x80000017
)

// ReparsePoint is a $REPARSE_POINT value: +0 tag, +4 data length, then
// (for Microsoft tags) the data; junctions and symbolic links carry a
// substitute name and a print name.
type ReparsePoint struct {
	Tag        uint32
	Data       []byte
	Substitute string // mount points and symbolic links only
	Print      string
	Relative   bool // symbolic link with SYMLINK_FLAG_RELATIVE
}

// ParseReparsePoint decodes a $REPARSE_POINT value.
func ParseReparsePoint(v []byte) (*ReparsePoint, error) {
	if len(v) < 8 {
		return nil, Corrupt("$REPARSE_POINT", -1, "", "%d bytes is too short", len(v))
	}
	rp := &ReparsePoint{Tag: binary.LittleEndian.Uint32(v)}
	n := int(binary.LittleEndian.Uint16(v[4:]))
	if 8+n > len(v) {
		return nil, Corrupt("$REPARSE_POINT", 4, "data length", "data length %d overruns the %d-byte value", n, len(v))
	}
	rp.Data = v[8 : 8+n]
	var body []byte
	switch rp.Tag {
	case ReparseTagMountPoint:
		if n < 8 {
			return rp, nil
		}
		body = rp.Data[8:]
	case ReparseTagSymlink:
		if n < 12 {
			return rp, nil
		}
		rp.Relative = binary.LittleEndian.Uint32(rp.Data[8:])&1 != 0
		body = rp.Data[12:]
	default:
		return rp, nil
	}
	so, sl := int(binary.LittleEndian.Uint16(rp.Data[0:])), int(binary.LittleEndian.Uint16(rp.Data[2:]))
	po, pl := int(binary.LittleEndian.Uint16(rp.Data[4:])), int(binary.LittleEndian.Uint16(rp.Data[6:]))
	if so+sl <= len(body) && po+pl <= len(body) {
		rp.Substitute = utf16le.Decode(body[so : so+sl])
		rp.Print = utf16le.Decode(body[po : po+pl])
	}
	return rp, nil
}

// File attribute bits ($STANDARD_INFORMATION +32, $FILE_NAME +56).
const (
	FileAttrReadOnly     = 0x0001
	FileAttrHidden       = 0x0002
	FileAttrSystem       = 0x0004
	FileAttrDirectory    = 0x0010
	FileAttrArchive      = 0x0020
	FileAttrNormal       = 0x0080
	FileAttrTemporary    = 0x0100
	FileAttrSparse       = 0x0200
	FileAttrReparsePoint = 0x0400
	FileAttrCompressed   = 0x0800
	FileAttrOffline      = 0x1000
	FileAttrNotIndexed   = 0x2000
	FileAttrEncrypted    = 0x4000
	FileAttrDupDirectory = 0x10000000 // $FILE_NAME: has a $I30 index
	FileAttrDupView      = 0x20000000
)
