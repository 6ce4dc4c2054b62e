// Package disk opens a TARGET (a disk image, a volume image or a block
// device), finds the volumes on it and gives the rest of unbrick a
// byte-addressed view of one of them; on Linux it also discovers the disks
// of the host (Discover).
//
// API (usable now):
//
//	t, err := disk.OpenTarget(path, writable) // O_RDONLY unless writable
//	defer t.Close()
//	cands, err := t.Candidates()              // every volume, see below
//	c, err := t.Select(partition, disk.BitLocker) // --partition N (0 = not given)
//	sec := t.Section(c)                       // io.ReaderAt + io.WriterAt + Size()
//	if sec.Short() { warn(sec.ShortWarning()) } // reads zeros past EOF; writes refused
//	disks, skipped, err := disk.Discover(disk.DiscoverOptions{Exclude: []string{bootDev}})
//	d, err := disk.LookupDisk(disk.DiscoverOptions{}, "/dev/sda3") // model, serial, WWID
//
// Errors: ErrUnrecognized (nothing found), *SelectError (none / several /
// wrong kind; lists the candidates), ErrShortImage, ErrReadOnly,
// *UnsupportedContainerError (a VM disk format not opened here), ErrBusy
// (Target.Lock: another run holds the disk), *FormatError (damaged VHD or
// VHDX metadata: structure, byte offset, field).
//
// # Containers
//
// OpenTarget first looks at how an image file holds its disk
// (Target.Container), from its first and last 512 bytes:
//
//   - A fixed VHD (Microsoft, "Virtual Hard Disk Image Format
//     Specification" 1.0, 2006): the disk's bytes, then a 512-byte
//     big-endian footer: cookie "conectix" at 0, format version 0x00010000
//     at 12, current size at 48, disk type at 60 (2 fixed, 3 dynamic, 4
//     differencing), checksum at 64 (the one's complement of the sum of
//     every other footer byte). The Target is the bytes before the footer;
//     the checksum is checked, the size must match, the footer is never
//     written (vhd.go).
//   - A VMDK descriptor (VMware, "Virtual Disk Format 1.1"): a text file
//     starting "# Disk DescriptorFile", key="value" lines and extent lines
//     `ACCESS SECTORS TYPE "FILE" [OFFSET]` (sizes and offsets in 512-byte
//     sectors, FILE relative to the descriptor). RW FLAT or VMFS extents are
//     opened and laid end to end; the descriptor is never written; a
//     parentCID other than ffffffff (or a parentFileNameHint) is a delta
//     disk of a snapshot chain, opened through qemu-nbd like the formats
//     below (vmdk.go).
//   - Formats with their own block allocation, recognised by their magic:
//     qcow2 ("QFI\xfb"), VHDX ("vhdxfile"), dynamic VHD (a footer copy at
//     byte 0), sparse VMDK ("KDMV"; "COWD" for ESX; and VMDK descriptors
//     with SPARSE extents or a parent), QED ("QED\0") and VirtualBox VDI
//     (7F 10 DA BE at 0x40). They are served by qemu-nbd (package
//     internal/nbd starts it) and read and written over NBD; qemu follows
//     qcow2 and VMDK backing chains. Without qemu-nbd they are refused with
//     *UnsupportedContainerError, which names the package and the qemu-img
//     conversion. A streamOptimized VMDK (compressAlgorithm 1 at byte 77 of
//     its header) is opened read-only only (qemu-nbd.go).
//   - A VHDX (Microsoft, "[MS-VHDX]: Virtual Hard Disk v2 (VHDX) File
//     Format", Open Specifications; little-endian, GUIDs in Microsoft's
//     binary form) is read before qemu-nbd opens it, to find a
//     differencing VHDX (vhdx.go): the file type identifier "vhdxfile" at
//     0; two 4 KiB headers at 64 and 128 KiB (signature "head", CRC-32C of
//     the header with its checksum field at byte 4 zeroed, sequence number
//     at 8, version 1 at 66; the valid header with the higher sequence
//     number is current); the 64 KiB region table at 192 KiB, or its copy
//     at 256 KiB ("regi", CRC-32C at 4, entry count at 8, at most 2047
//     32-byte entries from byte 16: GUID, file offset, length), whose
//     metadata region (8B7CA206-4790-4B9A-B8FE-575F050F886E) starts with
//     the metadata table ("metadata", entry count at 10, 32-byte entries
//     from byte 32: item GUID, offset from the region's start, length at
//     most 1 MiB). Its File Parameters item (CAA16737-FA36-4D43-B3B6-
//     33F0AA44E76B: block size, flags; bit 1 HasParent) says whether the
//     file is a differencing VHDX, whose Parent Locator item
//     (A8D35F2D-B30B-454D-ABF7-D3D84834AB0C: a 20-byte header with the
//     locator type, B04AEFB7-D19E-4A81-B789-25B8E9445913 for a VHDX
//     parent, and the key/value count at 18; 12-byte entries of key and
//     value offsets and lengths within the item) holds UTF-16LE keys and
//     values: parent_linkage, relative_path, volume_path,
//     absolute_win32_path. The log is not replayed. Every offset and
//     length is checked against the file's size before it is read;
//     damage is a *FormatError.
//   - A differencing VHD (disk type 4) or VHDX (HasParent; a Hyper-V
//     checkpoint, NAME_GUID.avhdx) is refused with
//     *UnsupportedContainerError (Unsafe), read-only too, saying to merge
//     it into its parent first: qemu's VHDX driver does not open one, and
//     its VHD driver reads one without its parent (the parent's sectors
//     as zeros) and, writing, marks whole blocks as the child's. A
//     differencing VHD's parent is found through its dynamic disk header
//     (VHD specification, "Dynamic Disk Header Format": 1,024 big-endian
//     bytes where the footer's data offset, at byte 16, points; cookie
//     "cxsparse", checksum at 36 as the footer's, version 0x00010000 at
//     24, Parent Unicode Name at 64 (512 bytes, UTF-16 big-endian), eight
//     24-byte parent locator entries at 576: platform code, data space,
//     data length, reserved, data offset; "W2ru" is the parent's Windows
//     path relative to the child, "W2ku" its absolute path, both UTF-16,
//     read as little-endian, as Windows writes them, unless the first
//     unit reads as big-endian ASCII).
//   - A TARGET that is an NBD URI is opened with internal/nbd's client.
//
// Before an image file is opened writable, the files of its folder are
// looked at for overlays based on it (chain.go: qcow2 backing files, VMDK
// parentFileNameHint, differencing VHDX and VHD parent locators): the base
// of a snapshot chain is never written.
//
// Anything else is a raw disk or volume image.
//
// # What it reads
//
// Detection order (Target.Candidates):
//
//  1. A volume boot sector at byte 0. Bytes 3..10 of a volume boot sector
//     are its OEM/file-system signature: "-FVE-FS-" is BitLocker (Windows
//     Vista jumps EB 52 90, Windows 7 and later EB 58 90), "NTFS    " is
//     NTFS, "MSWIN4.1" with the BitLocker identifier GUID at 0x1A8 (or an
//     FVE metadata block where the offsets at 0x1B8 point) is a BitLocker
//     To Go discovery volume; "ReFS", "EXFAT   " and the LUKS magic
//     ("LUKS" BA BE at byte 0) are recognised too. Such a target is one
//     volume: Candidate.Partition 0. Its size is the larger of the image
//     size and what the volume declares (NTFS: total sectors at 0x28 plus
//     the backup boot sector; BitLocker: the encrypted volume size at byte
//     16 of the FVE metadata block header, whose offsets are at 0xB0, 0xB8,
//     0xC0), so an image cut short is reported as such.
//  2. A GUID partition table: protective MBR in LBA 0, header "EFI PART"
//     in LBA 1 (CRC32-protected, entry array LBA, count and size), 128-byte
//     entries (type GUID, unique GUID, first and last LBA, attributes,
//     UTF-16 name), backup header in the last LBA. Tried with 512- and
//     4096-byte logical sectors (a 4Kn disk keeps its header at byte 4096).
//     Parsed with github.com/diskfs/go-diskfs behind a size guard (gpt.go).
//  3. A master boot record: 55 AA at 510 and four 16-byte entries at 446
//     (status, CHS, type, first LBA, sector count). A volume boot sector
//     also ends in 55 AA, so the table is validated: status 0x00 or 0x80,
//     non-empty entries start after sector 0, inside the target, and do not
//     overlap. Extended partitions (0x05, 0x0F, 0x85) are followed through
//     their chain of EBRs; logical partitions are numbered from 5 as Linux
//     does. A lone 0xEE entry means a GPT disk whose GPT is unreadable.
//  4. A FAT boot sector at byte 0 without a partition table: Partition 0.
//
// Partitions are recognised by content (the same boot-sector signatures),
// not by type GUID alone; only the Windows dynamic disk (MBR type 0x42, GPT
// LDM metadata/data types) and Storage Spaces types are classified by type,
// because their partitions do not start with a volume. Those, BitLocker To
// Go, ReFS and LUKS come back as candidates whose Kind.Unsupported() is true
// and whose Note says so.
//
// Numbering follows Linux: GPT partitions by entry slot (1-based), MBR
// primaries 1-4 by slot, logical partitions from 5; Partition 0 is the
// whole target.
//
// # Windows
//
// The Windows edition (unbrick.exe) opens disks by their device names,
// \\.\PhysicalDriveN; the rest of the package is shared. Sources, all on
// Microsoft Learn (titles):
//
//   - Discovery (Discover, LookupDisk; discover_windows.go): every N from 0
//     to 63 is tried (no SetupAPI; gaps allowed), as "Naming Files, Paths,
//     and Namespaces" and "CreateFileA function (fileapi.h)" (section
//     Physical Disks and Volumes) describe the names. Vendor, model and
//     serial come from "IOCTL_STORAGE_QUERY_PROPERTY IOCTL (winioctl.h)"
//     with "STORAGE_PROPERTY_QUERY structure (winioctl.h)" (PropertyId 4
//     bytes, QueryType 4 bytes, AdditionalParameters; 12 bytes;
//     "STORAGE_PROPERTY_ID enumeration": StorageDeviceProperty 0,
//     StorageAccessAlignmentProperty 6; "STORAGE_QUERY_TYPE enumeration":
//     PropertyStandardQuery 0), answered by "STORAGE_DEVICE_DESCRIPTOR
//     structure (winioctl.h)": Version 0, Size 4, DeviceType 8,
//     DeviceTypeModifier 9, RemovableMedia 10, CommandQueueing 11,
//     VendorIdOffset 12, ProductIdOffset 16, ProductRevisionOffset 20,
//     SerialNumberOffset 24 (offsets from the structure's start to
//     NUL-terminated ASCII strings, 0 for none), BusType 28
//     ("STORAGE_BUS_TYPE enumeration"), RawPropertiesLength 32. Offsets
//     into the header or past the reply are ignored (winioctl.go).
//   - Size: "IOCTL_DISK_GET_LENGTH_INFO IOCTL (winioctl.h)" and
//     "GET_LENGTH_INFORMATION structure (winioctl.h)" (Length, 8 bytes).
//     Logical sector size: "STORAGE_ACCESS_ALIGNMENT_DESCRIPTOR structure
//     (winioctl.h)" (seven DWORDs: Version, Size, BytesPerCacheLine,
//     BytesOffsetForCacheAlignment, BytesPerLogicalSector at 16,
//     BytesPerPhysicalSector at 20, BytesOffsetForSectorAlignment), else
//     "IOCTL_DISK_GET_DRIVE_GEOMETRY_EX IOCTL (winioctl.h)" with
//     "DISK_GEOMETRY_EX structure (winioctl.h)" and "DISK_GEOMETRY
//     structure (winioctl.h)" (Cylinders 8, MediaType 4,
//     TracksPerCylinder 4, SectorsPerTrack 4, BytesPerSector at 20;
//     DiskSize at 24).
//   - I/O codes: the CTL_CODE layout of "Defining I/O Control Codes"
//     (device type bits 16-31, access 14-15, function 2-13, method 0-1);
//     the tests check the codes against the values the IOCTL pages
//     publish.
//   - Raw I/O (aligned.go): "File Buffering" (FILE_FLAG_NO_BUFFERING:
//     offsets, lengths and buffer addresses in multiples of the sector
//     size). Reads and writes that are not aligned go through an aligned
//     bounce buffer; a partial sector is read, changed and written back.
//   - Before writing (Target.Lock): "FindFirstVolumeW function
//     (fileapi.h)", "FindNextVolumeW function (fileapi.h)",
//     "IOCTL_VOLUME_GET_VOLUME_DISK_EXTENTS IOCTL (winioctl.h)" with
//     "VOLUME_DISK_EXTENTS structure (winioctl.h)" (NumberOfDiskExtents, 4
//     bytes padded to 8; then DISK_EXTENTs) and "DISK_EXTENT structure
//     (winioctl.h)" (DiskNumber 4 bytes padded to 8, StartingOffset 8,
//     ExtentLength 8: 24 bytes; a small buffer gives ERROR_MORE_DATA with
//     the count filled in) find the volumes lying on the disk; each is
//     locked and dismounted ("FSCTL_LOCK_VOLUME IOCTL (winioctl.h)",
//     "FSCTL_DISMOUNT_VOLUME IOCTL (winioctl.h)"; why: "Blocking Direct
//     Write Operations to Volumes and Disks") and given back with
//     "FSCTL_UNLOCK_VOLUME IOCTL (winioctl.h)". A refused lock is a
//     *VolumeInUseError naming the volume and its mount points
//     ("GetVolumePathNamesForVolumeNameW function (fileapi.h)"). Another
//     unbrick run is kept off through a lock file opened without sharing
//     (ErrBusy).
//   - Never a target: the disks of the volumes holding %SystemRoot% and
//     unbrick.exe ("GetVolumePathNameW function (fileapi.h)",
//     "GetVolumeNameForVolumeMountPointW function (fileapi.h)", then the
//     volume's extents). They are left out of Discover and refused by
//     OpenTarget.
//
// # Short images
//
// When the target ends before the end of a candidate (Candidate.Truncated,
// Section.Short), reads of the missing part return zeros, as dislocker-file
// does, and all writes through the Section are refused with ErrShortImage.
package disk
