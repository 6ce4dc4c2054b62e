//go:build windows

package disk

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"

	"github.com/unbrick/unbrick/internal/virtdisk"
)

// deviceGeometry returns the size and logical sector size of a disk or
// volume opened as a file (IOCTL_DISK_GET_LENGTH_INFO; the sector size
// from StorageAccessAlignmentProperty or IOCTL_DISK_GET_DRIVE_GEOMETRY_EX).
func deviceGeometry(f *os.File) (size int64, sectorSize int, err error) {
	return queryGeometry(windows.Handle(f.Fd()))
}

// defaultBootPaths are the files whose disks are never targets: the
// running Windows (%SystemRoot%) and unbrick.exe itself (bootPathsFor).
func defaultBootPaths() []bootPath {
	root := os.Getenv("SystemRoot")
	if root == "" {
		root, _ = windows.GetSystemWindowsDirectory()
	}
	exe, _ := os.Executable()
	return bootPathsFor(root, exe, isWinPE())
}

// isWinPE reports whether this Windows is Windows PE, which Microsoft's
// WinPE documentation tells by the registry key
// HKLM\SYSTEM\CurrentControlSet\Control\MiniNT ("WinPE: Identify drive
// letters", "Windows PE (WinPE)").
func isWinPE() bool {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, `SYSTEM\CurrentControlSet\Control\MiniNT`, registry.QUERY_VALUE)
	if err != nil {
		return false
	}
	k.Close()
	return true
}

// openPlatformDevice opens \\.\PhysicalDriveN itself (ok true), refuses
// a volume device name with the disk to give instead, and leaves anything
// else (image files) to OpenTarget's ordinary path.
func openPlatformDevice(path string, writable bool) (*Target, bool, error) {
	if writable && virtdisk.IsVirtualDiskPath(path) {
		t, err := openVirtualDisk(path)
		return t, true, err
	}
	n, ok := parsePhysicalDrive(path)
	if !ok {
		if isWindowsVolumePath(path) {
			return nil, true, volumePathError(path)
		}
		return nil, false, nil
	}
	t, err := openPhysicalDrive(physicalDrivePath(n), n, writable)
	return t, true, err
}

// openVirtualDisk attaches a .vhd/.vhdx (Hyper-V) through the Windows
// virtual disk API, without a drive letter and offline for Windows, and
// opens the disk it becomes; closing the Target detaches it. The Target
// keeps the file's name, so records name the VM disk. Reading (scan) does
// not attach: a fixed VHD is read in place, other formats are refused
// with the reason (virtdisk attaches read-write only).
func openVirtualDisk(path string) (*Target, error) {
	vd, err := virtdisk.Attach(path)
	if err != nil {
		var ve *virtdisk.Error
		if errors.As(err, &ve) && (ve.Kind == virtdisk.KindVMRunning || ve.Kind == virtdisk.KindHasChildren || ve.Kind == virtdisk.KindAlreadyAttached) {
			return nil, &UnsupportedContainerError{Path: path, Format: "Hyper-V virtual disk", Unsafe: true, Reason: err.Error()}
		}
		return nil, fmt.Errorf("attach %s: %w", path, err)
	}
	n, ok := parsePhysicalDrive(vd.DevicePath())
	if !ok {
		vd.Detach()
		return nil, fmt.Errorf(`attach %s: Windows gave the device %q, not a \\.\PhysicalDriveN`, path, vd.DevicePath())
	}
	t, err := openPhysicalDrive(vd.DevicePath(), n, true)
	if err != nil {
		vd.Detach()
		return nil, fmt.Errorf("%s (attached as %s): %w", path, vd.DevicePath(), err)
	}
	inner := t.closer
	t.closer = closerFunc(func() error {
		err := inner.Close()
		if derr := vd.Detach(); derr != nil && err == nil {
			err = fmt.Errorf("detach %s: %w", path, derr)
		}
		return err
	})
	t.path = path
	return t, nil
}

// volumePathError says which disk to name instead of a volume.
func volumePathError(path string) error {
	hint := `\\.\PhysicalDriveN (unbrick scan without a TARGET lists the disks)`
	api := winVolumes{}
	vol := path
	if v, err := api.VolumeOf(path + `\`); err == nil {
		vol = v
	}
	if ext, err := api.Extents(vol); err == nil && len(ext) > 0 {
		hint = physicalDrivePath(ext[0].Disk)
	}
	return fmt.Errorf("target %s is a volume, not a disk: name its disk, %s", path, hint)
}

// openPhysicalDrive opens disk n for raw, unbuffered I/O through a
// sector-aligning wrapper, after making sure it is not the disk Windows
// or unbrick runs from.
func openPhysicalDrive(path string, n uint32, writable bool) (*Target, error) {
	sys, err := systemDisks(winVolumes{}, defaultBootPaths())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if why, ok := sys[n]; ok {
		return nil, fmt.Errorf("target %s is %s: unbrick never works on it; attach the broken disk to this machine and name that disk (unbrick scan without a TARGET lists them)", path, why)
	}
	access := uint32(windows.GENERIC_READ)
	flags := uint32(windows.FILE_FLAG_NO_BUFFERING)
	if writable {
		access |= windows.GENERIC_WRITE
		flags |= windows.FILE_FLAG_WRITE_THROUGH
	}
	h, err := openDevice(path, access, flags)
	if err != nil {
		switch {
		case errors.Is(err, windows.ERROR_FILE_NOT_FOUND), errors.Is(err, windows.ERROR_PATH_NOT_FOUND):
			return nil, fmt.Errorf("open target %s: %w (no such disk: unbrick scan without a TARGET, or Get-Disk in PowerShell, lists the disks)", path, err)
		case errors.Is(err, windows.ERROR_ACCESS_DENIED):
			return nil, fmt.Errorf("open target %s: %w (opening a disk needs an elevated prompt: run unbrick.exe as administrator)", path, err)
		case errors.Is(err, windows.ERROR_WRITE_PROTECT):
			return nil, fmt.Errorf("open %s for writing: %w (the disk is write-protected)", path, err)
		}
		return nil, fmt.Errorf("open target %s: %w", path, err)
	}
	size, ssz, err := queryGeometry(h)
	if err != nil {
		windows.CloseHandle(h)
		return nil, fmt.Errorf("target %s: %w", path, err)
	}
	f := os.NewFile(uintptr(h), path)
	var w io.WriterAt // stays a nil interface when read-only
	if writable {
		w = f
	}
	sio := newSectorIO(f, w, ssz, size)
	t := &Target{path: path, r: sio, closer: f, size: sio.size, sectorSize: ssz, device: true}
	if writable {
		t.w = sio
		t.lockDevice = func() (func(), error) { return lockPhysicalDrive(path, n, sio.size) }
	}
	return t, nil
}

// lockPhysicalDrive keeps other unbrick runs off disk n (an exclusive lock
// file, runLockFile) and takes every volume Windows mounted on it away
// from Windows (lockVolumeRange over the whole disk) until unlock.
func lockPhysicalDrive(path string, n uint32, size int64) (func(), error) {
	releaseRun, err := runLockFile(n)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	releaseVols, err := lockVolumeRange(winVolumes{}, winLocker{}, n, 0, size)
	if err != nil {
		releaseRun()
		if errors.Is(err, ErrBusy) {
			return nil, err
		}
		return nil, fmt.Errorf("prepare %s for writing: %w", path, err)
	}
	return func() {
		releaseVols() // best effort: Windows remounts a volume on its next use anyway
		releaseRun()
	}, nil
}

// runLockFile opens %ProgramData%\unbrick\locks\PhysicalDriveN.lock with
// no sharing and FILE_FLAG_DELETE_ON_CLOSE: a second run gets
// ERROR_SHARING_VIOLATION (ErrBusy), and the lock goes away with the
// process, like flock on Linux.
func runLockFile(n uint32) (func(), error) {
	base := os.Getenv("ProgramData")
	if base == "" {
		base = os.TempDir()
	}
	dir := filepath.Join(base, "unbrick", "locks")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create the lock folder %s: %w", dir, err)
	}
	name := filepath.Join(dir, fmt.Sprintf("PhysicalDrive%d.lock", n))
	p, err := windows.UTF16PtrFromString(name)
	if err != nil {
		return nil, err
	}
	h, err := windows.CreateFile(p, windows.GENERIC_READ|windows.GENERIC_WRITE, 0, nil, windows.OPEN_ALWAYS,
		windows.FILE_ATTRIBUTE_NORMAL|windows.FILE_FLAG_DELETE_ON_CLOSE, 0)
	if err != nil {
		if errors.Is(err, windows.ERROR_SHARING_VIOLATION) {
			return nil, fmt.Errorf("%w (it holds %s): wait for it to finish, then run again", ErrBusy, name)
		}
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	return func() { windows.CloseHandle(h) }, nil
}
