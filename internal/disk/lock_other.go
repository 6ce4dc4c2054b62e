//go:build !unix

package disk

import "os"

// lockFile is a no-op where flock is not available; the Windows edition
// locks volumes with FSCTL_LOCK_VOLUME instead.
func lockFile(f *os.File) error { return nil }

func unlockFile(f *os.File) {}
