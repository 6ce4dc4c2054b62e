package ntfs

import "syscall"

func syscallSetxattr(path, name string, value []byte) error {
	return syscall.Setxattr(path, name, value, 0)
}
