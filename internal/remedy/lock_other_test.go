//go:build !unix

package remedy

import (
	"errors"
	"os"
)

// lockForTest: the Windows edition locks volumes another way.
func lockForTest(f *os.File) error   { return errors.New("no flock on this system") }
func unlockForTest(f *os.File) error { return nil }
