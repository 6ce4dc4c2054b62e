package edit

import (
	"fmt"
	"sort"

	"github.com/unbrick/unbrick/ntfs"
)

// Bitmaps a delete clears: $MFT:$BITMAP (one bit per MFT record, in record
// 0), $Bitmap's $DATA (one bit per cluster, record 6) and a directory's
// $I30 $BITMAP (one bit per INDX block). Bit n is bit n%8 (least
// significant first) of byte n/8. A bitmap is a resident attribute value
// (an MFT record edit) or non-resident data (the sectors holding the
// changed bytes are rewritten, nothing else).

// rec returns the planner's working image of MFT record n (loaded once, so
// that every edit of one record accumulates in one image).
func (p *planner) rec(n uint64) (*recImage, error) {
	if p.recs == nil {
		p.recs = map[uint64]*recImage{}
	}
	if ri, ok := p.recs[n]; ok {
		return ri, nil
	}
	r, err := p.v.ReadRecord(n)
	if err != nil {
		return nil, err
	}
	ri := newRecImage(r)
	p.recs[n] = ri
	return ri, nil
}

// bitRange is a run of bits [Start, Start+Len).
type bitRange struct{ Start, Len int64 }

// clearBits clears the given bits of the bitmap attribute (type t, name) of
// f. Every bit must be set now: a clear bit means the volume is already
// inconsistent, and the delete is refused. The edit is recorded as commits
// (one per MFT record or per run of contiguous bitmap bytes).
func (p *planner) clearBits(f *ntfs.File, t ntfs.AttrType, name string, ranges []bitRange, what string) error {
	rs := make([]bitRange, 0, len(ranges))
	for _, r := range ranges {
		if r.Len > 0 {
			rs = append(rs, r)
		}
	}
	if len(rs) == 0 {
		return nil
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].Start < rs[j].Start })
	for i := range rs {
		if rs[i].Start < 0 {
			return ntfs.Corrupt(what, -1, "bit", "negative bit %d", rs[i].Start)
		}
		if i > 0 && rs[i].Start < rs[i-1].Start+rs[i-1].Len {
			return ntfs.Corrupt(what, rs[i].Start/8, "bit", "bit %d would be freed twice (cross-linked structure)", rs[i].Start)
		}
	}
	a := f.FindAttr(t, name)
	if a == nil {
		return ntfs.Corrupt(fmt.Sprintf("MFT record %d", f.Base.Number), -1, "", "has no %v %q", t, name)
	}
	clearIn := func(buf []byte, firstByte int64, r bitRange) error {
		for b := r.Start; b < r.Start+r.Len; b++ {
			k := b/8 - firstByte
			if k < 0 || k >= int64(len(buf)) {
				return ntfs.Corrupt(what, b/8, "bit", "bit %d is past the bitmap", b)
			}
			if buf[k]&(1<<(b%8)) == 0 {
				return ntfs.Corrupt(what, b/8, "bit", "bit %d is already clear (the volume is inconsistent; run chkdsk)", b)
			}
			buf[k] &^= 1 << (b % 8)
		}
		return nil
	}
	if !a.NonResident {
		ri, err := p.rec(a.Record)
		if err != nil {
			return err
		}
		off, err := ri.findAttr(t, name, int(a.Instance))
		if err != nil {
			return err
		}
		val, err := ri.residentValue(off)
		if err != nil {
			return err
		}
		for _, r := range rs {
			if err := clearIn(val, 0, r); err != nil {
				return err
			}
		}
		return p.commitRecordImage(ri, fmt.Sprintf("MFT record %d: %s (resident bitmap)", ri.num, what))
	}
	ra, size, err := f.AttrReader(t, name)
	if err != nil {
		return err
	}
	rr, ok := ra.(*ntfs.RunReader)
	if !ok {
		return fmt.Errorf("ntfs: %s: bitmap is compressed or encrypted", what)
	}
	// Group ranges whose bytes touch or overlap.
	for i := 0; i < len(rs); {
		first := rs[i].Start / 8
		last := (rs[i].Start + rs[i].Len - 1) / 8
		j := i + 1
		for j < len(rs) && rs[j].Start/8 <= last+1 {
			last = max(last, (rs[j].Start+rs[j].Len-1)/8)
			j++
		}
		if last >= size {
			return ntfs.Corrupt(what, int64(last), "bit", "bit %d is past the %d-byte bitmap", 8*last, size)
		}
		exts, err := rr.Extents(first, int(last-first+1))
		if err != nil {
			return err
		}
		buf := make([]byte, 0, last-first+1)
		for _, e := range exts {
			b, err := p.readPlanned(e.Offset, e.Length)
			if err != nil {
				return err
			}
			buf = append(buf, b...)
		}
		for _, r := range rs[i:j] {
			if err := clearIn(buf, first, r); err != nil {
				return err
			}
		}
		lastBit := rs[j-1].Start + rs[j-1].Len - 1
		pos := 0
		for _, e := range exts {
			w := fmt.Sprintf("%s: bits %d-%d cleared", what, rs[i].Start, lastBit)
			if err := p.commitVolumeBytes(fmt.Sprintf("bytes:%d", e.Offset), e.Offset, buf[pos:pos+e.Length], w); err != nil {
				return err
			}
			pos += e.Length
		}
		i = j
	}
	return nil
}

// runRanges lists the cluster ranges of the non-sparse runs.
func runRanges(runs []ntfs.Run) []bitRange {
	var out []bitRange
	for _, r := range runs {
		if !r.Sparse() && r.Length > 0 {
			out = append(out, bitRange{r.LCN, r.Length})
		}
	}
	return out
}
