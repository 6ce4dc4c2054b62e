package hostid

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// DefaultDMIRoot is where Linux exposes the SMBIOS (DMI) identity strings.
const DefaultDMIRoot = "/sys/class/dmi/id"

// SMBIOS is the machine identity from the firmware's SMBIOS tables (type 1
// System Information, type 2 baseboard, type 3 chassis), as Linux exposes
// it under /sys/class/dmi/id.
type SMBIOS struct {
	Vendor        string // sys_vendor
	Model         string // product_name
	Version       string // product_version
	Serial        string // product_serial (root only)
	UUID          string // product_uuid (root only), upper-case
	SKU           string // product_sku
	Family        string // product_family
	BoardSerial   string // board_serial
	ChassisSerial string // chassis_serial
	BIOSVendor    string // bios_vendor
	BIOSVersion   string // bios_version
}

// placeholders are strings firmware vendors leave in unset SMBIOS fields.
var placeholders = map[string]bool{
	"to be filled by o.e.m.": true, "default string": true, "system serial number": true,
	"not specified": true, "none": true, "0": true, "n/a": true, "not applicable": true,
	"system product name": true, "system manufacturer": true, "0123456789": true,
	"03000200-0400-0500-0006-000700080009": true, "00000000-0000-0000-0000-000000000000": true,
	"ffffffff-ffff-ffff-ffff-ffffffffffff": true,
}

// ReadSMBIOS reads the identity strings under root (DefaultDMIRoot when
// empty). Missing or placeholder fields stay empty. It fails only when root
// does not exist (no SMBIOS: not on bare metal or a VM with DMI).
//
// On Windows, with root empty, it decodes the raw SMBIOS table that
// GetSystemFirmwareTable('RSMB') returns instead (smbios_windows.go,
// smbiostable.go); a root given explicitly is still read as a DMI folder.
func ReadSMBIOS(root string) (*SMBIOS, error) {
	if root == "" {
		if s, ok, err := readPlatformSMBIOS(); ok {
			return s, err
		}
		root = DefaultDMIRoot
	}
	if _, err := os.Stat(root); err != nil {
		return nil, fmt.Errorf("SMBIOS identity: %w", err)
	}
	rd := func(name string) string {
		b, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			return ""
		}
		return cleanSMBIOSString(string(b))
	}
	return &SMBIOS{
		Vendor:        rd("sys_vendor"),
		Model:         rd("product_name"),
		Version:       rd("product_version"),
		Serial:        rd("product_serial"),
		UUID:          strings.ToUpper(rd("product_uuid")),
		SKU:           rd("product_sku"),
		Family:        rd("product_family"),
		BoardSerial:   rd("board_serial"),
		ChassisSerial: rd("chassis_serial"),
		BIOSVendor:    rd("bios_vendor"),
		BIOSVersion:   rd("bios_version"),
	}, nil
}

// cleanSMBIOSString drops control characters and surrounding spaces, and
// returns "" for the placeholders firmware leaves in unset fields.
func cleanSMBIOSString(s string) string {
	s = strings.TrimSpace(strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s))
	if placeholders[strings.ToLower(s)] {
		return ""
	}
	return s
}
