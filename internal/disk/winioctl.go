package disk

// Request building and reply parsing for the Windows device I/O controls
// the Windows edition uses (the layouts and Microsoft Learn sources are in
// doc.go, "Windows"). Nothing here calls Windows: the structures are plain
// bytes, so they are tested on every platform.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
)

// ctlCode is the CTL_CODE macro of the Windows SDK (devioctl.h): device
// type in bits 16-31, required access in bits 14-15, function in bits 2-13,
// transfer method in bits 0-1.
func ctlCode(deviceType, function, method, access uint32) uint32 {
	return deviceType<<16 | access<<14 | function<<2 | method
}

// CTL_CODE arguments (devioctl.h, winioctl.h).
const (
	fileDeviceDisk       = 0x00000007 // FILE_DEVICE_DISK, IOCTL_DISK_BASE
	fileDeviceFileSystem = 0x00000009 // FILE_DEVICE_FILE_SYSTEM
	fileDeviceMassStore  = 0x0000002d // FILE_DEVICE_MASS_STORAGE, IOCTL_STORAGE_BASE
	ioctlVolumeBase      = 0x00000056 // 'V', IOCTL_VOLUME_BASE

	methodBuffered = 0
	fileAnyAccess  = 0
	fileReadAccess = 1
)

// The I/O control codes, computed as winioctl.h defines them; the tests
// check them against the numbers Microsoft publishes.
var (
	ioctlStorageQueryProperty       = ctlCode(fileDeviceMassStore, 0x0500, methodBuffered, fileAnyAccess) // 0x002D1400
	ioctlDiskGetLengthInfo          = ctlCode(fileDeviceDisk, 0x0017, methodBuffered, fileReadAccess)     // 0x0007405C
	ioctlDiskGetDriveGeometryEx     = ctlCode(fileDeviceDisk, 0x0028, methodBuffered, fileAnyAccess)      // 0x000700A0
	ioctlVolumeGetVolumeDiskExtents = ctlCode(ioctlVolumeBase, 0, methodBuffered, fileAnyAccess)          // 0x00560000
	fsctlLockVolume                 = ctlCode(fileDeviceFileSystem, 6, methodBuffered, fileAnyAccess)     // 0x00090018
	fsctlUnlockVolume               = ctlCode(fileDeviceFileSystem, 7, methodBuffered, fileAnyAccess)     // 0x0009001C
	fsctlDismountVolume             = ctlCode(fileDeviceFileSystem, 8, methodBuffered, fileAnyAccess)     // 0x00090020
)

// STORAGE_PROPERTY_ID and STORAGE_QUERY_TYPE values used here.
const (
	storageDeviceProperty          = 0 // StorageDeviceProperty
	storageAccessAlignmentProperty = 6 // StorageAccessAlignmentProperty
	propertyStandardQuery          = 0 // PropertyStandardQuery
)

// storagePropertyQuery encodes a STORAGE_PROPERTY_QUERY: PropertyId (4
// bytes), QueryType (4 bytes), AdditionalParameters[1] padded to 12 bytes,
// the structure's size in the SDK.
func storagePropertyQuery(propertyID, queryType uint32) []byte {
	b := make([]byte, 12)
	binary.LittleEndian.PutUint32(b[0:], propertyID)
	binary.LittleEndian.PutUint32(b[4:], queryType)
	return b
}

// storageDeviceDescriptor is what unbrick reads from a
// STORAGE_DEVICE_DESCRIPTOR.
type storageDeviceDescriptor struct {
	DeviceType byte   // SCSI peripheral device type
	Removable  bool   // RemovableMedia
	BusType    uint32 // STORAGE_BUS_TYPE
	Vendor     string // at VendorIdOffset
	Product    string // at ProductIdOffset
	Revision   string // at ProductRevisionOffset
	Serial     string // at SerialNumberOffset
}

// storageDeviceDescriptorHeader is the size of the fixed part of a
// STORAGE_DEVICE_DESCRIPTOR up to RawPropertiesLength (the strings the
// offsets point at come after it).
const storageDeviceDescriptorHeader = 36

// errShortReply is wrapped by the parsers when a reply is shorter than the
// structure it must hold.
var errShortReply = errors.New("reply shorter than its structure")

// parseStorageDeviceDescriptor reads a STORAGE_DEVICE_DESCRIPTOR: Version
// at 0, Size at 4, DeviceType at 8, RemovableMedia at 10, the vendor,
// product, revision and serial-number string offsets at 12, 16, 20, 24
// (0: no such string), BusType at 28. The strings are NUL-terminated ASCII
// inside the structure; an offset into the fixed header or past the end of
// the reply (or of the Size the driver declares) is ignored, so a hostile
// or truncated reply gives empty strings, never a panic.
func parseStorageDeviceDescriptor(b []byte) (storageDeviceDescriptor, error) {
	var d storageDeviceDescriptor
	if len(b) < storageDeviceDescriptorHeader {
		return d, fmt.Errorf("STORAGE_DEVICE_DESCRIPTOR: %d bytes: %w", len(b), errShortReply)
	}
	le := binary.LittleEndian
	limit := len(b)
	if size := le.Uint32(b[4:]); size >= storageDeviceDescriptorHeader && uint64(size) < uint64(limit) {
		limit = int(size)
	}
	b = b[:limit]
	d.DeviceType = b[8] & 0x1f
	d.Removable = b[10] != 0
	d.BusType = le.Uint32(b[28:])
	str := func(at int) string {
		off := uint64(le.Uint32(b[at:]))
		if off < storageDeviceDescriptorHeader || off >= uint64(len(b)) {
			return ""
		}
		s := b[off:]
		for i, c := range s {
			if c == 0 {
				s = s[:i]
				break
			}
		}
		return printableASCII(s)
	}
	d.Vendor = str(12)
	d.Product = str(16)
	d.Revision = str(20)
	d.Serial = str(24)
	return d, nil
}

// printableASCII keeps the printable ASCII bytes of s, trimmed: the
// descriptor's strings are ASCII, padded with spaces; anything else is a
// driver's garbage.
func printableASCII(s []byte) string {
	out := make([]byte, 0, len(s))
	for _, c := range s {
		if c >= 0x20 && c < 0x7f {
			out = append(out, c)
		}
	}
	return strings.TrimSpace(string(out))
}

// parseAccessAlignment reads BytesPerLogicalSector (offset 16) from a
// STORAGE_ACCESS_ALIGNMENT_DESCRIPTOR (Version, Size, BytesPerCacheLine,
// BytesOffsetForCacheAlignment, BytesPerLogicalSector,
// BytesPerPhysicalSector, BytesOffsetForSectorAlignment: seven DWORDs).
func parseAccessAlignment(b []byte) (logical, physical int, err error) {
	if len(b) < 28 {
		return 0, 0, fmt.Errorf("STORAGE_ACCESS_ALIGNMENT_DESCRIPTOR: %d bytes: %w", len(b), errShortReply)
	}
	l := binary.LittleEndian.Uint32(b[16:])
	p := binary.LittleEndian.Uint32(b[20:])
	if !validSectorSize(l) {
		return 0, 0, fmt.Errorf("STORAGE_ACCESS_ALIGNMENT_DESCRIPTOR: logical sector size %d is not a power of two from 512 to 65536", l)
	}
	if !validSectorSize(p) {
		p = l
	}
	return int(l), int(p), nil
}

// parseDriveGeometryEx reads a DISK_GEOMETRY_EX: DISK_GEOMETRY (Cylinders
// 8 bytes, MediaType 4, TracksPerCylinder 4, SectorsPerTrack 4,
// BytesPerSector 4 at offset 20), then DiskSize (8 bytes at 24).
func parseDriveGeometryEx(b []byte) (size int64, sectorSize int, err error) {
	if len(b) < 32 {
		return 0, 0, fmt.Errorf("DISK_GEOMETRY_EX: %d bytes: %w", len(b), errShortReply)
	}
	ss := binary.LittleEndian.Uint32(b[20:])
	size = int64(binary.LittleEndian.Uint64(b[24:]))
	if !validSectorSize(ss) {
		return 0, 0, fmt.Errorf("DISK_GEOMETRY_EX: sector size %d is not a power of two from 512 to 65536", ss)
	}
	if size < 0 {
		return 0, 0, fmt.Errorf("DISK_GEOMETRY_EX: negative disk size %d", size)
	}
	return size, int(ss), nil
}

// parseLengthInfo reads a GET_LENGTH_INFORMATION: Length, 8 bytes.
func parseLengthInfo(b []byte) (int64, error) {
	if len(b) < 8 {
		return 0, fmt.Errorf("GET_LENGTH_INFORMATION: %d bytes: %w", len(b), errShortReply)
	}
	n := int64(binary.LittleEndian.Uint64(b))
	if n < 0 {
		return 0, fmt.Errorf("GET_LENGTH_INFORMATION: negative length %d", n)
	}
	return n, nil
}

func validSectorSize(n uint32) bool {
	return n >= 512 && n <= 65536 && n&(n-1) == 0
}

// diskExtent is one DISK_EXTENT of a volume: a byte range of a disk.
type diskExtent struct {
	Disk   uint32 // DiskNumber: N of \\.\PhysicalDriveN
	Start  int64  // StartingOffset, bytes
	Length int64  // ExtentLength, bytes
}

// volumeDiskExtentsSize is the size of a VOLUME_DISK_EXTENTS holding n
// extents: NumberOfDiskExtents (4 bytes, padded to 8), then n 24-byte
// DISK_EXTENTs.
func volumeDiskExtentsSize(n uint32) int64 { return 8 + 24*int64(n) }

// errMoreExtents is returned (wrapped) by parseVolumeDiskExtents when the
// reply announces more extents than it holds; the caller retries with a
// buffer of the size returned.
var errMoreExtents = errors.New("VOLUME_DISK_EXTENTS holds more extents than the buffer")

// maxVolumeExtents bounds the buffer a reply can ask for (a spanned
// dynamic volume has at most a few dozen extents).
const maxVolumeExtents = 4096

// parseVolumeDiskExtents reads a VOLUME_DISK_EXTENTS: NumberOfDiskExtents
// at 0, DISK_EXTENT array at 8, each DiskNumber (4 bytes, padded to 8),
// StartingOffset (8), ExtentLength (8). When the count does not fit in b it
// returns the size needed and an error wrapping errMoreExtents.
func parseVolumeDiskExtents(b []byte) (ext []diskExtent, need int, err error) {
	if len(b) < 8 {
		return nil, 0, fmt.Errorf("VOLUME_DISK_EXTENTS: %d bytes: %w", len(b), errShortReply)
	}
	le := binary.LittleEndian
	n := le.Uint32(b)
	if n > maxVolumeExtents {
		return nil, 0, fmt.Errorf("VOLUME_DISK_EXTENTS: %d extents, more than the %d unbrick accepts", n, maxVolumeExtents)
	}
	if sz := volumeDiskExtentsSize(n); sz > int64(len(b)) {
		return nil, int(sz), fmt.Errorf("%w: %d extents need %d bytes, got %d", errMoreExtents, n, sz, len(b))
	}
	for i := 0; i < int(n); i++ {
		e := b[8+24*i:]
		x := diskExtent{Disk: le.Uint32(e), Start: int64(le.Uint64(e[8:])), Length: int64(le.Uint64(e[16:]))}
		if x.Start < 0 || x.Length < 0 {
			return nil, 0, fmt.Errorf("VOLUME_DISK_EXTENTS: extent %d has a negative offset or length", i)
		}
		ext = append(ext, x)
	}
	return ext, 0, nil
}

// parseMultiSZ splits a REG_MULTI_SZ-style UTF-16 list (strings ended by
// NUL, the list by an empty string), as GetVolumePathNamesForVolumeNameW
// returns the mount points of a volume.
func parseMultiSZ(u []uint16) []string {
	var out []string
	start := 0
	for i, c := range u {
		if c != 0 {
			continue
		}
		if i == start {
			break
		}
		out = append(out, string(utf16.Decode(u[start:i])))
		start = i + 1
	}
	return out
}
