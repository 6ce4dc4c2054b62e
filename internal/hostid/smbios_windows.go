//go:build windows

package hostid

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/windows"
)

// GetSystemFirmwareTable (kernel32.dll, Windows Vista / Server 2008 and
// later; also in WinPE), loaded when first used.
var procGetSystemFirmwareTable = windows.NewLazySystemDLL("kernel32.dll").NewProc("GetSystemFirmwareTable")

// rsmb is the 'RSMB' firmware table provider signature, as the DWORD
// Microsoft Learn's "GetSystemFirmwareTable function" says to pass:
// the characters in that order, most significant first.
const rsmb = 'R'<<24 | 'S'<<16 | 'M'<<8 | 'B'

// readPlatformSMBIOS reads the SMBIOS table through
// GetSystemFirmwareTable('RSMB', 0, ...): called with no buffer it returns
// the size needed, then fills a buffer of that size with a RawSMBIOSData.
func readPlatformSMBIOS() (*SMBIOS, bool, error) {
	if err := procGetSystemFirmwareTable.Find(); err != nil {
		return nil, true, fmt.Errorf("SMBIOS identity: GetSystemFirmwareTable is not available: %w", err)
	}
	var buf []byte
	for range 3 { // the table does not change, but size and fill are two calls
		var p uintptr
		if len(buf) > 0 {
			p = uintptr(unsafe.Pointer(&buf[0]))
		}
		r, _, err := procGetSystemFirmwareTable.Call(rsmb, 0, p, uintptr(len(buf)))
		n := int(uint32(r))
		switch {
		case n == 0:
			return nil, true, fmt.Errorf("SMBIOS identity: GetSystemFirmwareTable('RSMB'): %w (no SMBIOS table: a VM without one, or firmware that has none)", err)
		case n > maxSMBIOSTable+rawSMBIOSHeaderSize:
			return nil, true, fmt.Errorf("SMBIOS identity: GetSystemFirmwareTable('RSMB') wants %d bytes, more than the %d accepted", n, maxSMBIOSTable+rawSMBIOSHeaderSize)
		case n <= len(buf):
			s, err := ReadRawSMBIOS(buf[:n])
			if err != nil {
				return nil, true, fmt.Errorf("SMBIOS identity: %w", err)
			}
			return s, true, nil
		}
		buf = make([]byte, n)
	}
	return nil, true, fmt.Errorf("SMBIOS identity: GetSystemFirmwareTable('RSMB') kept asking for a larger buffer")
}
