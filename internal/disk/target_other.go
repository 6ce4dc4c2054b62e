//go:build !linux && !windows

package disk

import (
	"fmt"
	"io"
	"os"
)

// deviceGeometry on systems without the Linux ioctls: size by seeking to
// the end, 512-byte sectors assumed.
func deviceGeometry(f *os.File) (size int64, sectorSize int, err error) {
	end, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, 0, fmt.Errorf("device size: %w", err)
	}
	return end, 512, nil
}
