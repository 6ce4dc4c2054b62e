//go:build unix

package main

import (
	"os"
	"syscall"
)

// fileIdentity is a comparable identity of the file or device behind fi
// (its device and inode numbers), or nil when the platform gives none.
func fileIdentity(fi os.FileInfo) any {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return [2]uint64{uint64(st.Dev), uint64(st.Ino)}
	}
	return nil
}
