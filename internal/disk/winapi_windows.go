//go:build windows

package disk

// The Windows system calls behind the interfaces of winvolumes.go. None of
// this runs in the tests (there are no real disks under wine or on Linux);
// the requests it sends and the replies it parses are in winioctl.go.

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/windows"
)

// ioctl sends one DeviceIoControl request and returns the reply bytes. A
// reply that does not fit returns what fitted and ERROR_MORE_DATA (or
// ERROR_INSUFFICIENT_BUFFER), wrapped.
func ioctl(h windows.Handle, code uint32, in []byte, outSize int) ([]byte, error) {
	out := make([]byte, outSize)
	var inp, outp *byte
	if len(in) > 0 {
		inp = &in[0]
	}
	if outSize > 0 {
		outp = &out[0]
	}
	var got uint32
	err := windows.DeviceIoControl(h, code, inp, uint32(len(in)), outp, uint32(outSize), &got, nil)
	if err != nil {
		return out[:got], fmt.Errorf("DeviceIoControl 0x%08X: %w", code, err)
	}
	return out[:got], nil
}

// openDevice opens a device path (\\.\PhysicalDriveN, \\?\Volume{GUID})
// sharing it for reading and writing, as every disk tool must: Windows
// itself keeps disks open.
func openDevice(path string, access, flags uint32) (windows.Handle, error) {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return windows.InvalidHandle, err
	}
	return windows.CreateFile(p, access, windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE, nil, windows.OPEN_EXISTING, flags, 0)
}

// queryDeviceDescriptor reads the STORAGE_DEVICE_DESCRIPTOR of a disk
// (IOCTL_STORAGE_QUERY_PROPERTY, StorageDeviceProperty), growing the
// buffer to the Size the driver reports.
func queryDeviceDescriptor(h windows.Handle) (storageDeviceDescriptor, error) {
	q := storagePropertyQuery(storageDeviceProperty, propertyStandardQuery)
	size := 1024
	for try := 0; try < 2; try++ {
		b, err := ioctl(h, ioctlStorageQueryProperty, q, size)
		if err != nil && len(b) < 8 {
			return storageDeviceDescriptor{}, fmt.Errorf("IOCTL_STORAGE_QUERY_PROPERTY (StorageDeviceProperty): %w", err)
		}
		if need := int(uint32(b[4]) | uint32(b[5])<<8 | uint32(b[6])<<16 | uint32(b[7])<<24); need > size && need <= 64<<10 {
			size = need
			continue
		}
		return parseStorageDeviceDescriptor(b)
	}
	return storageDeviceDescriptor{}, errors.New("IOCTL_STORAGE_QUERY_PROPERTY (StorageDeviceProperty): the descriptor kept growing")
}

// queryGeometry returns a disk's size (IOCTL_DISK_GET_LENGTH_INFO) and
// logical sector size (IOCTL_STORAGE_QUERY_PROPERTY with
// StorageAccessAlignmentProperty; drivers without it answer
// IOCTL_DISK_GET_DRIVE_GEOMETRY_EX, which also gives the size when
// IOCTL_DISK_GET_LENGTH_INFO fails).
func queryGeometry(h windows.Handle) (size int64, sectorSize int, err error) {
	b, lerr := ioctl(h, ioctlDiskGetLengthInfo, nil, 8)
	if lerr == nil {
		size, lerr = parseLengthInfo(b)
	}
	if b, err := ioctl(h, ioctlStorageQueryProperty, storagePropertyQuery(storageAccessAlignmentProperty, propertyStandardQuery), 28); err == nil {
		if l, _, perr := parseAccessAlignment(b); perr == nil {
			sectorSize = l
		}
	}
	if sectorSize == 0 || lerr != nil {
		b, gerr := ioctl(h, ioctlDiskGetDriveGeometryEx, nil, 256)
		if gerr == nil {
			var gsize int64
			var gss int
			if gsize, gss, gerr = parseDriveGeometryEx(b); gerr == nil {
				if sectorSize == 0 {
					sectorSize = gss
				}
				if lerr != nil {
					size, lerr = gsize, nil
				}
			}
		}
		if sectorSize == 0 {
			return 0, 0, fmt.Errorf("logical sector size: StorageAccessAlignmentProperty and IOCTL_DISK_GET_DRIVE_GEOMETRY_EX both failed: %w", gerr)
		}
	}
	if lerr != nil {
		return 0, 0, fmt.Errorf("disk size (IOCTL_DISK_GET_LENGTH_INFO): %w", lerr)
	}
	return size, sectorSize, nil
}

// winVolumes is volumeAPI on the running Windows.
type winVolumes struct{}

func (winVolumes) Volumes() ([]string, error) {
	buf := make([]uint16, windows.MAX_PATH+1)
	h, err := windows.FindFirstVolume(&buf[0], uint32(len(buf)))
	if err != nil {
		return nil, fmt.Errorf("FindFirstVolumeW: %w", err)
	}
	defer windows.FindVolumeClose(h)
	var out []string
	for {
		out = append(out, windows.UTF16ToString(buf))
		if err := windows.FindNextVolume(h, &buf[0], uint32(len(buf))); err != nil {
			if errors.Is(err, windows.ERROR_NO_MORE_FILES) {
				return out, nil
			}
			return out, fmt.Errorf("FindNextVolumeW: %w", err)
		}
	}
}

func (winVolumes) Extents(volume string) ([]diskExtent, error) {
	// The volume device is the GUID path without its trailing backslash
	// (with it, CreateFile opens the root folder).
	h, err := openDevice(strings.TrimSuffix(volume, `\`), 0, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", volume, err)
	}
	defer windows.CloseHandle(h)
	size := int(volumeDiskExtentsSize(4))
	for try := 0; try < 2; try++ {
		b, ierr := ioctl(h, ioctlVolumeGetVolumeDiskExtents, nil, size)
		if ierr != nil && !errors.Is(ierr, windows.ERROR_MORE_DATA) {
			return nil, fmt.Errorf("IOCTL_VOLUME_GET_VOLUME_DISK_EXTENTS on %s: %w", volume, ierr)
		}
		if errors.Is(ierr, windows.ERROR_MORE_DATA) && len(b) < 8 {
			b = b[:cap(b)] // the count is there even when the call says more data
		}
		ext, need, perr := parseVolumeDiskExtents(b)
		if errors.Is(perr, errMoreExtents) {
			size = need
			continue
		}
		if perr != nil {
			return nil, fmt.Errorf("%s: %w", volume, perr)
		}
		return ext, nil
	}
	return nil, fmt.Errorf("IOCTL_VOLUME_GET_VOLUME_DISK_EXTENTS on %s: the extent list kept growing", volume)
}

func (winVolumes) MountPoints(volume string) []string {
	p, err := windows.UTF16PtrFromString(volume)
	if err != nil {
		return nil
	}
	buf := make([]uint16, 256)
	for try := 0; try < 3; try++ {
		var need uint32
		err := windows.GetVolumePathNamesForVolumeName(p, &buf[0], uint32(len(buf)), &need)
		if err == nil {
			return parseMultiSZ(buf)
		}
		if !errors.Is(err, windows.ERROR_MORE_DATA) || need <= uint32(len(buf)) || need > 1<<16 {
			return nil
		}
		buf = make([]uint16, need)
	}
	return nil
}

func (winVolumes) VolumeOf(path string) (string, error) {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return "", err
	}
	mp := make([]uint16, windows.MAX_PATH+1)
	if err := windows.GetVolumePathName(p, &mp[0], uint32(len(mp))); err != nil {
		return "", fmt.Errorf("GetVolumePathNameW(%s): %w", path, err)
	}
	vol := make([]uint16, windows.MAX_PATH+1)
	if err := windows.GetVolumeNameForVolumeMountPoint(&mp[0], &vol[0], uint32(len(vol))); err != nil {
		return "", fmt.Errorf("GetVolumeNameForVolumeMountPointW(%s): %w", windows.UTF16ToString(mp), err)
	}
	return windows.UTF16ToString(vol), nil
}

// winLocker is volumeLocker on the running Windows.
type winLocker struct{}

func (winLocker) LockAndDismount(volume string) (func() error, error) {
	h, err := openDevice(strings.TrimSuffix(volume, `\`), windows.GENERIC_READ|windows.GENERIC_WRITE, 0)
	if err != nil {
		return nil, fmt.Errorf("open the volume: %w", err)
	}
	if _, err := ioctl(h, fsctlLockVolume, nil, 0); err != nil {
		windows.CloseHandle(h)
		return nil, fmt.Errorf("FSCTL_LOCK_VOLUME: %w (a file or folder on it is open)", err)
	}
	if _, err := ioctl(h, fsctlDismountVolume, nil, 0); err != nil {
		ioctl(h, fsctlUnlockVolume, nil, 0)
		windows.CloseHandle(h)
		return nil, fmt.Errorf("FSCTL_DISMOUNT_VOLUME: %w", err)
	}
	return func() error {
		_, uerr := ioctl(h, fsctlUnlockVolume, nil, 0)
		cerr := windows.CloseHandle(h)
		if uerr != nil || cerr != nil {
			return fmt.Errorf("give back %s: %w", volume, errors.Join(uerr, cerr))
		}
		return nil
	}, nil
}
