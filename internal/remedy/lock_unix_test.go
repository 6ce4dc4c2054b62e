//go:build unix

package remedy

import (
	"os"

	"golang.org/x/sys/unix"
)

// lockForTest holds f as another unbrick run would (flock).
func lockForTest(f *os.File) error   { return unix.Flock(int(f.Fd()), unix.LOCK_EX) }
func unlockForTest(f *os.File) error { return unix.Flock(int(f.Fd()), unix.LOCK_UN) }
