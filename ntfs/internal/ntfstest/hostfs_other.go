//go:build !linux

package ntfstest

import "errors"

// The ntfs-3g (FUSE) mounts of the differential tests exist on Linux only.

// IsMountPoint is false: there are no ntfs-3g mounts here.
func IsMountPoint(dir string) bool { return false }

// Getxattr fails: there are no ntfs-3g mounts here.
func Getxattr(path, name string, buf []byte) (int, error) {
	return 0, errors.New("no ntfs-3g mounts on this system")
}

// Setxattr, Removexattr and FreeBytes fail: there are no ntfs-3g mounts here.
func Setxattr(path, name string, value []byte) error { return errNoMount }
func Removexattr(path, name string) error            { return errNoMount }
func FreeBytes(dir string) (int64, error)            { return 0, errNoMount }

var errNoMount = errors.New("no ntfs-3g mounts on this system")
