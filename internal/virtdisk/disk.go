package virtdisk

import "sync"

// Disk is a virtual disk file attached by Attach, without a drive letter
// and offline, until Detach.
type Disk struct {
	path       string // the .vhdx or .vhd file
	device     string // \\.\PhysicalDriveN
	size       int64  // bytes, from IOCTL_DISK_GET_LENGTH_INFO; 0 if unknown
	sectorSize int    // logical sector size, from IOCTL_DISK_GET_DRIVE_GEOMETRY; 0 if unknown

	mu       sync.Mutex
	detached bool
	detachFn func() error // detaches and closes the handle; called once
	err      error        // what the one detachFn call returned
}

// Path is the virtual disk file that was attached.
func (d *Disk) Path() string { return d.path }

// DevicePath is the disk device Windows attached the file as,
// \\.\PhysicalDriveN: open it as the TARGET to fix.
func (d *Disk) DevicePath() string { return d.device }

// Size is the attached disk's size in bytes (0 when Windows did not say).
func (d *Disk) Size() int64 { return d.size }

// SectorSize is the attached disk's logical sector size (0 when Windows
// did not say).
func (d *Disk) SectorSize() int { return d.sectorSize }

// Detach detaches the disk and closes its handle. It is safe to call more
// than once and from several goroutines (a deferred Detach and a Ctrl-C
// handler): the first call detaches, later ones return its result. Close
// every handle to DevicePath first; Windows refuses to detach a disk that
// is in use. A nil Disk detaches nothing.
func (d *Disk) Detach() error {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.detached {
		d.detached = true
		if d.detachFn != nil {
			d.err = d.detachFn()
		}
	}
	return d.err
}

// Close is Detach, so a Disk is an io.Closer.
func (d *Disk) Close() error { return d.Detach() }
