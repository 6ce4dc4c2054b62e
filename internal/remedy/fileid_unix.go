//go:build unix

package remedy

import (
	"os"
	"syscall"
)

// fileIdentity is a file's device and inode numbers: two names of one
// file (a symlink, a hard link) have the same.
func fileIdentity(fi os.FileInfo) (fileID, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, false
	}
	return fileID{uint64(st.Dev), uint64(st.Ino)}, true
}
