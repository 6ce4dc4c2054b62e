package ntfs

import (
	"os"
	"testing"
)

// The fuzz targets feed arbitrary bytes to the parsers of on-disk
// structures; they must return errors, never panic, never loop. Seeds are
// real structures made by mkntfs/ntfs-3g (testdata/, cut from the corpus).

func seed(f *testing.F, name string) []byte {
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		f.Fatal(err)
	}
	return b
}

func FuzzRecord(f *testing.F) {
	for _, n := range []string{"record-0.bin", "record-5.bin", "record-66.bin", "record-2999.bin"} {
		f.Add(seed(f, n))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, size := range []int{1024, 4096} {
			buf := make([]byte, size)
			copy(buf, b)
			r, err := ParseRecord(buf, 2999)
			if err != nil {
				continue
			}
			for _, a := range r.Attributes {
				if a.Offset+a.Length > r.BytesInUse {
					t.Fatalf("attribute %v at %d+%d past bytes in use %d", a.Type, a.Offset, a.Length, r.BytesInUse)
				}
				parseValue(a)
			}
		}
	})
}

// parseValue runs the typed decoder that matches an attribute.
func parseValue(a *Attribute) {
	if a.NonResident {
		return
	}
	switch a.Type {
	case AttrStandardInformation:
		ParseStandardInformation(a.Value)
	case AttrFileName:
		ParseFileName(a.Value)
	case AttrAttributeList:
		ParseAttributeList(a.Value)
	case AttrVolumeInformation:
		ParseVolumeInformation(a.Value)
	case AttrIndexRoot:
		ParseIndexRoot(a.Value, a.Name == "$I30")
	case AttrReparsePoint:
		ParseReparsePoint(a.Value)
	}
}

func FuzzAttribute(f *testing.F) {
	for _, n := range []string{"record-0.bin", "record-5.bin", "record-2999.bin"} {
		b := seed(f, n)
		r, err := ParseRecord(b, 0)
		if err != nil {
			continue
		}
		for _, a := range r.Attributes {
			f.Add(append([]byte(nil), r.Raw[a.Offset:a.Offset+a.Length]...))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseAttribute(b, 0)
		if err != nil {
			return
		}
		if a.Length > len(b) {
			t.Fatalf("attribute length %d > %d", a.Length, len(b))
		}
		parseValue(a)
		// Every typed decoder must also survive the raw bytes.
		ParseStandardInformation(b)
		ParseFileName(b)
		ParseAttributeList(b)
		ParseVolumeInformation(b)
		ParseIndexRoot(b, true)
		ParseReparsePoint(b)
	})
}

func FuzzRunList(f *testing.F) {
	f.Add([]byte{0x21, 0x18, 0x34, 0x56, 0x00})
	f.Add([]byte{0x11, 0x30, 0x60, 0x21, 0x10, 0x00, 0x01, 0x01, 0x08, 0x00})
	f.Add([]byte{0x31, 0x01, 0x2c, 0x38, 0x00, 0x01, 0x0f, 0x21, 0x08, 0xfc, 0xff, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		runs, err := DecodeRunList(b, 0)
		if err != nil {
			return
		}
		next := int64(0)
		for _, r := range runs {
			if r.VCN != next || r.Length <= 0 || (r.LCN < 0 && !r.Sparse()) {
				t.Fatalf("bad run %+v after VCN %d", r, next)
			}
			next += r.Length
		}
	})
}

func FuzzIndexBlock(f *testing.F) {
	f.Add(seed(f, "indx-system32.bin"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, size := range []int{4096, 512} {
			buf := make([]byte, size)
			copy(buf, b)
			n, err := ParseIndexBlock(buf, true)
			if err != nil {
				continue
			}
			if len(n.Entries) == 0 || !n.Entries[len(n.Entries)-1].IsEnd() {
				t.Fatalf("node without a final END entry")
			}
			for _, e := range n.Entries {
				if e.Offset+e.Length > len(buf) {
					t.Fatalf("entry past the block")
				}
			}
		}
		ParseIndexRoot(b, true)
	})
}
