//go:build windows

package hostid

import "testing"

// TestRSMBSignature: 'RSMB' as GetSystemFirmwareTable takes it.
func TestRSMBSignature(t *testing.T) {
	if rsmb != 0x52534D42 {
		t.Errorf("rsmb = %#x, want 0x52534D42", rsmb)
	}
}

// TestReadSMBIOSWindows reads this machine's table. A machine without
// one (some VMs) gives an error, never a panic or an empty success.
func TestReadSMBIOSWindows(t *testing.T) {
	s, err := ReadSMBIOS("")
	if err != nil {
		t.Skipf("no SMBIOS table here: %v", err)
	}
	if s == nil {
		t.Fatal("nil SMBIOS without an error")
	}
	t.Logf("SMBIOS: %+v", *s)
}
