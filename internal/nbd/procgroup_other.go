//go:build !unix

package nbd

import "syscall"

func newProcessGroup() *syscall.SysProcAttr { return nil }
