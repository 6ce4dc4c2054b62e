//go:build linux

package ntfs

import (
	"path/filepath"
	"syscall"
)

// isMountPoint reports whether dir is on another device than its parent.
func isMountPoint(dir string) bool {
	var a, b syscall.Stat_t
	if syscall.Stat(dir, &a) != nil || syscall.Stat(filepath.Dir(dir), &b) != nil {
		return false
	}
	return a.Dev != b.Dev
}

// getxattr reads an extended attribute of a file on an ntfs-3g mount.
func getxattr(path, name string, buf []byte) (int, error) { return syscall.Getxattr(path, name, buf) }

// setxattr and removexattr set and remove an extended attribute on an
// ntfs-3g mount (named streams, object IDs, reparse data).
func setxattr(path, name string, value []byte) error { return syscall.Setxattr(path, name, value, 0) }
func removexattr(path, name string) error            { return syscall.Removexattr(path, name) }

// freeBytes is what the file system holding dir has free.
func freeBytes(dir string) (int64, error) {
	var sfs syscall.Statfs_t
	if err := syscall.Statfs(dir, &sfs); err != nil {
		return 0, err
	}
	return int64(sfs.Bavail) * int64(sfs.Bsize), nil
}
