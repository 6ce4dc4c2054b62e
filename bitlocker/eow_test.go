package bitlocker

import (
	"testing"
)

// TestEOWLayout checks the plaintext/encrypted/reserved map of the corpus
// encrypt-on-write volume against dissect.fve's test of the same volume
// (tests/bde/test_bde.py, test_bde_eow_partial: runs over 33 chunks of
// 8 MiB from byte 0x2202000). Two facts differ on purpose: dissect starts
// counting chunks at the first sector it is asked for rather than at the
// region start, so its encrypted run begins at sector 401408; the region's
// chunk 20 starts at sector 69648 + 20*16384 = 397328, which is where the
// bitmap says encryption begins. The reserved runs (metadata blocks 2 and 3)
// and the plaintext run before them agree.
func TestEOWLayout(t *testing.T) {
	for _, s := range corpusSources(t, "eow_partial.bin") {
		if s.name != "eow_partial.bin" {
			continue
		}
		v := unlocked(t, s, false)
		in := v.Info()
		if !in.EncryptOnWrite || in.Size != 1072627712 || !in.Short {
			t.Errorf("EOW %v, size %d, short %v", in.EncryptOnWrite, in.Size, in.Short)
		}
		type run struct {
			kind         segKind
			sector, nsec int64
		}
		want := []run{
			{segPlain, 69648, 302976 - 69648},
			{segZero, 302976, 128},
			{segPlain, 303104, 397328 - 303104},
			{segEncrypted, 397328, 536448 - 397328},
			{segZero, 536448, 128},
			{segEncrypted, 536576, (0x2202000+0x800000*33)/512 - 536576},
		}
		var got []run
		off, end := int64(0x2202000), int64(0x2202000+0x800000*33)
		for off < end {
			kind, _, n := v.lay.segment(off, end-off)
			if l := len(got); l > 0 && got[l-1].kind == kind && (got[l-1].sector+got[l-1].nsec)*512 == off {
				got[l-1].nsec += n / 512
			} else {
				got = append(got, run{kind, off / 512, n / 512})
			}
			off += n
		}
		if len(got) != len(want) {
			t.Fatalf("runs %v, want %v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("run %d: %+v, want %+v", i, got[i], want[i])
			}
		}
		// The relocated boot sectors sit in a plaintext chunk: the view's
		// first sectors are the raw sectors there.
		if k, phys, _ := v.lay.segment(0, 512); k != segPlain || phys != in.BootSectorsAt {
			t.Errorf("sector 0: kind %d at %d", k, phys)
		}
		return
	}
	t.Fatal("eow_partial.bin not in the corpus")
}
