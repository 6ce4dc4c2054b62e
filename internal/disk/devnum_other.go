//go:build !linux

package disk

// fileDevice is Linux-only; elsewhere no boot device is detected.
func fileDevice(path string) (maj, min uint32, ok bool) { return 0, 0, false }
