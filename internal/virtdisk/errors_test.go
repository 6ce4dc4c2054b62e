package virtdisk

import (
	"errors"
	"strings"
	"syscall"
	"testing"
)

func TestKindOf(t *testing.T) {
	for code, want := range map[uint32]Kind{
		32: KindVMRunning, 33: KindVMRunning, 1224: KindVMRunning,
		2: KindNotFound, 3: KindNotFound, 5: KindAccessDenied, 1314: KindAccessDenied,
		0xC03A001E: KindAlreadyAttached, 0xC03A001F: KindAlreadyAttached, 548: KindAlreadyAttached,
		0xC03A0015: KindNotVirtualDisk, 0xC03A0004: KindNotVirtualDisk,
		0xC03A0014: KindUnsupported, 126: KindUnsupported, 87: KindFailed, 0: KindFailed,
	} {
		if got := kindOf(code); got != want {
			t.Errorf("kindOf(%d) = %v, want %v", code, got, want)
		}
	}
}

func TestErrorMessages(t *testing.T) {
	cause := syscall.Errno(32)
	e := newCodeError("open", `D:\VMs\host1.vhdx`, 32, cause)
	msg := e.Error()
	if !strings.HasPrefix(msg, `the VM using D:\VMs\host1.vhdx is running: shut it down first (Stop-VM)`) {
		t.Errorf("message %q", msg)
	}
	if !strings.Contains(msg, "0x20") || !errors.Is(e, cause) {
		t.Errorf("message %q does not keep the code, or the cause is not wrapped", msg)
	}
	var target *Error
	if !errors.As(error(e), &target) || target.Kind != KindVMRunning {
		t.Errorf("errors.As: %v", target)
	}
	c := &Error{Kind: KindHasChildren, Op: "check", Path: `D:\VMs\base.vhdx`, Children: []string{`D:\VMs\base_1.avhdx`, `D:\VMs\x.vhdx`}}
	if m := c.Error(); !strings.Contains(m, `base_1.avhdx, D:\VMs\x.vhdx`) || !strings.Contains(m, "2 differencing") || !strings.Contains(m, "merge") {
		t.Errorf("children message %q", m)
	}
	for k := KindFailed; k <= KindUnsupported; k++ {
		m := (&Error{Kind: k, Op: "attach", Path: "p.vhdx"}).Error()
		if !strings.Contains(m, "p.vhdx") {
			t.Errorf("kind %d: message %q does not name the file", k, m)
		}
	}
}
