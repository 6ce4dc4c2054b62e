//go:build unix

package wizard

import (
	"os"
	"syscall"
)

// interruptSelf sends this process SIGINT, as Ctrl-C on its terminal does.
func interruptSelf() error { return syscall.Kill(os.Getpid(), syscall.SIGINT) }

func canInterruptSelf() error { return nil }
