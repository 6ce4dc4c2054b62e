//go:build windows

package durable

import (
	"golang.org/x/sys/windows"
)

// syncDir has nothing to flush on Windows: NTFS logs the directory
// change itself (see the package documentation). SyncDir has already
// checked that dir is a directory.
func syncDir(dir string) error { return nil }

// rename is MoveFileExW with MOVEFILE_REPLACE_EXISTING (newpath may
// exist) and MOVEFILE_WRITE_THROUGH (the call returns once the move is on
// disk). os.Rename uses MOVEFILE_REPLACE_EXISTING only.
func rename(oldpath, newpath string) error {
	from, err := windows.UTF16PtrFromString(oldpath)
	if err != nil {
		return err
	}
	to, err := windows.UTF16PtrFromString(newpath)
	if err != nil {
		return err
	}
	return windows.MoveFileEx(from, to, windows.MOVEFILE_REPLACE_EXISTING|windows.MOVEFILE_WRITE_THROUGH)
}
