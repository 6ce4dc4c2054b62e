package disk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"syscall"

	"github.com/unbrick/unbrick/internal/nbd"
)

// ErrReadOnly is returned by writes through a Target opened without
// writable (and by every write through a Section of such a Target).
var ErrReadOnly = errors.New("target was opened read-only")

// Target is an opened TARGET: a disk image, a volume image or a block
// device. It is an io.ReaderAt (and, when opened writable, an io.WriterAt)
// over the whole target.
type Target struct {
	path       string
	r          io.ReaderAt
	w          io.WriterAt // nil when read-only
	closer     io.Closer
	size       int64
	sectorSize int  // logical sector size reported by the device; 0 for images
	device     bool // a block device, not a regular file
	container  Container
	format     string     // behind ContainerQemuNBD / ContainerNBD
	file       *os.File   // the file opened at path (nil from NewTarget)
	files      []*os.File // a flat VMDK's extent files
	nbdKey     string     // an NBD export's lock name (see lock_nbd.go)
	// lockDevice, when set, is what Lock does for this device (Windows:
	// lock and dismount the disk's volumes, target_windows.go).
	lockDevice func() (unlock func(), err error)

	scanOnce sync.Once
	cands    []Candidate
	scanErr  error
}

// OpenTarget opens an image file or a block device. When writable is false
// the file is opened O_RDONLY, so nothing can be written through it.
// The size comes from the BLKGETSIZE64 ioctl for block devices (falling
// back to seeking to the end) and from the file size for images; the
// logical sector size of a block device comes from BLKSSZGET.
func OpenTarget(path string, writable bool) (*Target, error) {
	if nbd.IsURI(path) {
		return openNBD(path, writable)
	}
	// A platform's own device names (Windows: \\.\PhysicalDriveN).
	if t, ok, err := openPlatformDevice(path, writable); ok {
		return t, err
	}
	flag := os.O_RDONLY
	if writable {
		flag = os.O_RDWR
		// On Linux, O_EXCL on a block device fails with EBUSY while the
		// device (or, for a disk, one of its partitions) is mounted or
		// otherwise claimed: never write under a mounted file system.
		if fi, err := os.Stat(path); err == nil && fi.Mode()&os.ModeDevice != 0 && fi.Mode()&os.ModeCharDevice == 0 {
			flag |= os.O_EXCL
		}
	}
	// Refuse what is neither a file nor a block device before opening it:
	// opening a FIFO would wait forever for a writer.
	if fi, err := os.Stat(path); err == nil {
		if m := fi.Mode(); !m.IsRegular() && !(m&os.ModeDevice != 0 && m&os.ModeCharDevice == 0) {
			if m.IsDir() {
				return nil, fmt.Errorf("target %s is a directory, not a disk image or block device", path)
			}
			return nil, fmt.Errorf("target %s is neither a regular file nor a block device (mode %v): give a disk image or a block device", path, m)
		}
	}
	f, err := os.OpenFile(path, flag|syscall.O_NONBLOCK, 0)
	if err != nil {
		// The messages below name the path once: drop the *PathError's
		// own "open PATH: " (its error, e.g. ENOENT, stays wrapped).
		var pe *fs.PathError
		if errors.As(err, &pe) && pe.Path == path {
			err = pe.Err
		}
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("open target %s: %w (name a disk image or a block device, e.g. /dev/sdb)", path, err)
		}
		if writable && errors.Is(err, syscall.EBUSY) {
			return nil, fmt.Errorf("open %s for writing: %w (it, or a partition on it, is mounted or in use; unmount it first)", path, err)
		}
		if writable && errors.Is(err, os.ErrPermission) {
			return nil, fmt.Errorf("open %s for writing: %w (writing to a disk needs root; is it write-protected?)", path, err)
		}
		return nil, fmt.Errorf("open target %s: %w", path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat target %s: %w", path, err)
	}
	t := &Target{path: path, r: f, closer: f, file: f}
	if writable {
		t.w = f
	}
	switch m := fi.Mode(); {
	case m.IsRegular():
		t.size = fi.Size()
		if err := t.openContainer(f, fi.Size(), writable); err != nil {
			f.Close()
			return nil, err
		}
	case m&os.ModeDevice != 0 && m&os.ModeCharDevice == 0:
		t.device = true
		size, ssz, err := deviceGeometry(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("target %s: %w", path, err)
		}
		t.size, t.sectorSize = size, ssz
	case m.IsDir():
		f.Close()
		return nil, fmt.Errorf("target %s is a directory, not a disk image or block device", path)
	default:
		f.Close()
		return nil, fmt.Errorf("target %s is neither a regular file nor a block device (mode %v)", path, m)
	}
	return t, nil
}

// openNBD opens the export an NBD URI names (nbd://HOST[:PORT]/EXPORT,
// nbd+unix:///EXPORT?socket=PATH) with unbrick's userspace client.
func openNBD(uri string, writable bool) (*Target, error) {
	u, err := nbd.ParseURI(uri)
	if err != nil {
		return nil, err
	}
	c, err := nbd.Dial(context.Background(), u, nbd.Options{ReadOnly: !writable})
	if err != nil {
		return nil, err
	}
	t := &Target{path: uri, r: c, closer: c, size: c.Size(), container: ContainerNBD, format: "export " + fmt.Sprintf("%q", u.Export),
		nbdKey: nbdLockKey(u)}
	if writable {
		t.w = c
	}
	return t, nil
}

// NewTarget wraps an already open reader of the given size as a Target
// (tests, fuzzing, and callers that have a disk as an io.ReaderAt). If r
// also implements io.WriterAt and writable is true, the Target is writable.
// The name is used in messages only.
func NewTarget(name string, r io.ReaderAt, size int64, writable bool) *Target {
	t := &Target{path: name, r: r, size: size}
	if w, ok := r.(io.WriterAt); ok && writable {
		t.w = w
	}
	return t
}

// Close closes the underlying file (nothing for a Target from NewTarget).
func (t *Target) Close() error {
	if t.closer == nil {
		return nil
	}
	return t.closer.Close()
}

// Sync flushes writes made through the Target to stable storage (fsync on
// the image file or block device): the ordering barrier between two writes
// that must reach the disk in order. A Target made by NewTarget syncs its
// io.WriterAt when that has a Sync method, and is a no-op otherwise.
func (t *Target) Sync() error {
	if t.w == nil {
		return nil
	}
	if s, ok := t.w.(interface{ Sync() error }); ok {
		if err := s.Sync(); err != nil {
			return fmt.Errorf("flush %s: %w", t.path, err)
		}
	}
	return nil
}

// Path is the path or name the Target was opened with.
func (t *Target) Path() string { return t.path }

// Size is the size of the whole target in bytes.
func (t *Target) Size() int64 { return t.size }

// IsDevice reports whether the Target is a block device.
func (t *Target) IsDevice() bool { return t.device }

// Writable reports whether writes are allowed.
func (t *Target) Writable() bool { return t.w != nil }

// DeviceSectorSize is the logical sector size a block device reports
// (BLKSSZGET), or 0 for an image file, whose sector size is only known from
// its partition table (see Candidate.SectorSize).
func (t *Target) DeviceSectorSize() int { return t.sectorSize }

// ReadAt reads from the whole target. Reads past the end return io.EOF.
func (t *Target) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("read %s at negative offset %d", t.path, off)
	}
	if off >= t.size {
		return 0, io.EOF
	}
	if rem := t.size - off; int64(len(p)) > rem {
		n, err := t.r.ReadAt(p[:rem], off)
		if err == nil {
			err = io.EOF
		}
		return n, err
	}
	return t.r.ReadAt(p, off)
}

// WriteAt writes to the whole target; it fails with ErrReadOnly unless the
// Target was opened writable, and never writes past the end.
func (t *Target) WriteAt(p []byte, off int64) (int, error) {
	if t.w == nil {
		return 0, fmt.Errorf("write %s: %w", t.path, ErrReadOnly)
	}
	if off < 0 || off > t.size || int64(len(p)) > t.size-off {
		return 0, fmt.Errorf("write %s: %d bytes at offset %d is outside the target (%d bytes)", t.path, len(p), off, t.size)
	}
	return t.w.WriteAt(p, off)
}

// readFull reads len(p) bytes at off, returning an error on a short read.
func (t *Target) readFull(p []byte, off int64) error {
	n, err := t.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}
