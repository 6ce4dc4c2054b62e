//go:build !unix

package wizard

import "errors"

// interruptSelf: no SIGINT to send on this system.
func interruptSelf() error { return errors.New("no SIGINT on this system") }

func canInterruptSelf() error { return errors.New("no SIGINT on this system") }
