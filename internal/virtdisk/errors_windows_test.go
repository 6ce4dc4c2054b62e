//go:build windows

package virtdisk

import (
	"testing"

	"golang.org/x/sys/windows"
)

// TestCodesMatchWindows checks the error codes written out in errors.go
// (so that they are testable on every GOOS) against golang.org/x/sys's.
func TestCodesMatchWindows(t *testing.T) {
	for _, c := range []struct {
		mine uint32
		sys  windows.Errno
	}{
		{errorFileNotFound, windows.ERROR_FILE_NOT_FOUND},
		{errorPathNotFound, windows.ERROR_PATH_NOT_FOUND},
		{errorAccessDenied, windows.ERROR_ACCESS_DENIED},
		{errorSharingViolation, windows.ERROR_SHARING_VIOLATION},
		{errorLockViolation, windows.ERROR_LOCK_VIOLATION},
		{errorInsufficientBuffer, windows.ERROR_INSUFFICIENT_BUFFER},
		{errorUserMappedFile, windows.ERROR_USER_MAPPED_FILE},
		{errorPrivilegeNotHeld, windows.ERROR_PRIVILEGE_NOT_HELD},
		{errorVirtdiskNotVirtualDisk, windows.ERROR_VIRTDISK_NOT_VIRTUAL_DISK},
		{errorVirtdiskProviderMissing, windows.ERROR_VIRTDISK_PROVIDER_NOT_FOUND},
		{errorVirtdiskAlreadyOwned, windows.ERROR_VIRTDISK_DISK_ALREADY_OWNED},
		{errorVirtdiskOnlineWritable, windows.ERROR_VIRTDISK_DISK_ONLINE_AND_WRITABLE},
		{errorDeviceAlreadyAttached, windows.ERROR_DEVICE_ALREADY_ATTACHED},
		{errorVHDFormatUnknown, windows.ERROR_VHD_FORMAT_UNKNOWN},
		{errorModNotFound, windows.ERROR_MOD_NOT_FOUND},
		{errorProcNotFound, windows.ERROR_PROC_NOT_FOUND},
	} {
		if c.mine != uint32(c.sys) {
			t.Errorf("%#x, x/sys/windows says %#x (%v)", c.mine, uint32(c.sys), c.sys)
		}
	}
}
