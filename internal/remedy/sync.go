package remedy

import (
	"fmt"
	"os"
)

// Flusher flushes a target's written data to stable storage. On Linux an
// fsync on any descriptor of a file or block device flushes that inode's
// dirty data, so a separate read-only descriptor serves as the barrier for
// writes made through internal/disk's Target.
type Flusher struct {
	f *os.File
}

// OpenFlusher opens path (an image file or block device) for flushing.
func OpenFlusher(path string) (*Flusher, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s to flush writes: %w", path, err)
	}
	return &Flusher{f: f}, nil
}

// Sync flushes the target's data (fdatasync on Linux: the size of an
// image or device never changes, so its metadata need not be flushed).
func (s *Flusher) Sync() error { return datasync(s.f) }

// Close releases the descriptor.
func (s *Flusher) Close() error { return s.f.Close() }
