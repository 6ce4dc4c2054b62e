//go:build linux

package disk

import "golang.org/x/sys/unix"

// fileDevice returns the major:minor of the device holding path (st_dev).
func fileDevice(path string) (maj, min uint32, ok bool) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, 0, false
	}
	if unix.Major(st.Dev) == 0 {
		return 0, 0, false // tmpfs, rootfs, overlay...: no block device
	}
	return unix.Major(st.Dev), unix.Minor(st.Dev), true
}
