//go:build !unix

package inputfiletest

import "errors"

func mkfifo(string) error { return errors.New("no FIFOs on this system") }
