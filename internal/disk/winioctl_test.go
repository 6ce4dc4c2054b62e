package disk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"unicode/utf16"
)

// The numbers Microsoft publishes for these codes (winioctl.h as listed in
// the Windows SDK and the Microsoft Learn pages named in doc.go).
func TestIoctlCodes(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want uint32
	}{
		{"IOCTL_STORAGE_QUERY_PROPERTY", ioctlStorageQueryProperty, 0x002D1400},
		{"IOCTL_DISK_GET_LENGTH_INFO", ioctlDiskGetLengthInfo, 0x0007405C},
		{"IOCTL_DISK_GET_DRIVE_GEOMETRY_EX", ioctlDiskGetDriveGeometryEx, 0x000700A0},
		{"IOCTL_VOLUME_GET_VOLUME_DISK_EXTENTS", ioctlVolumeGetVolumeDiskExtents, 0x00560000},
		{"FSCTL_LOCK_VOLUME", fsctlLockVolume, 0x00090018},
		{"FSCTL_UNLOCK_VOLUME", fsctlUnlockVolume, 0x0009001C},
		{"FSCTL_DISMOUNT_VOLUME", fsctlDismountVolume, 0x00090020},
		// Two more published codes, to check ctlCode's bit layout with other
		// access and method values: IOCTL_DISK_SET_DRIVE_LAYOUT_EX
		// (read|write access) and FSCTL_GET_RETRIEVAL_POINTERS (METHOD_NEITHER).
		{"IOCTL_DISK_SET_DRIVE_LAYOUT_EX", ctlCode(7, 0x0015, 0, 3), 0x0007C054},
		{"FSCTL_GET_RETRIEVAL_POINTERS", ctlCode(9, 28, 3, 0), 0x00090073},
	} {
		if c.got != c.want {
			t.Errorf("%s = 0x%08X, want 0x%08X", c.name, c.got, c.want)
		}
	}
}

func TestStoragePropertyQuery(t *testing.T) {
	got := storagePropertyQuery(storageAccessAlignmentProperty, propertyStandardQuery)
	want := []byte{6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	if !bytes.Equal(got, want) {
		t.Errorf("STORAGE_PROPERTY_QUERY = % x, want % x", got, want)
	}
	got = storagePropertyQuery(storageDeviceProperty, 1) // PropertyExistsQuery
	if want := []byte{0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0}; !bytes.Equal(got, want) {
		t.Errorf("STORAGE_PROPERTY_QUERY = % x, want % x", got, want)
	}
}

// deviceDescriptor builds a STORAGE_DEVICE_DESCRIPTOR as a driver returns
// it: the header, then the strings the offsets point at.
func deviceDescriptor(vendor, product, rev, serial string, removable bool, bus uint32) []byte {
	b := make([]byte, 40)
	le := binary.LittleEndian
	le.PutUint32(b[0:], 40)
	b[8] = 0 // direct-access device
	if removable {
		b[10] = 1
	}
	le.PutUint32(b[28:], bus)
	put := func(field int, s string) {
		if s == "" {
			return
		}
		le.PutUint32(b[field:], uint32(len(b)))
		b = append(b, s...)
		b = append(b, 0)
	}
	put(12, vendor)
	put(16, product)
	put(20, rev)
	put(24, serial)
	le.PutUint32(b[4:], uint32(len(b)))
	return b
}

func TestParseStorageDeviceDescriptor(t *testing.T) {
	b := deviceDescriptor("ATA     ", "Samsung SSD 870  ", "SVT01B6Q", "  S6PNNX0T123456A ", true, 0x0B)
	d, err := parseStorageDeviceDescriptor(b)
	if err != nil {
		t.Fatal(err)
	}
	want := storageDeviceDescriptor{Removable: true, BusType: 0x0B, Vendor: "ATA", Product: "Samsung SSD 870", Revision: "SVT01B6Q", Serial: "S6PNNX0T123456A"}
	if d != want {
		t.Errorf("got %+v, want %+v", d, want)
	}

	// No vendor or serial (offset 0): empty, the others still read.
	d, err = parseStorageDeviceDescriptor(deviceDescriptor("", "Virtual Disk", "1.0", "", false, 0x0F))
	if err != nil || d.Vendor != "" || d.Serial != "" || d.Product != "Virtual Disk" || d.BusType != 0x0F {
		t.Errorf("no vendor/serial: %+v, %v", d, err)
	}

	// Hostile offsets: into the header, past the end, 0xFFFFFFFF, and a
	// string without its NUL at the very end.
	h := deviceDescriptor("V", "P", "R", "S", false, 7)
	le := binary.LittleEndian
	le.PutUint32(h[12:], 8)          // into the header
	le.PutUint32(h[16:], 1<<20)      // past the end
	le.PutUint32(h[20:], 0xFFFFFFFF) // max
	h = append(h, 'X', 'Y')          // unterminated
	le.PutUint32(h[4:], uint32(len(h)))
	le.PutUint32(h[24:], uint32(len(h)-2))
	d, err = parseStorageDeviceDescriptor(h)
	if err != nil {
		t.Fatal(err)
	}
	if d.Vendor != "" || d.Product != "" || d.Revision != "" || d.Serial != "XY" {
		t.Errorf("hostile offsets: %+v", d)
	}

	// The Size field bounds the strings: a string past Size is ignored.
	s := deviceDescriptor("", "", "", "SERIAL", false, 7)
	le.PutUint32(s[4:], 40)
	if d, _ := parseStorageDeviceDescriptor(s); d.Serial != "" {
		t.Errorf("serial beyond Size read: %q", d.Serial)
	}

	if _, err := parseStorageDeviceDescriptor(make([]byte, 35)); !errors.Is(err, errShortReply) {
		t.Errorf("35-byte reply: %v, want errShortReply", err)
	}
}

func FuzzParseStorageDeviceDescriptor(f *testing.F) {
	f.Add(deviceDescriptor("ATA", "Model", "1", "SER", false, 3))
	f.Add(make([]byte, 36))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := parseStorageDeviceDescriptor(b)
		if err != nil {
			return
		}
		for _, s := range []string{d.Vendor, d.Product, d.Revision, d.Serial} {
			if len(s) > len(b) {
				t.Fatalf("string %q longer than the reply", s)
			}
			for _, c := range []byte(s) {
				if c < 0x20 || c >= 0x7f {
					t.Fatalf("string %q holds byte %#x", s, c)
				}
			}
		}
	})
}

func TestParseAccessAlignmentAndGeometry(t *testing.T) {
	a := make([]byte, 28)
	binary.LittleEndian.PutUint32(a[16:], 512)
	binary.LittleEndian.PutUint32(a[20:], 4096)
	if l, p, err := parseAccessAlignment(a); err != nil || l != 512 || p != 4096 {
		t.Errorf("512e: %d %d %v", l, p, err)
	}
	binary.LittleEndian.PutUint32(a[16:], 520)
	if _, _, err := parseAccessAlignment(a); err == nil {
		t.Error("520-byte sectors accepted")
	}
	if _, _, err := parseAccessAlignment(a[:27]); !errors.Is(err, errShortReply) {
		t.Errorf("short: %v", err)
	}

	g := make([]byte, 32)
	binary.LittleEndian.PutUint32(g[20:], 4096)
	binary.LittleEndian.PutUint64(g[24:], 1<<40)
	if size, ss, err := parseDriveGeometryEx(g); err != nil || size != 1<<40 || ss != 4096 {
		t.Errorf("geometry: %d %d %v", size, ss, err)
	}
	binary.LittleEndian.PutUint64(g[24:], 1<<63)
	if _, _, err := parseDriveGeometryEx(g); err == nil {
		t.Error("negative disk size accepted")
	}
	if _, _, err := parseDriveGeometryEx(g[:31]); !errors.Is(err, errShortReply) {
		t.Errorf("short: %v", err)
	}

	l := make([]byte, 8)
	binary.LittleEndian.PutUint64(l, 500107862016)
	if n, err := parseLengthInfo(l); err != nil || n != 500107862016 {
		t.Errorf("length: %d %v", n, err)
	}
	if _, err := parseLengthInfo(l[:7]); !errors.Is(err, errShortReply) {
		t.Errorf("short: %v", err)
	}
}

func volumeDiskExtents(count uint32, ext ...diskExtent) []byte {
	b := make([]byte, 8+24*len(ext))
	binary.LittleEndian.PutUint32(b, count)
	for i, e := range ext {
		o := b[8+24*i:]
		binary.LittleEndian.PutUint32(o, e.Disk)
		binary.LittleEndian.PutUint64(o[8:], uint64(e.Start))
		binary.LittleEndian.PutUint64(o[16:], uint64(e.Length))
	}
	return b
}

func TestParseVolumeDiskExtents(t *testing.T) {
	want := []diskExtent{{1, 1 << 20, 100 << 20}, {3, 16 << 20, 1 << 30}}
	got, _, err := parseVolumeDiskExtents(volumeDiskExtents(2, want...))
	if err != nil || len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("got %v %v, want %v", got, err, want)
	}
	// A reply announcing 5 extents in a buffer for 1: retry with 128 bytes.
	_, need, err := parseVolumeDiskExtents(volumeDiskExtents(5, want[0]))
	if !errors.Is(err, errMoreExtents) || need != 8+5*24 {
		t.Errorf("more data: need %d, %v", need, err)
	}
	if _, _, err := parseVolumeDiskExtents(volumeDiskExtents(0xFFFFFFFF)); err == nil || errors.Is(err, errMoreExtents) {
		t.Errorf("4 billion extents: %v, want a refusal, not a retry", err)
	}
	if _, _, err := parseVolumeDiskExtents(volumeDiskExtents(1, diskExtent{0, -1, 5})); err == nil {
		t.Error("negative offset accepted")
	}
	if got, _, err := parseVolumeDiskExtents(volumeDiskExtents(0)); err != nil || len(got) != 0 {
		t.Errorf("no extents: %v %v", got, err)
	}
	if _, _, err := parseVolumeDiskExtents([]byte{1, 0, 0}); !errors.Is(err, errShortReply) {
		t.Errorf("short: %v", err)
	}
}

func TestParseMultiSZ(t *testing.T) {
	u := utf16.Encode([]rune("C:\\\x00D:\\Mount\\Äbc\\\x00\x00garbage"))
	got := parseMultiSZ(u)
	if len(got) != 2 || got[0] != `C:\` || got[1] != `D:\Mount\Äbc\` {
		t.Errorf("got %q", got)
	}
	if got := parseMultiSZ([]uint16{0, 0}); got != nil {
		t.Errorf("empty list: %q", got)
	}
}
