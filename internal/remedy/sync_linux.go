package remedy

import (
	"os"
	"syscall"
)

// datasync flushes f's data with fdatasync(2).
func datasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}
