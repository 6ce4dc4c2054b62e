package regf

import (
	"bytes"
	"testing"
)

// FuzzParseBaseBlock: no input panics the base block parser, and a block
// it accepts has a consistent size.
func FuzzParseBaseBlock(f *testing.F) {
	f.Add(buildHive(testSystem())[:BaseBlockSize])
	f.Add(make([]byte, BaseBlockSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		bb, err := ParseBaseBlock(b)
		if err == nil && int64(BaseBlockSize)+int64(bb.BinsSize) > int64(len(b)) {
			t.Fatalf("accepted %d bytes of bins in a %d-byte file", bb.BinsSize, len(b))
		}
	})
}

// FuzzWalk: no input panics or hangs the bin/cell walker, the key and
// value readers, or PlanDisableService (the checksum is fixed up and the
// sequence numbers made equal first, so that the fuzzer reaches the cells);
// a plan that is made applies and verifies.
func FuzzWalk(f *testing.F) {
	f.Add(buildHive(testSystem()))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) >= 512 {
			copy(b[8:12], b[4:8])
			le.PutUint32(b[508:], Checksum(b))
		}
		h, err := Parse(b)
		if err != nil {
			return
		}
		_ = h.WalkCells(func(Cell) error { return nil })
		if root, err := h.Root(); err == nil {
			budget := 2000
			walk(root, 0, &budget)
		}
		orig := bytes.Clone(b)
		p, err := PlanDisableService(b, "CSAgent")
		if !bytes.Equal(b, orig) {
			t.Fatal("planning wrote to the hive")
		}
		if err != nil {
			return
		}
		if err := Apply(b, p); err != nil {
			t.Fatalf("Apply of a fresh plan: %v", err)
		}
		if err := Verify(b, "CSAgent"); err != nil {
			// two control sets may share the Start bytes only in a
			// corrupt hive; Verify must then still agree after Apply
			t.Fatalf("Verify after Apply: %v", err)
		}
	})
}

// walk visits keys to a bounded depth and number (a corrupt hive may have
// cycles, and one list may name the same key many times).
func walk(k *Key, depth int, budget *int) {
	if depth > 6 || *budget <= 0 {
		return
	}
	*budget--
	_, _ = k.Values()
	subs, err := k.Subkeys()
	if err != nil {
		return
	}
	for _, s := range subs {
		walk(s, depth+1, budget)
	}
}
