//go:build unix

package durable

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
)

// syncDir fsyncs the directory. EINVAL (a file system that does not
// support fsync on a directory) counts as done: see the package
// documentation.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}

// rename is rename(2), atomic on one file system, followed by an fsync
// of the directories whose entries changed.
func rename(oldpath, newpath string) error {
	if err := os.Rename(oldpath, newpath); err != nil {
		return err
	}
	nd := filepath.Dir(newpath)
	if err := SyncDir(nd); err != nil {
		return err
	}
	if od := filepath.Dir(oldpath); od != nd {
		return SyncDir(od)
	}
	return nil
}
