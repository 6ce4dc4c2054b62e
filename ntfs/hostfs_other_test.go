//go:build !linux

package ntfs

import "errors"

// The ntfs-3g (FUSE) mounts of the differential tests exist on Linux only.

func isMountPoint(dir string) bool { return false }

func getxattr(path, name string, buf []byte) (int, error) {
	return 0, errors.New("no ntfs-3g mounts on this system")
}

func setxattr(path, name string, value []byte) error { return errNoMount }
func removexattr(path, name string) error            { return errNoMount }
func freeBytes(dir string) (int64, error)            { return 0, errNoMount }

var errNoMount = errors.New("no ntfs-3g mounts on this system")
