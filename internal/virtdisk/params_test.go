package virtdisk

import (
	"runtime"
	"testing"
	"unsafe"
)

// The C layouts below are worked out by hand from virtdisk.h and
// ntdddisk.h as Microsoft Learn documents them, for x64 (natural
// alignment, as MSVC lays structures out): unbrick.exe is built for
// windows/amd64 only. The Go structs must match them byte for byte.
func TestLayoutsMatchWindowsSDK(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skipf("the layouts are checked for amd64, the only Windows build; GOARCH is %s", runtime.GOARCH)
	}
	type field struct {
		name      string
		got, want uintptr
	}
	var vst virtualStorageType
	var op openParameters
	var ap attachParameters
	var sa setDiskAttributes
	var dg diskGeometry
	var g guid
	checks := []field{
		{"sizeof(GUID)", unsafe.Sizeof(g), 16},
		{"GUID.Data4", unsafe.Offsetof(g.Data4), 8},
		{"sizeof(VIRTUAL_STORAGE_TYPE)", unsafe.Sizeof(vst), 20},
		{"VIRTUAL_STORAGE_TYPE.VendorId", unsafe.Offsetof(vst.VendorID), 4},
		{"alignof(VIRTUAL_STORAGE_TYPE)", unsafe.Alignof(vst), 4},
		{"sizeof(OPEN_VIRTUAL_DISK_PARAMETERS)", unsafe.Sizeof(op), 44},
		{"OPEN_VIRTUAL_DISK_PARAMETERS.Version2.GetInfoOnly", unsafe.Offsetof(op.GetInfoOnly), 4},
		{"OPEN_VIRTUAL_DISK_PARAMETERS.Version2.ReadOnly", unsafe.Offsetof(op.ReadOnly), 8},
		{"OPEN_VIRTUAL_DISK_PARAMETERS.Version2.ResiliencyGuid", unsafe.Offsetof(op.ResiliencyGUID), 12},
		{"OPEN_VIRTUAL_DISK_PARAMETERS.Version3.SnapshotId", unsafe.Offsetof(op.SnapshotID), 28},
		{"sizeof(ATTACH_VIRTUAL_DISK_PARAMETERS)", unsafe.Sizeof(ap), 24},
		{"ATTACH_VIRTUAL_DISK_PARAMETERS union", unsafe.Offsetof(ap.Union), 8},
		{"alignof(ATTACH_VIRTUAL_DISK_PARAMETERS)", unsafe.Alignof(ap), 8},
		{"sizeof(SET_DISK_ATTRIBUTES)", unsafe.Sizeof(sa), 40},
		{"SET_DISK_ATTRIBUTES.Persist", unsafe.Offsetof(sa.Persist), 4},
		{"SET_DISK_ATTRIBUTES.Attributes", unsafe.Offsetof(sa.Attributes), 8},
		{"SET_DISK_ATTRIBUTES.AttributesMask", unsafe.Offsetof(sa.AttributesMask), 16},
		{"SET_DISK_ATTRIBUTES.Reserved2", unsafe.Offsetof(sa.Reserved2), 24},
		{"sizeof(DISK_GEOMETRY)", unsafe.Sizeof(dg), 24},
		{"DISK_GEOMETRY.BytesPerSector", unsafe.Offsetof(dg.BytesPerSector), 20},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d, the Windows SDK layout has %d", c.name, c.got, c.want)
		}
	}
}

// TestParameterValues checks what Attach passes: the documented values,
// and never a read-only or permanent attachment.
func TestParameterValues(t *testing.T) {
	op := newOpenParameters()
	if op.Version != 2 || op.ReadOnly != 0 || op.GetInfoOnly != 0 || op.ResiliencyGUID != (guid{}) {
		t.Errorf("open parameters %+v, want Version 2, read-write, no resiliency GUID", op)
	}
	ap := newAttachParameters()
	if ap.Version != 1 || ap.Union != [2]uint64{} {
		t.Errorf("attach parameters %+v, want Version 1, Reserved 0", ap)
	}
	if attachFlags&attachFlagNoDriveLet == 0 || attachFlags&(attachFlagReadOnly|attachFlagPermanent) != 0 {
		t.Errorf("attach flags %#x: want NO_DRIVE_LETTER, not READ_ONLY nor PERMANENT_LIFETIME", attachFlags)
	}
	// {EC984AEC-A0F9-47E9-901F-71415A66345B} as bytes in memory.
	want := [16]byte{0xEC, 0x4A, 0x98, 0xEC, 0xF9, 0xA0, 0xE9, 0x47, 0x90, 0x1F, 0x71, 0x41, 0x5A, 0x66, 0x34, 0x5B}
	if got := *(*[16]byte)(unsafe.Pointer(&vendorMicrosoft)); runtime.GOARCH == "amd64" && got != want {
		t.Errorf("vendor GUID bytes % x, want % x", got, want)
	}
	// The IOCTL codes, from the CTL_CODE macro: IOCTL_DISK_BASE is
	// FILE_DEVICE_DISK (7); METHOD_BUFFERED 0; FILE_READ_ACCESS 1,
	// FILE_WRITE_ACCESS 2.
	for _, c := range []struct {
		name      string
		got, want uint32
	}{
		{"IOCTL_DISK_SET_DISK_ATTRIBUTES", ioctlDiskSetAttributes, ctlCode(7, 0x3d, 0, 1|2)},
		{"IOCTL_DISK_GET_LENGTH_INFO", ioctlDiskGetLengthInfo, ctlCode(7, 0x17, 0, 1)},
		{"IOCTL_DISK_GET_DRIVE_GEOMETRY", ioctlDiskGetGeometry, ctlCode(7, 0, 0, 0)},
	} {
		if c.got != c.want {
			t.Errorf("%s = %#x, CTL_CODE gives %#x", c.name, c.got, c.want)
		}
	}
}

func TestStorageTypeFor(t *testing.T) {
	for path, want := range map[string]uint32{
		`D:\VMs\host1.vhdx`: storageTypeDeviceVHDX, `D:\VMs\host1_1A2B.AVHDX`: storageTypeDeviceVHDX,
		`C:\old\w7.VHD`: storageTypeDeviceVHD, "/vms/x.avhd": storageTypeDeviceVHD,
		`D:\VMs\disk.img`: 0, `D:\VMs.vhdx\disk`: 0, "": 0,
	} {
		st, ok := storageTypeFor(path)
		if ok != (want != 0) || st.DeviceID != want || (ok && st.VendorID != vendorMicrosoft) {
			t.Errorf("storageTypeFor(%q) = %+v, %v; want device %d", path, st, ok, want)
		}
		if IsVirtualDiskPath(path) != ok {
			t.Errorf("IsVirtualDiskPath(%q) disagrees with storageTypeFor", path)
		}
	}
}
