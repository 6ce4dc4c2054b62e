//go:build unix

package nbd

import "syscall"

// newProcessGroup puts a child in a process group of its own, away from
// the terminal's Ctrl-C.
func newProcessGroup() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
