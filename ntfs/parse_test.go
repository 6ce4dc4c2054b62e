package ntfs

import (
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"testing"
)

// testdata/record-2999.bin is the faulty channel file's MFT record as
// ntfs-3g wrote it on the corpus disk win10-plain-ntfs; the expected values
// come from the corpus manifest (record 2999, 40960 bytes at LCN 2206 for
// 10 clusters, mtime 133658357670000000, DOS name C-0000~4.SYS).
func TestParseRecordChannelFile(t *testing.T) {
	b, err := os.ReadFile("testdata/record-2999.bin")
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseRecord(b, 2999)
	if err != nil {
		t.Fatal(err)
	}
	if !r.InUse() || r.IsDir() || r.LinkCount != 2 || r.BaseRef != 0 {
		t.Fatalf("header: %+v", r)
	}
	var types []AttrType
	for _, a := range r.Attributes {
		types = append(types, a.Type)
	}
	want := []AttrType{AttrStandardInformation, AttrFileName, AttrFileName, AttrData}
	if len(types) != len(want) {
		t.Fatalf("attributes %v", types)
	}
	for i := range want {
		if types[i] != want[i] {
			t.Fatalf("attributes %v, want %v", types, want)
		}
	}
	si, err := ParseStandardInformation(r.Attributes[0].Value)
	if err != nil || si.Modified != 133658357670000000 {
		t.Errorf("SI mtime %d, %v", si.Modified, err)
	}
	if got := NTFSTime(si.Modified).Format("2006-01-02T15:04:05Z"); got != "2024-07-19T04:09:27Z" {
		t.Errorf("NTFSTime = %s", got)
	}
	dos, _ := ParseFileName(r.Attributes[1].Value)
	long, _ := ParseFileName(r.Attributes[2].Value)
	if dos.Name != "C-0000~4.SYS" || dos.Namespace != NamespaceDOS || long.Name != "C-00000291-00000000-00000032.sys" || long.Namespace != NamespaceWin32 {
		t.Errorf("names %q (%v), %q (%v)", dos.Name, dos.Namespace, long.Name, long.Namespace)
	}
	d := r.Attributes[3]
	if !d.NonResident || d.DataSize != 40960 || len(d.Runs) != 1 || d.Runs[0] != (Run{VCN: 0, LCN: 2206, Length: 10}) {
		t.Errorf("$DATA: %+v", d)
	}
	// Offsets index Raw: the editor relies on them.
	if binary.LittleEndian.Uint32(r.Raw[d.Offset:]) != uint32(AttrData) {
		t.Errorf("$DATA offset %d does not point at its header", d.Offset)
	}
}

func TestFixupsDetectTornWrite(t *testing.T) {
	b, _ := os.ReadFile("testdata/record-2999.bin")
	b[1022] ^= 0xff // the second stride's update sequence number
	_, err := ParseRecord(b, 2999)
	var fe *FormatError
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "torn") {
		t.Fatalf("torn record: %v", err)
	}
	if !errors.As(err, &fe) || fe.Structure != "MFT record 2999" || fe.Field != "update sequence number" || fe.Offset != 1022 {
		t.Fatalf("torn record: %#v, want MFT record 2999, update sequence number at 1022", fe)
	}
	b, _ = os.ReadFile("testdata/record-2999.bin")
	if _, err := ParseRecord(b, 3000); err == nil || !strings.Contains(err.Error(), "record 2999") {
		t.Fatalf("misplaced record: %v", err)
	} else if !errors.As(err, &fe) || fe.Structure != "MFT record 3000" || fe.Field != "record number" || fe.Offset != MFTOffRecordNumber {
		t.Fatalf("misplaced record: %#v, want its record number field", fe)
	}
	b, _ = os.ReadFile("testdata/indx-system32.bin")
	b[4096-2] ^= 1
	if _, err := ParseIndexBlock(b, true); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("torn INDX: %v", err)
	} else if !errors.As(err, &fe) || fe.Structure != "INDX block" || fe.Field != "update sequence number" || fe.Offset != 4096-2 {
		t.Fatalf("torn INDX: %#v, want INDX block, update sequence number at 4094", fe)
	}
}

func TestIndexBlockSeed(t *testing.T) {
	b, _ := os.ReadFile("testdata/indx-system32.bin")
	n, err := ParseIndexBlock(b, true)
	if err != nil {
		t.Fatal(err)
	}
	if n.HeaderOffset != 24 || len(n.Entries) < 3 || !n.Entries[len(n.Entries)-1].IsEnd() {
		t.Fatalf("node: %d entries", len(n.Entries))
	}
	ascii := make([]uint16, 65536)
	for i := range ascii {
		ascii[i] = uint16(i)
		if i >= 'a' && i <= 'z' {
			ascii[i] = uint16(i - 32)
		}
	}
	for i := 1; i < len(n.Entries)-1; i++ {
		a, b := n.Entries[i-1].FileName, n.Entries[i].FileName
		if CollateFileNames(ascii, a.NameUTF16, b.NameUTF16) >= 0 {
			t.Errorf("entries %q, %q out of order", a.Name, b.Name)
		}
		if a.Parent.Record() != 66 {
			t.Errorf("%q: parent %v, want System32 (66)", a.Name, a.Parent)
		}
	}
}

func TestDecodeRunList(t *testing.T) {
	for _, tc := range []struct {
		in   []byte
		want []Run
		bad  bool
	}{
		{in: []byte{0x21, 0x0a, 0x9e, 0x08, 0x00}, want: []Run{{0, 2206, 10}}},
		// 0x30 clusters at 0x60, then a delta of -0x10 (0xfff0) for 0x10, then 8 sparse.
		{in: []byte{0x11, 0x30, 0x60, 0x21, 0x10, 0xf0, 0xff, 0x01, 0x08, 0x00}, want: []Run{{0, 0x60, 0x30}, {0x30, 0x50, 0x10}, {0x40, SparseLCN, 8}}},
		{in: []byte{0x21, 0x0a, 0x9e}, bad: true},                // truncated pair
		{in: []byte{0x21, 0x0a, 0x9e, 0x08}, bad: true},          // no terminator
		{in: []byte{0x11, 0x00, 0x10, 0x00}, bad: true},          // zero length
		{in: []byte{0x11, 0xff, 0x10, 0x00}, bad: true},          // negative length
		{in: []byte{0x11, 0x01, 0xf0, 0x00}, bad: true},          // LCN below 0
		{in: []byte{0x09, 1, 2, 3, 4, 5, 6, 7, 8, 9}, bad: true}, // 9-byte length
	} {
		got, err := DecodeRunList(tc.in, 0)
		if tc.bad {
			if err == nil {
				t.Errorf("%x: no error", tc.in)
			}
			continue
		}
		if err != nil || len(got) != len(tc.want) {
			t.Errorf("%x: %v %v", tc.in, got, err)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%x: run %d = %+v, want %+v", tc.in, i, got[i], tc.want[i])
			}
		}
	}
}

func bootSector(bps uint16, spc, rec, idx byte) []byte {
	s := make([]byte, 512)
	copy(s[3:], "NTFS    ")
	binary.LittleEndian.PutUint16(s[0x0b:], bps)
	s[0x0d] = spc
	binary.LittleEndian.PutUint64(s[0x28:], 1<<20)
	binary.LittleEndian.PutUint64(s[0x30:], 4)
	binary.LittleEndian.PutUint64(s[0x38:], 100)
	s[0x40], s[0x44] = rec, idx
	s[510], s[511] = 0x55, 0xaa
	return s
}

func TestParseBootSector(t *testing.T) {
	b, err := ParseBootSector(bootSector(512, 8, 0xf6, 1))
	if err != nil || b.ClusterSize != 4096 || b.RecordSize != 1024 || b.IndexBlockSize != 4096 {
		t.Fatalf("%+v %v", b, err)
	}
	// 4Kn: 4 KiB sectors, one-cluster (4 KiB) records.
	b, err = ParseBootSector(bootSector(4096, 1, 1, 1))
	if err != nil || b.RecordSize != 4096 || b.ClusterSize != 4096 {
		t.Fatalf("4Kn: %+v %v", b, err)
	}
	// 128 KiB clusters: sectors per cluster coded as 2^(256-0xf8).
	b, err = ParseBootSector(bootSector(512, 0xf8, 0xf6, 0xf4))
	if err != nil || b.ClusterSize != 128<<10 || b.IndexBlockSize != 4096 {
		t.Fatalf("large clusters: %+v %v", b, err)
	}
	for name, c := range map[string]struct {
		s     []byte
		field string
		off   int64
	}{
		"sector size 1000": {bootSector(1000, 8, 0xf6, 1), "bytes per sector", 0x0B},
		"sector size 8192": {bootSector(8192, 1, 0xf6, 1), "bytes per sector", 0x0B},
		"zero spc":         {bootSector(512, 0, 0xf6, 1), "sectors per cluster", 0x0D},
		"spc 3":            {bootSector(512, 3, 0xf6, 1), "sectors per cluster", 0x0D},
		"256-byte records": {bootSector(512, 8, 0xf8, 1), "MFT record size", 0x40},
		"record code 0":    {bootSector(512, 8, 0, 1), "MFT record size", 0x40},
		"index code 0x80":  {bootSector(512, 8, 0xf6, 0x80), "index block size", 0x44},
		"no 0x55AA":        {func() []byte { s := bootSector(512, 8, 0xf6, 1); s[510] = 0; return s }(), "end-of-sector marker", 0x1FE},
		"MFT past the end": {func() []byte {
			s := bootSector(512, 8, 0xf6, 1)
			binary.LittleEndian.PutUint64(s[0x30:], 1<<40)
			return s
		}(), "$MFT LCN", 0x30},
		"no sectors": {func() []byte { s := bootSector(512, 8, 0xf6, 1); binary.LittleEndian.PutUint64(s[0x28:], 0); return s }(), "total sectors", 0x28},
	} {
		_, err := ParseBootSector(c.s)
		var fe *FormatError
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v", name, err)
		} else if !errors.As(err, &fe) || fe.Structure != "boot sector" || fe.Field != c.field || fe.Offset != c.off {
			t.Errorf("%s: %#v, want boot sector field %q at %#x", name, fe, c.field, c.off)
		}
	}
	s := bootSector(512, 8, 0xf6, 1)
	copy(s[3:], "-FVE-FS-")
	if _, err := ParseBootSector(s); !errors.Is(err, ErrNotNTFS) {
		t.Errorf("BitLocker header: %v", err)
	}
}

func TestFormatErrorNamesStructureFieldOffset(t *testing.T) {
	for name, c := range map[string]struct {
		err       error
		structure string
		field     string
		off       int64
	}{
		"run list header": {func() error { _, err := DecodeRunList([]byte{0x11, 5, 1, 0x90, 0}, 0); return err }(), "run list", "header byte", 3},
		"attribute length": {func() error {
			rec := make([]byte, 64)
			binary.LittleEndian.PutUint32(rec[0:], uint32(AttrData))
			binary.LittleEndian.PutUint32(rec[4:], 20)
			_, err := ParseAttribute(rec, 0)
			return err
		}(), "$DATA", "length", AttrOffLength},
		"$FILE_NAME namespace": {func() error {
			v := make([]byte, 68)
			v[64], v[65] = 1, 9
			_, err := ParseFileName(v)
			return err
		}(), "$FILE_NAME", "namespace", 65},
	} {
		var fe *FormatError
		if !errors.As(c.err, &fe) || !errors.Is(c.err, ErrCorrupt) {
			t.Errorf("%s: %v, want a *FormatError", name, c.err)
			continue
		}
		if fe.Structure != c.structure || fe.Field != c.field || fe.Offset != c.off {
			t.Errorf("%s: %#v, want %s field %q at %d", name, fe, c.structure, c.field, c.off)
		}
	}
}
