// Package virtdisk attaches a Hyper-V virtual disk file (.vhdx, .vhd) on
// Windows so that unbrick can fix it in place through the disk device
// Windows gives it, \\.\PhysicalDriveN, and detaches it afterwards. It
// owns:
//
//   - the calls into virtdisk.dll (Windows only, virtdisk_windows.go):
//     OpenVirtualDisk, AttachVirtualDisk, GetVirtualDiskPhysicalPath,
//     DetachVirtualDisk, with the parameter structures laid out as the
//     Windows SDK's virtdisk.h declares them (params.go; their sizes and
//     offsets are unit-tested on every GOOS);
//   - taking the attached disk offline (IOCTL_DISK_SET_DISK_ATTRIBUTES,
//     not persistent) so that Windows mounts none of its volumes while
//     unbrick writes to the raw device;
//   - the refusals before anything is attached: a disk whose VM is running
//     (the file is held open by the VM worker process, vmwp.exe) and a disk
//     that differencing disks (Hyper-V checkpoints, .avhdx) in its folder
//     name as their parent (children.go);
//   - the error type, Error, whose Kind tells a caller why and whose
//     message says what to do next.
//
// API:
//
//	d, err := virtdisk.Attach(`D:\VMs\host1.vhdx`) // *Error on refusal
//	defer d.Detach()                             // safe to call twice
//	dev := d.DevicePath()                        // `\\.\PhysicalDrive3`
//
// Attach works only on Windows (it returns an *Error of KindUnsupported
// elsewhere); Children and the classification of Windows error codes are
// pure Go and run everywhere.
//
// # Sources
//
// Microsoft Learn, Win32 API reference (virtdisk.h):
//   - "OpenVirtualDisk function": VirtualDiskAccessMask must be
//     VIRTUAL_DISK_ACCESS_NONE with OPEN_VIRTUAL_DISK_VERSION_2; the
//     function returns a Win32 error code, not via GetLastError.
//   - "OPEN_VIRTUAL_DISK_PARAMETERS structure" (Version2: GetInfoOnly,
//     ReadOnly, ResiliencyGuid; Version3 adds SnapshotId).
//   - "VIRTUAL_STORAGE_TYPE structure" and "About VHD": DeviceId
//     VIRTUAL_STORAGE_TYPE_DEVICE_VHD (2) / _VHDX (3), VendorId
//     VIRTUAL_STORAGE_TYPE_VENDOR_MICROSOFT
//     {EC984AEC-A0F9-47E9-901F-71415A66345B}.
//   - "AttachVirtualDisk function", "ATTACH_VIRTUAL_DISK_FLAG
//     enumeration" (NO_DRIVE_LETTER = 2; without PERMANENT_LIFETIME the
//     disk is detached when the last handle to it is closed, so a killed
//     unbrick.exe does not leave it attached), "ATTACH_VIRTUAL_DISK_PARAMETERS
//     structure".
//   - "GetVirtualDiskPhysicalPath function", "DetachVirtualDisk function".
//
// Microsoft Learn, Windows drivers (ntdddisk.h): "IOCTL_DISK_SET_DISK_ATTRIBUTES
// IOCTL", "SET_DISK_ATTRIBUTES structure" (DISK_ATTRIBUTE_OFFLINE = 1),
// "IOCTL_DISK_GET_LENGTH_INFO IOCTL", "IOCTL_DISK_GET_DRIVE_GEOMETRY IOCTL".
//
// Microsoft Learn, "System Error Codes (0-499)": ERROR_SHARING_VIOLATION
// (32), ERROR_LOCK_VIOLATION (33); "Virtual disk error codes" in winerror.h
// (ERROR_VIRTDISK_*, 0xC03A00xx).
//
// Microsoft Open Specifications, "[MS-VHDX]: Virtual Hard Disk v2 (VHDX)
// File Format": section 2.2 (headers, region table), 2.6 (metadata
// region), 2.6.2.2 (File Parameters: HasParent) and 2.6.2.6 (Parent
// Locator, keys parent_linkage, relative_path, volume_path,
// absolute_win32_path). "Virtual Hard Disk Image Format Specification"
// (VHD, version 1.0) for the .vhd footer's disk type.
package virtdisk
