package virtdisk

import "strings"

// The virtdisk.h constants unbrick uses (Microsoft Learn pages named in
// doc.go).
const (
	storageTypeDeviceVHD  = 2 // VIRTUAL_STORAGE_TYPE_DEVICE_VHD
	storageTypeDeviceVHDX = 3 // VIRTUAL_STORAGE_TYPE_DEVICE_VHDX

	virtualDiskAccessNone = 0 // VIRTUAL_DISK_ACCESS_NONE: required with OPEN_VIRTUAL_DISK_VERSION_2
	openFlagNone          = 0 // OPEN_VIRTUAL_DISK_FLAG_NONE
	openVersion2          = 2 // OPEN_VIRTUAL_DISK_VERSION_2

	attachVersion1         = 1   // ATTACH_VIRTUAL_DISK_VERSION_1
	attachFlagReadOnly     = 0x1 // ATTACH_VIRTUAL_DISK_FLAG_READ_ONLY: never set by unbrick
	attachFlagNoDriveLet   = 0x2 // ATTACH_VIRTUAL_DISK_FLAG_NO_DRIVE_LETTER
	attachFlagPermanent    = 0x4 // ATTACH_VIRTUAL_DISK_FLAG_PERMANENT_LIFETIME: never set by unbrick
	detachFlagNone         = 0   // DETACH_VIRTUAL_DISK_FLAG_NONE
	attachFlags            = attachFlagNoDriveLet
	maxPhysicalPathUTF16   = 260 // MAX_PATH: \\.\PhysicalDriveN is far shorter; grown on ERROR_INSUFFICIENT_BUFFER
	diskAttributeOffline   = 0x1 // DISK_ATTRIBUTE_OFFLINE (ntdddisk.h)
	ioctlDiskSetAttributes = 0x0007C0F4
	ioctlDiskGetLengthInfo = 0x0007405C
	ioctlDiskGetGeometry   = 0x00070000
)

// ctlCode is the CTL_CODE macro of winioctl.h / devioctl.h:
// (DeviceType << 16) | (Access << 14) | (Function << 2) | Method.
func ctlCode(deviceType, function, method, access uint32) uint32 {
	return deviceType<<16 | access<<14 | function<<2 | method
}

// guid is a Windows GUID in memory: Data1, Data2, Data3 in the machine's
// (little-endian) order, Data4 as written.
type guid struct {
	Data1 uint32
	Data2 uint16
	Data3 uint16
	Data4 [8]byte
}

// vendorMicrosoft is VIRTUAL_STORAGE_TYPE_VENDOR_MICROSOFT,
// {EC984AEC-A0F9-47E9-901F-71415A66345B}.
var vendorMicrosoft = guid{0xEC984AEC, 0xA0F9, 0x47E9, [8]byte{0x90, 0x1F, 0x71, 0x41, 0x5A, 0x66, 0x34, 0x5B}}

// virtualStorageType is VIRTUAL_STORAGE_TYPE: 20 bytes, 4-aligned.
type virtualStorageType struct {
	DeviceID uint32 // ULONG DeviceId
	VendorID guid   // GUID VendorId
}

// openParameters is OPEN_VIRTUAL_DISK_PARAMETERS as filled for Version 2.
// The C union is as large as its largest member (Version3, 40 bytes), so
// the struct is 44 bytes; SnapshotID (Version3 only) stays zero.
type openParameters struct {
	Version        uint32 // OPEN_VIRTUAL_DISK_VERSION
	GetInfoOnly    int32  // BOOL Version2.GetInfoOnly
	ReadOnly       int32  // BOOL Version2.ReadOnly
	ResiliencyGUID guid   // GUID Version2.ResiliencyGuid
	SnapshotID     guid   // GUID Version3.SnapshotId (unused)
}

// attachParameters is ATTACH_VIRTUAL_DISK_PARAMETERS. Its union holds
// Version2's two ULONGLONGs, so the union starts at offset 8 and the
// struct is 24 bytes; Version1.Reserved is the union's first ULONG.
type attachParameters struct {
	Version uint32    // ATTACH_VIRTUAL_DISK_VERSION
	_       uint32    // padding before the 8-aligned union
	Union   [2]uint64 // Version1.Reserved (low 32 bits of Union[0], zero) or Version2.RestrictedOffset/Length
}

// setDiskAttributes is SET_DISK_ATTRIBUTES (ntdddisk.h): 40 bytes.
type setDiskAttributes struct {
	Version        uint32 // sizeof(SET_DISK_ATTRIBUTES)
	Persist        uint8  // BOOLEAN: false, so the offline state ends with the attachment
	Reserved1      [3]uint8
	Attributes     uint64
	AttributesMask uint64
	Reserved2      [4]uint32
}

// diskGeometry is DISK_GEOMETRY (winioctl.h): 24 bytes.
type diskGeometry struct {
	Cylinders         int64
	MediaType         uint32
	TracksPerCylinder uint32
	SectorsPerTrack   uint32
	BytesPerSector    uint32
}

// newOpenParameters is the OPEN_VIRTUAL_DISK_PARAMETERS unbrick passes:
// Version 2, read-write (ReadOnly false), not GetInfoOnly.
func newOpenParameters() openParameters {
	return openParameters{Version: openVersion2}
}

// newAttachParameters is the ATTACH_VIRTUAL_DISK_PARAMETERS unbrick
// passes: Version 1, Reserved zero.
func newAttachParameters() attachParameters {
	return attachParameters{Version: attachVersion1}
}

// storageTypeFor returns the VIRTUAL_STORAGE_TYPE for a file by its
// extension: .vhdx and .avhdx are VHDX, .vhd and .avhd VHD.
func storageTypeFor(path string) (virtualStorageType, bool) {
	switch ext := strings.ToLower(extOf(path)); ext {
	case ".vhdx", ".avhdx":
		return virtualStorageType{DeviceID: storageTypeDeviceVHDX, VendorID: vendorMicrosoft}, true
	case ".vhd", ".avhd":
		return virtualStorageType{DeviceID: storageTypeDeviceVHD, VendorID: vendorMicrosoft}, true
	}
	return virtualStorageType{}, false
}

// IsVirtualDiskPath reports whether path names a file Attach takes (by
// its extension: .vhdx, .avhdx, .vhd, .avhd, in any case). Callers use it
// to route a TARGET to Attach on Windows.
func IsVirtualDiskPath(path string) bool {
	_, ok := storageTypeFor(path)
	return ok
}

// extOf is the extension of the last element of a Windows or POSIX path.
func extOf(path string) string {
	base := path[strings.LastIndexAny(path, `\/`)+1:]
	if i := strings.LastIndexByte(base, '.'); i >= 0 {
		return base[i:]
	}
	return ""
}
