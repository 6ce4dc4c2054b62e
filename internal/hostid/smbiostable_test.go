package hostid

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

// structure builds one SMBIOS structure (DSP0134 6.1.2): header, the
// formatted area after the header, then the strings and the closing NULs.
func structure(typ uint8, handle uint16, formatted []byte, strs ...string) []byte {
	b := []byte{typ, uint8(4 + len(formatted)), byte(handle), byte(handle >> 8)}
	b = append(b, formatted...)
	for _, s := range strs {
		b = append(b, s...)
		b = append(b, 0)
	}
	if len(strs) == 0 {
		b = append(b, 0)
	}
	return append(b, 0)
}

// dellUUID is a type 1 UUID field as a Dell stores it; Linux (SMBIOS 2.6+,
// first three fields little-endian) shows it as
// 4c4c4544-0043-3510-8052-b4c04f4e4a32, the value TestReadSMBIOSFake
// reads from sysfs.
var dellUUID = []byte{0x44, 0x45, 0x4c, 0x4c, 0x43, 0x00, 0x10, 0x35, 0x80, 0x52, 0xb4, 0xc0, 0x4f, 0x4e, 0x4a, 0x32}

// sampleTable is a table as a laptop's firmware lays it out: BIOS,
// System (SMBIOS 2.4+ length 1Bh, with SKU and Family), Baseboard with a
// placeholder serial, Chassis, a second System structure that must not
// count, and End-of-Table.
func sampleTable() []byte {
	var t []byte
	// Type 0: Vendor 1, Version 2, Starting Address Segment, Release Date 3, ROM size.
	t = append(t, structure(0, 0, []byte{1, 2, 0x00, 0xF0, 3, 0xFF}, "LENOVO", "N32ET86W (1.62 )", "06/01/2024")...)
	// Type 1: Manufacturer 1, Product 2, Version 3, Serial 4, UUID, Wake-up, SKU 5, Family 6.
	f1 := append([]byte{1, 2, 3, 4}, dellUUID...)
	f1 = append(f1, 6, 5, 3) // Wake-up Type 6 (power switch), SKU string 5, Family reuses string 3
	t = append(t, structure(1, 1, f1, "LENOVO", "20XW0055GE", "ThinkPad X1 Carbon Gen 9", "PF2ABCDE", "LENOVO_MT_20XW_BU_Think_FM_ThinkPad X1 Carbon Gen 9")...)
	t = append(t, structure(2, 2, []byte{1, 2, 0, 3}, "LENOVO", "20XW0055GE", "To be filled by O.E.M.")...)
	t = append(t, structure(3, 3, []byte{1, 0x0A, 0, 2}, "LENOVO", "  CH1234  ")...)
	t = append(t, structure(1, 4, []byte{1, 1, 1, 1}, "SECOND")...)
	t = append(t, structure(127, 5, nil)...)
	return t
}

func raw(major, minor uint8, table []byte) []byte {
	b := []byte{0, major, minor, 0, 0, 0, 0, 0}
	binary.LittleEndian.PutUint32(b[4:], uint32(len(table)))
	return append(b, table...)
}

func TestReadRawSMBIOS(t *testing.T) {
	s, err := ReadRawSMBIOS(raw(3, 2, sampleTable()))
	if err != nil {
		t.Fatal(err)
	}
	want := SMBIOS{Vendor: "LENOVO", Model: "20XW0055GE", Version: "ThinkPad X1 Carbon Gen 9", Serial: "PF2ABCDE",
		UUID: "4C4C4544-0043-3510-8052-B4C04F4E4A32", SKU: "LENOVO_MT_20XW_BU_Think_FM_ThinkPad X1 Carbon Gen 9",
		Family: "ThinkPad X1 Carbon Gen 9", ChassisSerial: "CH1234", BIOSVendor: "LENOVO", BIOSVersion: "N32ET86W (1.62 )"}
	if *s != want {
		t.Errorf("got  %+v\nwant %+v", *s, want)
	}
	// Before SMBIOS 2.6 the UUID is read in network (big-endian) order.
	s, err = ReadRawSMBIOS(raw(2, 5, sampleTable()))
	if err != nil || s.UUID != "44454C4C-4300-1035-8052-B4C04F4E4A32" {
		t.Errorf("SMBIOS 2.5 UUID %q, %v", s.UUID, err)
	}
}

func TestDecodeSMBIOSShortSystem(t *testing.T) {
	// An SMBIOS 2.0 type 1 (8 bytes: no UUID, no SKU/Family) and a UUID
	// the firmware marks as not present in a 2.1 one.
	s, err := DecodeSMBIOSTable(structure(1, 0, []byte{1, 2, 0, 3}, "Acme", "Box", "S1"), 2, 0)
	if err != nil || s.Vendor != "Acme" || s.Model != "Box" || s.Version != "" || s.Serial != "S1" || s.UUID != "" {
		t.Errorf("SMBIOS 2.0: %+v, %v", s, err)
	}
	f := append([]byte{1, 0, 0, 0}, bytes.Repeat([]byte{0xFF}, 16)...)
	s, err = DecodeSMBIOSTable(structure(1, 0, append(f, 0), "Acme"), 2, 1)
	if err != nil || s.UUID != "" || s.SKU != "" {
		t.Errorf("absent UUID: %+v, %v", s, err)
	}
}

// TestRawSMBIOSHostile: lengths that lie never panic and are errors, or
// decode only what is whole.
func TestRawSMBIOSHostile(t *testing.T) {
	good := raw(3, 0, sampleTable())
	cases := map[string][]byte{
		"empty":              nil,
		"short header":       good[:7],
		"length past end":    good[:len(good)-1],
		"length 0xFFFFFFFF":  append([]byte{0, 3, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF}, sampleTable()...),
		"no type 1":          raw(3, 0, structure(0, 0, []byte{1, 2}, "X", "Y")),
		"header length 0":    raw(3, 0, []byte{1, 0, 0, 0, 0, 0}),
		"length past table":  raw(3, 0, []byte{1, 0x40, 0, 0, 1, 0}),
		"strings unended":    raw(3, 0, []byte{1, 5, 0, 0, 1, 'A', 'B'}),
		"table of one byte":  raw(3, 0, []byte{1}),
		"end before type 1":  raw(3, 0, append(structure(127, 0, nil), sampleTable()...)),
		"damage before sys1": raw(3, 0, append([]byte{0, 2, 0, 0}, sampleTable()...)),
	}
	for name, b := range cases {
		if s, err := ReadRawSMBIOS(b); err == nil {
			t.Errorf("%s: accepted: %+v", name, s)
		} else if !strings.Contains(err.Error(), "SMBIOS") {
			t.Errorf("%s: error %q does not say what was read", name, err)
		}
	}
	// Damage after the System structure keeps what was read; a string
	// number past the string set reads as empty.
	tbl := append(structure(1, 0, []byte{1, 9, 0, 0}, "Acme"), 3, 0x30, 0, 0)
	s, err := ReadRawSMBIOS(raw(3, 0, tbl))
	if err != nil || s.Vendor != "Acme" || s.Model != "" {
		t.Errorf("damage after type 1: %+v, %v", s, err)
	}
	// A table followed by more bytes than Length says: only Length counts.
	h, table, err := ParseRawSMBIOSData(append(bytes.Clone(good), 0xAA, 0xBB))
	if err != nil || len(table) != len(sampleTable()) || h.MajorVersion != 3 || h.Length != uint32(len(sampleTable())) {
		t.Errorf("trailing bytes: %+v, %d bytes, %v", h, len(table), err)
	}
}

func FuzzReadRawSMBIOS(f *testing.F) {
	f.Add(raw(3, 2, sampleTable()))
	f.Add(raw(2, 4, structure(1, 0, []byte{1, 2, 3, 4}, "a", "b")))
	f.Add([]byte{0, 3, 0, 0, 0xFF, 0xFF, 0xFF, 0x7F, 1, 4, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ReadRawSMBIOS(b)
		if err == nil && s == nil {
			t.Fatal("nil SMBIOS without an error")
		}
		if len(b) >= 8 {
			DecodeSMBIOSTable(b[8:], int(b[1]), int(b[2]))
		}
	})
}
