package regf

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// TestBuiltHiveLists: subkey lists of every kind (ri of lh, li, lh, lf),
// 4-byte data in its own cell, a UTF-16 key name; hivex reads the result
// before and after the change.
func TestBuiltHiveLists(t *testing.T) {
	hive := buildHive(testSystem())
	if err := mustParse(t, hive).WalkCells(nil); err != nil {
		t.Fatal(err)
	}
	if got := hivexget(t, hive, `ControlSet001\Services\CSAgent`, "Start"); got != "1" {
		t.Fatalf("hivex reads the built hive's Start as %q", got)
	}
	orig := bytes.Clone(hive)
	p, err := PlanDisableService(hive, "csagent")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Sets) != 2 || p.Sets[0].Inline || !p.Sets[1].Inline || p.Sets[0].Old != 1 || p.Sets[1].Old != 0 {
		t.Fatalf("plan:\n%s%+v", p, p.Sets)
	}
	if err := Apply(hive, p); err != nil {
		t.Fatal(err)
	}
	if err := Verify(hive, "CSAGENT"); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`ControlSet001\Services\CSAgent`, `ControlSet003\Services\CSAgent`} {
		if got := hivexget(t, hive, k, "Start"); got != "4" {
			t.Errorf("hivexget %s Start: %q", k, got)
		}
	}
	d := exportDiff(t, hivexExport(t, orig), hivexExport(t, hive))
	if len(d) != 2 {
		t.Fatalf("export diff: %q", d)
	}
}

func mustParse(t *testing.T, b []byte) *Hive {
	t.Helper()
	h, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestFormatErrors: damaged structures are *FormatError naming the
// structure, the file offset and the field.
func TestFormatErrors(t *testing.T) {
	good := buildHive(testSystem())
	h := mustParse(t, good)
	root, _ := h.Root()
	cs1, _ := root.Subkey("ControlSet001")
	svcs, _ := cs1.Subkey("Services")
	riOff := le.Uint32(svcs.nk[nkSubkeyList:])
	firstLh := le.Uint32(good[FileOffset(riOff)+4+4:])

	cases := []struct {
		name      string
		edit      func(b []byte)
		structure string
		offset    int64
		field     string
	}{
		{"signature", func(b []byte) { b[0] = 'R' }, "base block", 0, "Signature"},
		{"major", func(b []byte) { le.PutUint32(b[20:], 2) }, "base block", 20, "Major version"},
		{"log file", func(b []byte) { le.PutUint32(b[28:], 6) }, "base block", 28, "File type"},
		{"bins size", func(b []byte) { le.PutUint32(b[40:], 8192) }, "base block", 40, "Hive bins data size"},
		{"root", func(b []byte) { le.PutUint32(b[36:], 1<<20) }, "base block", 36, "Root cell offset"},
		{"hbin signature", func(b []byte) { b[4096] = 'H' }, "hbin", 4096, "Signature"},
		{"hbin offset", func(b []byte) { b[4096+4] = 8 }, "hbin", 4100, "Offset"},
		{"hbin size", func(b []byte) { le.PutUint32(b[4096+8:], 100) }, "hbin", 4104, "Size"},
		{"cell size", func(b []byte) { le.PutUint32(b[4096+32:], 0xfffffff4) }, "cell", 4128, "Size"},
		{"ri to ri", func(b []byte) { le.PutUint32(b[FileOffset(riOff)+8:], riOff) }, "ri", FileOffset(riOff) + 4, "Signature"},
		{"list count", func(b []byte) { le.PutUint16(b[FileOffset(firstLh)+6:], 300) }, "lh", FileOffset(firstLh) + 6, "Number of elements"},
		{"subkey count high", func(b []byte) { le.PutUint32(b[FileOffset(svcs.Off)+4+nkSubkeys:], 7) }, "nk", FileOffset(svcs.Off) + 4 + nkSubkeys, "Number of subkeys"},
		{"subkey count low", func(b []byte) { le.PutUint32(b[FileOffset(svcs.Off)+4+nkSubkeys:], 2) }, "lh", FileOffset(firstLh) + 6, "Number of elements"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := bytes.Clone(good)
			c.edit(b)
			if c.offset != 0 || c.structure != "base block" {
				le.PutUint32(b[508:], Checksum(b)) // only the field is wrong
			}
			_, err := PlanDisableService(b, "CSAgent")
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error %T %v, want *FormatError", err, err)
			}
			if fe.Structure != c.structure || fe.Offset != c.offset || fe.Field != c.field {
				t.Fatalf("got %q (%s, 0x%x, %q), want (%s, 0x%x, %q)", err, fe.Structure, fe.Offset, fe.Field, c.structure, c.offset, c.field)
			}
		})
	}
}

// TestChecksum: XOR of the 127 dwords, with 0 -> 1 and 0xFFFFFFFF -> 0xFFFFFFFE.
func TestChecksum(t *testing.T) {
	b := make([]byte, 512)
	if got := Checksum(b); got != 1 {
		t.Errorf("all zero: 0x%x, want 1", got)
	}
	le.PutUint32(b[100:], 0xffffffff)
	if got := Checksum(b); got != 0xfffffffe {
		t.Errorf("xor -1: 0x%x, want 0xfffffffe", got)
	}
	le.PutUint32(b[0:], 0x12345678)
	le.PutUint32(b[508:], 0xdeadbeef) // the checksum field is not covered
	if got := Checksum(b); got != 0x12345678^0xffffffff {
		t.Errorf("got 0x%x", got)
	}
	fx := fixture(t) // hivex wrote this checksum
	bb, err := ParseBaseBlock(fx)
	if err != nil || !bb.ChecksumOK() || !bb.Clean() {
		t.Fatalf("fixture base block: %v %+v", err, bb)
	}
}

// TestTooLarge: the whole-read limit.
func TestTooLarge(t *testing.T) {
	if _, err := readLimited(io.LimitReader(zeros{}, 1<<20+1), 1<<20); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("ReadHive: %v", err)
	}
	b, err := ReadHive(bytes.NewReader(fixture(t)))
	if err != nil || len(b) == 0 {
		t.Fatal(err)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }
