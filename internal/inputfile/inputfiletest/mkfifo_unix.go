//go:build unix

package inputfiletest

import "syscall"

func mkfifo(path string) error { return syscall.Mkfifo(path, 0o600) }
