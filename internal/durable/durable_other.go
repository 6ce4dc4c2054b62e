//go:build !unix && !windows

package durable

import "os"

// syncDir, where neither the Unix nor the Windows rules are known: try
// an fsync of the directory and accept a refusal (unbrick is built for
// Linux and Windows; this keeps other platforms compiling).
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	d.Sync()
	return d.Close()
}

// rename is os.Rename.
func rename(oldpath, newpath string) error {
	if err := os.Rename(oldpath, newpath); err != nil {
		return err
	}
	return nil
}
