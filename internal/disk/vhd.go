package disk

import (
	"encoding/binary"
	"fmt"
	"io"
)

// The VHD footer (Microsoft, "Virtual Hard Disk Image Format
// Specification", version 1.0, 2006, section "Hard Disk Footer Format"):
// 512 bytes, big-endian, at the end of every VHD (and, for dynamic and
// differencing disks, copied at the start).
const (
	vhdFooterSize = 512
	vhdCookie     = "conectix" // offset 0, 8 bytes

	vhdOffFormatVersion = 12 // uint32, 0x00010000
	vhdOffDataOffset    = 16 // uint64, the dynamic disk header's offset (dynamic and differencing disks)
	vhdOffCurrentSize   = 48 // uint64, the disk's size in bytes
	vhdOffDiskType      = 60 // uint32, see vhdType*
	vhdOffChecksum      = 64 // uint32, one's complement of the sum of every other footer byte

	vhdTypeFixed        = 2
	vhdTypeDynamic      = 3
	vhdTypeDifferencing = 4
)

// vhdFooter is the part of a VHD footer unbrick uses.
type vhdFooter struct {
	DataOffset  uint64
	CurrentSize uint64
	DiskType    uint32
}

// parseVHDFooter decodes and checks a 512-byte VHD footer: cookie, format
// version 1.0, checksum.
func parseVHDFooter(b []byte) (*vhdFooter, error) {
	if len(b) < vhdFooterSize || string(b[:8]) != vhdCookie {
		return nil, fmt.Errorf("VHD footer: no %q cookie", vhdCookie)
	}
	b = b[:vhdFooterSize]
	if got, want := binary.BigEndian.Uint32(b[vhdOffChecksum:]), vhdChecksum(b, vhdOffChecksum); got != want {
		return nil, fmt.Errorf("VHD footer: checksum at offset %d is %#08x, the footer's bytes give %#08x", vhdOffChecksum, got, want)
	}
	if v := binary.BigEndian.Uint32(b[vhdOffFormatVersion:]); v != 0x00010000 {
		return nil, fmt.Errorf("VHD footer: file format version at offset %d is %#08x, want 0x00010000", vhdOffFormatVersion, v)
	}
	return &vhdFooter{
		DataOffset:  binary.BigEndian.Uint64(b[vhdOffDataOffset:]),
		CurrentSize: binary.BigEndian.Uint64(b[vhdOffCurrentSize:]),
		DiskType:    binary.BigEndian.Uint32(b[vhdOffDiskType:]),
	}, nil
}

// typeName names the VHD's disk type for messages.
func (f *vhdFooter) typeName() string {
	switch f.DiskType {
	case vhdTypeFixed:
		return "fixed VHD"
	case vhdTypeDynamic:
		return "dynamic VHD"
	case vhdTypeDifferencing:
		return differencingVHDFormat
	}
	return fmt.Sprintf("VHD of unknown disk type %d", f.DiskType)
}

// The dynamic disk header (same specification, "Dynamic Disk Header
// Format"): 1,024 bytes, big-endian, where the footer's Data Offset points
// (dynamic and differencing disks only).
const (
	vhdDynHeaderSize    = 1024
	vhdDynCookie        = "cxsparse" // offset 0
	vhdDynOffTable      = 16         // Table Offset, uint64: the block allocation table
	vhdDynOffVersion    = 24         // Header Version, uint32, 0x00010000
	vhdDynOffBlockSize  = 32         // Block Size, uint32
	vhdDynOffChecksum   = 36         // one's complement of the sum of every other header byte
	vhdDynOffParentName = 64         // Parent Unicode Name: 512 bytes of UTF-16 (big-endian), NUL-padded
	vhdDynParentNameLen = 512
	vhdDynOffLocators   = 576 // 8 Parent Locator Entries of 24 bytes
	vhdLocatorEntries   = 8
	vhdLocatorSize      = 24 // Platform Code uint32, Platform Data Space uint32, Platform Data Length uint32, reserved uint32, Platform Data Offset uint64

	// Platform codes of the locators unbrick reads: Windows paths in
	// UTF-16, relative to the differencing disk's folder ("W2ru") or
	// absolute ("W2ku").
	vhdPlatformW2ru = 0x57327275
	vhdPlatformW2ku = 0x57326B75

	vhdMaxLocatorData = 64 << 10 // a Windows path is at most 32,767 UTF-16 units
)

// vhdDynHeader is the part of a dynamic disk header unbrick uses.
type vhdDynHeader struct {
	TableOffset uint64
	BlockSize   uint32
	ParentName  string       // Parent Unicode Name
	Locators    []vhdLocator // the entries whose platform code is not zero
}

// vhdLocator is one parent locator entry.
type vhdLocator struct {
	Code   uint32
	Length uint32
	Offset uint64
}

// parseVHDDynHeader decodes and checks a dynamic disk header read at file
// offset off: cookie, checksum, version.
func parseVHDDynHeader(b []byte, off int64) (*vhdDynHeader, error) {
	ferr := func(field, format string, a ...any) error {
		return &FormatError{Format: "VHD", Structure: "dynamic disk header", Offset: off, Field: field, Msg: fmt.Sprintf(format, a...)}
	}
	if len(b) < vhdDynHeaderSize {
		return nil, ferr("", "%d bytes, want %d", len(b), vhdDynHeaderSize)
	}
	b = b[:vhdDynHeaderSize]
	if string(b[:8]) != vhdDynCookie {
		return nil, ferr("Cookie", "%q, want %q", b[:8], vhdDynCookie)
	}
	if got, want := binary.BigEndian.Uint32(b[vhdDynOffChecksum:]), vhdChecksum(b, vhdDynOffChecksum); got != want {
		return nil, ferr("Checksum", "%#08x, the header's bytes give %#08x", got, want)
	}
	if v := binary.BigEndian.Uint32(b[vhdDynOffVersion:]); v != 0x00010000 {
		return nil, ferr("Header Version", "%#08x, want 0x00010000", v)
	}
	h := &vhdDynHeader{
		TableOffset: binary.BigEndian.Uint64(b[vhdDynOffTable:]),
		BlockSize:   binary.BigEndian.Uint32(b[vhdDynOffBlockSize:]),
		ParentName:  decodeUTF16(b[vhdDynOffParentName:][:vhdDynParentNameLen], binary.BigEndian),
	}
	for i := range vhdLocatorEntries {
		e := b[vhdDynOffLocators+i*vhdLocatorSize:][:vhdLocatorSize]
		if code := binary.BigEndian.Uint32(e); code != 0 {
			h.Locators = append(h.Locators, vhdLocator{Code: code, Length: binary.BigEndian.Uint32(e[8:]), Offset: binary.BigEndian.Uint64(e[16:])})
		}
	}
	return h, nil
}

// vhdChecksum is the one's complement of the sum of the bytes of b, the
// 4 bytes at field left out.
func vhdChecksum(b []byte, field int) uint32 {
	var sum uint32
	for i, c := range b {
		if i < field || i >= field+4 {
			sum += uint32(c)
		}
	}
	return ^sum
}

// vhdParent is where a differencing VHD says its parent is.
type vhdParent struct {
	Relative string // W2ru locator: a Windows path relative to the child's folder
	Absolute string // W2ku locator: an absolute Windows path
	Name     string // Parent Unicode Name
}

// readVHDParent reads the dynamic disk header of a VHD of the given size
// whose footer (copy at byte 0) is f, and the W2ru and W2ku parent
// locators it points to.
func readVHDParent(r io.ReaderAt, size int64, f *vhdFooter) (*vhdParent, error) {
	if f.DataOffset > uint64(size) {
		return nil, &FormatError{Format: "VHD", Structure: "footer", Offset: 0, Field: "Data Offset",
			Msg: fmt.Sprintf("%d, past the end of the file (%d bytes)", f.DataOffset, size)}
	}
	off := int64(f.DataOffset)
	b, err := readSpan(r, size, off, vhdDynHeaderSize, "VHD", "dynamic disk header")
	if err != nil {
		return nil, err
	}
	h, err := parseVHDDynHeader(b, off)
	if err != nil {
		return nil, err
	}
	p := &vhdParent{Name: h.ParentName}
	for i, l := range h.Locators {
		if l.Code != vhdPlatformW2ru && l.Code != vhdPlatformW2ku {
			continue
		}
		at := off + int64(vhdDynOffLocators+i*vhdLocatorSize)
		name := fmt.Sprintf("parent locator entry %d", i)
		switch {
		case l.Length == 0 || l.Length > vhdMaxLocatorData:
			return nil, &FormatError{Format: "VHD", Structure: name, Offset: at, Field: "Platform Data Length",
				Msg: fmt.Sprintf("%d bytes, want 1 to %d", l.Length, vhdMaxLocatorData)}
		case l.Offset > uint64(size):
			return nil, &FormatError{Format: "VHD", Structure: name, Offset: at, Field: "Platform Data Offset",
				Msg: fmt.Sprintf("%d, past the end of the file (%d bytes)", l.Offset, size)}
		}
		d, err := readSpan(r, size, int64(l.Offset), int(l.Length), "VHD", name+" data")
		if err != nil {
			return nil, err
		}
		// Windows writes these paths little-endian; take a big-endian
		// one (its first unit's high byte zero, low byte not) as such.
		var bo binary.ByteOrder = binary.LittleEndian
		if len(d) >= 2 && d[0] == 0 && d[1] != 0 {
			bo = binary.BigEndian
		}
		if l.Code == vhdPlatformW2ru {
			p.Relative = decodeUTF16(d, bo)
		} else {
			p.Absolute = decodeUTF16(d, bo)
		}
	}
	return p, nil
}
