//go:build !unix

package disk

import "errors"

// mkfifo: this system has no named pipes; the tests that need one skip.
func mkfifo(path string) error { return errors.New("no named pipes on this system") }
