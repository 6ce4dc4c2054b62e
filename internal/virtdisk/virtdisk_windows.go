//go:build windows

package virtdisk

import (
	"errors"
	"fmt"
	"path/filepath"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

// virtdisk.dll, loaded from System32 only (never from the current
// folder), when first used.
var (
	modVirtdisk                    = windows.NewLazySystemDLL("virtdisk.dll")
	procOpenVirtualDisk            = modVirtdisk.NewProc("OpenVirtualDisk")
	procAttachVirtualDisk          = modVirtdisk.NewProc("AttachVirtualDisk")
	procGetVirtualDiskPhysicalPath = modVirtdisk.NewProc("GetVirtualDiskPhysicalPath")
	procDetachVirtualDisk          = modVirtdisk.NewProc("DetachVirtualDisk")
)

// Attach attaches the .vhdx or .vhd file at path read-write, without a
// drive letter, takes the disk offline so that Windows mounts none of
// its volumes, and returns it; open DevicePath to fix it, then Detach
// (also on errors and on Ctrl-C; if the process dies, Windows detaches
// the disk when its handle closes, as the attachment is not permanent).
//
// It refuses, with an *Error, a file whose VM is running (KindVMRunning)
// and a file that differencing disks in its folder name as their parent
// (KindHasChildren). Attaching needs an elevated Administrator.
func Attach(path string) (*Disk, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, &Error{Kind: KindFailed, Op: "attach", Path: path, Err: err}
	}
	st, ok := storageTypeFor(abs)
	if !ok {
		return nil, &Error{Kind: KindNotVirtualDisk, Op: "attach", Path: abs,
			Err: errors.New("the file name does not end in .vhdx, .avhdx, .vhd or .avhd")}
	}
	if err := procOpenVirtualDisk.Find(); err != nil {
		return nil, &Error{Kind: KindUnsupported, Op: "attach", Path: abs, Err: err}
	}
	children, err := Children(abs)
	if err != nil {
		return nil, &Error{Kind: KindFailed, Op: "check", Path: abs, Err: err}
	}
	if len(children) > 0 {
		return nil, &Error{Kind: KindHasChildren, Op: "check", Path: abs, Children: children}
	}
	p16, err := windows.UTF16PtrFromString(abs)
	if err != nil {
		return nil, &Error{Kind: KindFailed, Op: "open", Path: abs, Err: err}
	}
	params := newOpenParameters()
	var h windows.Handle
	r, _, _ := procOpenVirtualDisk.Call(
		uintptr(unsafe.Pointer(&st)),
		uintptr(unsafe.Pointer(p16)),
		virtualDiskAccessNone,
		openFlagNone,
		uintptr(unsafe.Pointer(&params)),
		uintptr(unsafe.Pointer(&h)))
	if r != 0 {
		return nil, newCodeError("open", abs, uint32(r), syscall.Errno(r))
	}
	ap := newAttachParameters()
	r, _, _ = procAttachVirtualDisk.Call(
		uintptr(h),
		0, // security descriptor: the default
		attachFlags,
		0, // provider-specific flags
		uintptr(unsafe.Pointer(&ap)),
		0) // synchronous
	if r != 0 {
		windows.CloseHandle(h)
		return nil, newCodeError("attach", abs, uint32(r), syscall.Errno(r))
	}
	d := &Disk{path: abs}
	d.detachFn = func() error { return detach(h, abs) }
	dev, err := physicalPath(h)
	if err != nil {
		e := &Error{Kind: KindFailed, Op: "physical path", Path: abs, Err: err}
		if derr := d.Detach(); derr != nil {
			return nil, fmt.Errorf("%w; then: %w", e, derr)
		}
		return nil, e
	}
	d.device = dev
	if err := d.offline(); err != nil {
		e := &Error{Kind: KindFailed, Op: "offline", Path: abs, Err: err}
		if derr := d.Detach(); derr != nil {
			return nil, fmt.Errorf("%w; then: %w", e, derr)
		}
		return nil, e
	}
	return d, nil
}

// physicalPath asks GetVirtualDiskPhysicalPath for \\.\PhysicalDriveN,
// growing the buffer once if Windows says it is too small.
func physicalPath(h windows.Handle) (string, error) {
	buf := make([]uint16, maxPhysicalPathUTF16)
	for range 2 {
		size := uint32(len(buf) * 2) // in bytes
		r, _, _ := procGetVirtualDiskPhysicalPath.Call(uintptr(h), uintptr(unsafe.Pointer(&size)), uintptr(unsafe.Pointer(&buf[0])))
		switch {
		case r == 0:
			s := windows.UTF16ToString(buf)
			if s == "" {
				return "", errors.New("GetVirtualDiskPhysicalPath returned an empty path")
			}
			return s, nil
		case r == errorInsufficientBuffer && int(size/2) > len(buf) && size < 1<<16:
			buf = make([]uint16, size/2+1)
		default:
			return "", fmt.Errorf("GetVirtualDiskPhysicalPath: %w", syscall.Errno(r))
		}
	}
	return "", errors.New("GetVirtualDiskPhysicalPath: the path kept growing")
}

// offline opens the disk device, takes it offline for this attachment
// only (SET_DISK_ATTRIBUTES.Persist false), and reads its size and sector
// size. An offline disk's volumes are not mounted, so no file system
// driver holds them while unbrick writes to the raw device.
func (d *Disk) offline() error {
	p16, err := windows.UTF16PtrFromString(d.device)
	if err != nil {
		return err
	}
	f, err := windows.CreateFile(p16, windows.GENERIC_READ|windows.GENERIC_WRITE,
		windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE, nil, windows.OPEN_EXISTING, 0, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", d.device, err)
	}
	defer windows.CloseHandle(f)
	attrs := setDiskAttributes{Attributes: diskAttributeOffline, AttributesMask: diskAttributeOffline}
	attrs.Version = uint32(unsafe.Sizeof(attrs))
	var n uint32
	if err := windows.DeviceIoControl(f, ioctlDiskSetAttributes, (*byte)(unsafe.Pointer(&attrs)), uint32(unsafe.Sizeof(attrs)), nil, 0, &n, nil); err != nil {
		return fmt.Errorf("IOCTL_DISK_SET_DISK_ATTRIBUTES (offline) on %s: %w", d.device, err)
	}
	var length int64
	if err := windows.DeviceIoControl(f, ioctlDiskGetLengthInfo, nil, 0, (*byte)(unsafe.Pointer(&length)), 8, &n, nil); err == nil {
		d.size = length
	}
	var g diskGeometry
	if err := windows.DeviceIoControl(f, ioctlDiskGetGeometry, nil, 0, (*byte)(unsafe.Pointer(&g)), uint32(unsafe.Sizeof(g)), &n, nil); err == nil {
		d.sectorSize = int(g.BytesPerSector)
	}
	return nil
}

// detach detaches the disk and closes the handle, which also detaches it
// should DetachVirtualDisk have failed (the attachment is not
// permanent).
func detach(h windows.Handle, path string) error {
	r, _, _ := procDetachVirtualDisk.Call(uintptr(h), detachFlagNone, 0)
	cerr := windows.CloseHandle(h)
	if r != 0 {
		// Whatever the code, the remedy is the same: nothing may hold the
		// disk (a code like ERROR_SHARING_VIOLATION here is about the
		// disk, not a running VM).
		return &Error{Kind: KindFailed, Op: "detach", Path: path, Code: uint32(r),
			Err: fmt.Errorf("%w: close every program using the disk; it is detached when unbrick exits, or detach it with Dismount-VHD", syscall.Errno(r))}
	}
	if cerr != nil {
		return &Error{Kind: KindFailed, Op: "detach", Path: path, Err: fmt.Errorf("close the virtual disk handle: %w", cerr)}
	}
	return nil
}
