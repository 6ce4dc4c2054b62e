package hostid

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// RawSMBIOSHeader is the header Windows puts before the SMBIOS structure
// table in what GetSystemFirmwareTable('RSMB', 0) returns (Microsoft
// Learn, "GetSystemFirmwareTable function": the RawSMBIOSData structure).
type RawSMBIOSHeader struct {
	Used20CallingMethod uint8
	MajorVersion        uint8 // SMBIOSMajorVersion
	MinorVersion        uint8 // SMBIOSMinorVersion
	DmiRevision         uint8
	Length              uint32 // of the table that follows
}

// rawSMBIOSHeaderSize is the size of RawSMBIOSData before its
// SMBIOSTableData: four BYTEs and a DWORD.
const rawSMBIOSHeaderSize = 8

// maxSMBIOSTable bounds the table accepted: SMBIOS 2.x tables are at most
// 65535 bytes; SMBIOS 3.x allows a 32-bit maximum, and real ones are tens
// of KiB.
const maxSMBIOSTable = 16 << 20

// ParseRawSMBIOSData splits what GetSystemFirmwareTable('RSMB', 0)
// returned into its header and the structure table. A Length that does
// not fit in b is an error (the buffer was cut short), as is a buffer
// shorter than the header.
func ParseRawSMBIOSData(b []byte) (RawSMBIOSHeader, []byte, error) {
	var h RawSMBIOSHeader
	if len(b) < rawSMBIOSHeaderSize {
		return h, nil, fmt.Errorf("SMBIOS firmware table: %d bytes, shorter than the %d-byte RawSMBIOSData header", len(b), rawSMBIOSHeaderSize)
	}
	h = RawSMBIOSHeader{Used20CallingMethod: b[0], MajorVersion: b[1], MinorVersion: b[2], DmiRevision: b[3],
		Length: binary.LittleEndian.Uint32(b[4:])}
	switch {
	case h.Length > maxSMBIOSTable:
		return h, nil, fmt.Errorf("SMBIOS firmware table: Length %d is implausible (more than %d)", h.Length, maxSMBIOSTable)
	case uint64(h.Length) > uint64(len(b)-rawSMBIOSHeaderSize):
		return h, nil, fmt.Errorf("SMBIOS firmware table: Length %d, but only %d bytes follow the header (cut short)", h.Length, len(b)-rawSMBIOSHeaderSize)
	}
	return h, b[rawSMBIOSHeaderSize:][:h.Length], nil
}

// DecodeSMBIOSTable reads the identity strings from an SMBIOS structure
// table ("System Management BIOS (SMBIOS) Reference Specification",
// DMTF DSP0134, section 6.1: each structure is a 4-byte header (Type,
// Length of the formatted area, Handle), the formatted area, then its
// strings, each NUL-terminated, the set ending with an extra NUL; a string
// field holds a 1-based string number, 0 for none). It fills the same
// fields as Linux's /sys/class/dmi/id:
//
//   - type 0 (BIOS Information): Vendor (string at 04h), Version (05h);
//   - type 1 (System Information): Manufacturer (04h), Product Name
//     (05h), Version (06h), Serial Number (07h), UUID (08h, 16 bytes,
//     SMBIOS 2.1+; the first three fields little-endian from SMBIOS 2.6
//     on, big-endian before, as Linux reads it), SKU Number (19h) and
//     Family (1Ah) (SMBIOS 2.4+);
//   - types 2 (Baseboard) and 3 (Chassis): Serial Number (07h).
//
// The first structure of each type counts. Decoding stops at the
// End-of-Table structure (type 127) or at the first damaged structure;
// an error is returned only when no type 1 structure was read.
func DecodeSMBIOSTable(table []byte, major, minor int) (*SMBIOS, error) {
	s := &SMBIOS{}
	seen := map[uint8]bool{}
	var damage error
	for off := 0; off+4 <= len(table); {
		typ, length := table[off], int(table[off+1])
		if length < 4 {
			damage = fmt.Errorf("structure at byte %d (type %d): Length %d, less than its 4-byte header", off, typ, length)
			break
		}
		if off+length > len(table) {
			damage = fmt.Errorf("structure at byte %d (type %d): %d bytes run past the table's %d", off, typ, length, len(table))
			break
		}
		formatted := table[off : off+length]
		// The string set ends with two NULs (a structure without strings
		// has just the two).
		end := bytes.Index(table[off+length:], []byte{0, 0})
		if end < 0 {
			damage = fmt.Errorf("structure at byte %d (type %d): its strings are not terminated", off, typ)
			break
		}
		strs := table[off+length : off+length+end]
		next := off + length + end + 2
		if typ == 127 {
			break
		}
		if !seen[typ] {
			seen[typ] = true
			decodeStructure(s, typ, formatted, strs, major<<8|minor)
		}
		off = next
	}
	if !seen[1] {
		if damage != nil {
			return nil, fmt.Errorf("SMBIOS table: no System Information (type 1) structure before the damage: %w", damage)
		}
		return nil, errors.New("SMBIOS table: no System Information (type 1) structure")
	}
	return s, nil
}

// decodeStructure fills s from one structure's formatted area f and
// string set strs; version is major<<8 | minor.
func decodeStructure(s *SMBIOS, typ uint8, f, strs []byte, version int) {
	str := func(at int) string {
		if at >= len(f) || f[at] == 0 {
			return ""
		}
		n := int(f[at])
		for i, v := range bytes.Split(strs, []byte{0}) {
			if i == n-1 {
				return cleanSMBIOSString(string(v))
			}
		}
		return ""
	}
	switch typ {
	case 0:
		s.BIOSVendor, s.BIOSVersion = str(0x04), str(0x05)
	case 1:
		s.Vendor, s.Model, s.Version, s.Serial = str(0x04), str(0x05), str(0x06), str(0x07)
		if len(f) >= 0x18 {
			s.UUID = smbiosUUID(f[0x08:0x18], version)
		}
		if len(f) >= 0x1B {
			s.SKU, s.Family = str(0x19), str(0x1A)
		}
	case 2:
		s.BoardSerial = str(0x07)
	case 3:
		s.ChassisSerial = str(0x07)
	}
}

// smbiosUUID writes the type 1 UUID as text, upper-case (as ReadSMBIOS
// returns it); "" when the firmware says it is not present (all FF) or
// not set (all 00), or for the placeholders.
func smbiosUUID(u []byte, version int) string {
	if bytes.Equal(u, bytes.Repeat([]byte{0xFF}, 16)) || bytes.Equal(u, make([]byte, 16)) {
		return ""
	}
	var t string
	if version >= 0x0206 {
		t = fmt.Sprintf("%08X-%04X-%04X-%X-%X", binary.LittleEndian.Uint32(u), binary.LittleEndian.Uint16(u[4:]),
			binary.LittleEndian.Uint16(u[6:]), u[8:10], u[10:])
	} else {
		t = fmt.Sprintf("%X-%X-%X-%X-%X", u[0:4], u[4:6], u[6:8], u[8:10], u[10:])
	}
	return strings.ToUpper(cleanSMBIOSString(t))
}

// ReadRawSMBIOS decodes what GetSystemFirmwareTable('RSMB', 0) returned:
// ParseRawSMBIOSData, then DecodeSMBIOSTable with the header's version.
func ReadRawSMBIOS(b []byte) (*SMBIOS, error) {
	h, table, err := ParseRawSMBIOSData(b)
	if err != nil {
		return nil, err
	}
	return DecodeSMBIOSTable(table, int(h.MajorVersion), int(h.MinorVersion))
}
