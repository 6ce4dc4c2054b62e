package disk

import (
	"encoding/binary"
	"fmt"
)

// The VHD footer (Microsoft, "Virtual Hard Disk Image Format
// Specification", version 1.0, 2006, section "Hard Disk Footer Format"):
// 512 bytes, big-endian, at the end of every VHD (and, for dynamic and
// differencing disks, copied at the start).
const (
	vhdFooterSize = 512
	vhdCookie     = "conectix" // offset 0, 8 bytes

	vhdOffFormatVersion = 12 // uint32, 0x00010000
	vhdOffCurrentSize   = 48 // uint64, the disk's size in bytes
	vhdOffDiskType      = 60 // uint32, see vhdType*
	vhdOffChecksum      = 64 // uint32, one's complement of the sum of every other footer byte

	vhdTypeFixed        = 2
	vhdTypeDynamic      = 3
	vhdTypeDifferencing = 4
)

// vhdFooter is the part of a VHD footer unbrick uses.
type vhdFooter struct {
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
	var sum uint32
	for i, c := range b {
		if i >= vhdOffChecksum && i < vhdOffChecksum+4 {
			continue
		}
		sum += uint32(c)
	}
	if got, want := binary.BigEndian.Uint32(b[vhdOffChecksum:]), ^sum; got != want {
		return nil, fmt.Errorf("VHD footer: checksum at offset %d is %#08x, the footer's bytes give %#08x", vhdOffChecksum, got, want)
	}
	if v := binary.BigEndian.Uint32(b[vhdOffFormatVersion:]); v != 0x00010000 {
		return nil, fmt.Errorf("VHD footer: file format version at offset %d is %#08x, want 0x00010000", vhdOffFormatVersion, v)
	}
	return &vhdFooter{
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
		return "differencing VHD (a snapshot over a parent disk)"
	}
	return fmt.Sprintf("VHD of unknown disk type %d", f.DiskType)
}
