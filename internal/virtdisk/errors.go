package virtdisk

import (
	"fmt"
	"strings"
)

// Kind says why Attach or Detach failed.
type Kind int

const (
	// KindFailed is any other failure of a virtdisk.dll call.
	KindFailed Kind = iota
	// KindVMRunning: the file is held open by another process, in
	// practice the worker process (vmwp.exe) of the VM that uses it.
	KindVMRunning
	// KindHasChildren: differencing disks (checkpoints) in the folder
	// name the file as their parent; writing it would corrupt them.
	KindHasChildren
	// KindNotFound: no such file.
	KindNotFound
	// KindAccessDenied: attaching needs an elevated Administrator
	// (SE_MANAGE_VOLUME_NAME), or the file is read-only.
	KindAccessDenied
	// KindAlreadyAttached: the disk is attached already (Mount-VHD, Disk
	// Management, another unbrick).
	KindAlreadyAttached
	// KindNotVirtualDisk: the file is not a VHD or VHDX (or is damaged).
	KindNotVirtualDisk
	// KindUnsupported: not on Windows, or virtdisk.dll is missing (WinPE
	// without the virtual disk support, Windows Server Core without it).
	KindUnsupported
)

// Error is a refusal or failure of Attach or Detach: what was done (Op:
// "open", "attach", "physical path", "offline", "detach"), on which
// file, the Windows error code when there is one, and what to do next.
type Error struct {
	Kind     Kind
	Op       string
	Path     string
	Code     uint32   // the Win32 error code virtdisk.dll returned; 0 for none
	Children []string // KindHasChildren: the differencing disks, by path
	Err      error    // the underlying error, if any
}

// Windows error codes Attach tells apart (Microsoft Learn, "System Error
// Codes" and winerror.h's virtual disk codes).
const (
	errorFileNotFound            = 2
	errorPathNotFound            = 3
	errorAccessDenied            = 5
	errorSharingViolation        = 32
	errorLockViolation           = 33
	errorInsufficientBuffer      = 122
	errorUserMappedFile          = 1224
	errorPrivilegeNotHeld        = 1314
	errorVirtdiskNotVirtualDisk  = 0xC03A0015
	errorVirtdiskProviderMissing = 0xC03A0014
	errorVirtdiskAlreadyOwned    = 0xC03A001E
	errorVirtdiskOnlineWritable  = 0xC03A001F
	errorDeviceAlreadyAttached   = 548
	errorVHDFormatUnknown        = 0xC03A0004
	errorModNotFound             = 126
	errorProcNotFound            = 127
)

// kindOf maps a Win32 error code from OpenVirtualDisk or
// AttachVirtualDisk to a Kind.
func kindOf(code uint32) Kind {
	switch code {
	case errorSharingViolation, errorLockViolation, errorUserMappedFile:
		return KindVMRunning
	case errorFileNotFound, errorPathNotFound:
		return KindNotFound
	case errorAccessDenied, errorPrivilegeNotHeld:
		return KindAccessDenied
	case errorVirtdiskAlreadyOwned, errorVirtdiskOnlineWritable, errorDeviceAlreadyAttached:
		return KindAlreadyAttached
	case errorVirtdiskNotVirtualDisk, errorVHDFormatUnknown:
		return KindNotVirtualDisk
	case errorVirtdiskProviderMissing, errorModNotFound, errorProcNotFound:
		return KindUnsupported
	}
	return KindFailed
}

// newCodeError is the Error for a failed call returning a Win32 code;
// err is that code as an error (a syscall.Errno on Windows).
func newCodeError(op, path string, code uint32, err error) *Error {
	return &Error{Kind: kindOf(code), Op: op, Path: path, Code: code, Err: err}
}

// Error says what failed and what to do next.
func (e *Error) Error() string {
	var b strings.Builder
	switch e.Kind {
	case KindVMRunning:
		fmt.Fprintf(&b, "the VM using %s is running: shut it down first (Stop-VM), then run unbrick again", e.Path)
	case KindHasChildren:
		fmt.Fprintf(&b, "%s is the parent of %d differencing disk(s) (%s): writing it would corrupt them; "+
			"merge the checkpoints in Hyper-V (Remove-VMSnapshot, or Edit Disk > Merge) and fix the merged disk, or fix the newest checkpoint disk instead",
			e.Path, len(e.Children), strings.Join(e.Children, ", "))
	case KindNotFound:
		fmt.Fprintf(&b, "%s %s: no such file (give the full path of the .vhdx or .vhd)", e.Op, e.Path)
	case KindAccessDenied:
		fmt.Fprintf(&b, "%s %s: access denied: run unbrick.exe from an elevated (Administrator) prompt, and check the file is not read-only", e.Op, e.Path)
	case KindAlreadyAttached:
		fmt.Fprintf(&b, "%s %s: the disk is attached already: detach it (Dismount-VHD, or Disk Management > Detach VHD) and run unbrick again", e.Op, e.Path)
	case KindNotVirtualDisk:
		fmt.Fprintf(&b, "%s %s: not a VHD or VHDX Windows can open (damaged, or another format): check it with Get-VHD or Test-VHD", e.Op, e.Path)
	case KindUnsupported:
		fmt.Fprintf(&b, "%s %s: attaching virtual disks needs Windows with virtdisk.dll (Windows 8 / Server 2012 or later, or WinPE); elsewhere give the file itself as TARGET", e.Op, e.Path)
	default:
		fmt.Fprintf(&b, "%s %s failed", e.Op, e.Path)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, " (%v", e.Err)
		if e.Code != 0 {
			fmt.Fprintf(&b, ", code %#x", e.Code)
		}
		b.WriteString(")")
	} else if e.Code != 0 {
		fmt.Fprintf(&b, " (code %#x)", e.Code)
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }
