package ntfs

import (
	"io"
	"math/rand/v2"
	"testing"
)

// patched is an io.ReaderAt over base with some bytes replaced.
type patched struct {
	base    io.ReaderAt
	patches map[int64]byte
}

func (p *patched) ReadAt(b []byte, off int64) (int, error) {
	n, err := p.base.ReadAt(b, off)
	for at, c := range p.patches {
		if at >= off && at < off+int64(n) {
			b[at-off] = c
		}
	}
	return n, err
}

// TestCorruptedVolumeNeverPanics damages bytes of MFT records and index
// blocks of a real volume at random and walks everything: every problem
// must come back as an error, never a panic or a hang.
func TestCorruptedVolumeNeverPanics(t *testing.T) {
	cv := openPlainCorpus(t, "win10-plain-ntfs")
	v := cv.vol
	// Regions worth damaging: the records on the CrowdStrike path, the
	// System32 and drivers index blocks, and $MFT's first records.
	var regions []Extent
	for _, n := range []uint64{0, 3, 5, 10, 66, 2995, 2996, 2999} {
		e, err := v.RecordExtents(n)
		if err != nil {
			t.Fatal(err)
		}
		regions = append(regions, e...)
	}
	for _, p := range []string{"Windows", "Windows/System32", "Windows/System32/drivers", "Windows/System32/drivers/CrowdStrike"} {
		d, err := v.Lookup(p)
		if err != nil {
			t.Fatal(err)
		}
		e, _ := v.RecordExtents(d.Ref().Record())
		regions = append(regions, e...)
		ix, err := d.OpenIndex("$I30")
		if err != nil {
			t.Fatal(err)
		}
		for _, en := range ix.Root.Node.Entries {
			if en.HasChild() {
				e, err := ix.BlockExtents(en.ChildVCN)
				if err != nil {
					t.Fatal(err)
				}
				regions = append(regions, e...)
			}
		}
	}
	rng := rand.New(rand.NewPCG(7, 9))
	errs := 0
	for iter := 0; iter < 150; iter++ {
		p := &patched{base: cv.file, patches: map[int64]byte{}}
		for k := 0; k < 1+rng.IntN(6); k++ {
			r := regions[rng.IntN(len(regions))]
			off := r.Offset + int64(rng.IntN(r.Length))
			p.patches[off] = byte(rng.Uint32())
		}
		vol, err := Open(p, v.size)
		if err != nil {
			errs++
			continue
		}
		errs += walkAll(vol, "Windows/System32/drivers/CrowdStrike")
		errs += walkAll(vol, "Windows/System32")
	}
	t.Logf("150 damaged volumes: %d errors reported, no panic", errs)
}

// walkAll lists dir, stats every entry and reads up to 64 KiB of each
// file; it returns how many errors it met.
func walkAll(v *Volume, dir string) int {
	errs := 0
	ents, err := v.ReadDir(dir)
	if err != nil {
		return 1
	}
	buf := make([]byte, 64<<10)
	for _, e := range ents {
		f, err := v.OpenRef(e.Ref)
		if err != nil {
			errs++
			continue
		}
		if _, err := f.Stat(); err != nil {
			errs++
		}
		if r, err := f.OpenStream(""); err == nil {
			if _, err := r.ReadAt(buf, 0); err != nil && err != io.EOF {
				errs++
			}
		}
	}
	for i := 0; i < len(ents); i += 1 + len(ents)/50 {
		if _, err := v.Lookup(dir + "/" + ents[i].Name); err != nil {
			errs++
		}
	}
	return errs
}
