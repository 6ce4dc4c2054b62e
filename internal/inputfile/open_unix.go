//go:build unix

package inputfile

import (
	"os"
	"syscall"
)

// openNonblock opens path read-only with O_NONBLOCK so that opening a FIFO
// does not wait for a writer; the flag is cleared for regular files'
// reads by the kernel's own semantics (it has no effect on them).
func openNonblock(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}
