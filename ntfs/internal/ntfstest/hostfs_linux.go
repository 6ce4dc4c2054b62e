//go:build linux

package ntfstest

import (
	"path/filepath"
	"syscall"
)

// IsMountPoint reports whether dir is on another device than its parent.
func IsMountPoint(dir string) bool {
	var a, b syscall.Stat_t
	if syscall.Stat(dir, &a) != nil || syscall.Stat(filepath.Dir(dir), &b) != nil {
		return false
	}
	return a.Dev != b.Dev
}

// Getxattr reads an extended attribute of a file on an ntfs-3g mount.
func Getxattr(path, name string, buf []byte) (int, error) { return syscall.Getxattr(path, name, buf) }

// Setxattr and Removexattr set and remove an extended attribute on an
// ntfs-3g mount (named streams, object IDs, reparse data).
func Setxattr(path, name string, value []byte) error { return syscall.Setxattr(path, name, value, 0) }
func Removexattr(path, name string) error            { return syscall.Removexattr(path, name) }

// FreeBytes is what the file system holding dir has free.
func FreeBytes(dir string) (int64, error) {
	var sfs syscall.Statfs_t
	if err := syscall.Statfs(dir, &sfs); err != nil {
		return 0, err
	}
	return int64(sfs.Bavail) * int64(sfs.Bsize), nil
}
