//go:build linux

package disk

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// deviceGeometry returns the size in bytes (BLKGETSIZE64, else seeking to
// the end) and the logical sector size (BLKSSZGET) of a block device.
func deviceGeometry(f *os.File) (size int64, sectorSize int, err error) {
	fd := int(f.Fd())
	var sz uint64
	if s, e := unix.IoctlGetUint64(fd, unix.BLKGETSIZE64); e == nil {
		sz = s
	} else {
		end, serr := f.Seek(0, io.SeekEnd)
		if serr != nil {
			return 0, 0, fmt.Errorf("device size: BLKGETSIZE64: %v; seek to end: %w", e, serr)
		}
		sz = uint64(end)
	}
	ssz, e := unix.IoctlGetInt(fd, unix.BLKSSZGET)
	if e != nil || ssz <= 0 {
		ssz = 512
	}
	return int64(sz), ssz, nil
}
