package edit

import (
	"bytes"
	"fmt"

	"github.com/unbrick/unbrick/ntfs"
	"github.com/unbrick/unbrick/ntfs/internal/mst"
)

// The planner records "commits" (one structure reaching the disk in a
// given state) in the crash-safe order, then turns them into sector writes.
// Consecutive commits of the same structure merge into one write (nothing
// can happen between them); other repeated commits stay separate, each a
// complete, consistent image of the structure (fresh update sequence
// number each time).

type commitKind int

const (
	commitRecord commitKind = iota // an MFT record (and its $MFTMirr copy)
	commitBlock                    // an INDX block
	commitBytes                    // raw volume bytes (bitmaps, hiberfil.sys header)
	commitFill                     // a large range filled with one byte value ($LogFile reset)
)

type commit struct {
	kind  commitKind
	key   string // identity for merging
	what  string
	clean []byte        // record/block image without fixups
	exts  []ntfs.Extent // where it lives
	// record/block: update sequence array position and on-disk USN source
	usaOff, usaCount int
	usnKey           string
	// record: also write to $MFTMirr at mirror (when >= 0)
	mirror []ntfs.Extent
	// bytes
	off  int64
	data []byte
	// fill
	n    int64
	fill byte
}

type planner struct {
	v       *ntfs.Volume
	ss      int
	commits []commit
	usn     map[string]uint16 // current on-disk USN per structure
	shadow  map[int64][]byte  // finish: content of sectors already staged
	pending map[int64][]byte  // planning: sectors as the bytes commits so far leave them
	recs    map[uint64]*recImage
	plan    *Plan
}

func newPlanner(v *ntfs.Volume) *planner {
	return &planner{v: v, ss: v.Boot().BytesPerSector, usn: map[string]uint16{}, shadow: map[int64][]byte{}, pending: map[int64][]byte{},
		plan: &Plan{SectorSize: v.Boot().BytesPerSector}}
}

// mirrorExtents returns where record n's copy in $MFTMirr lies, or nil when
// $MFTMirr does not hold record n (ntfs.MFTMirror: the records checkMFTMirr
// compares are a subset of those it holds).
func (p *planner) mirrorExtents(n uint64) ([]ntfs.Extent, error) {
	m, err := p.v.MFTMirror()
	if err != nil {
		return nil, err
	}
	if n >= uint64(m.Held) {
		return nil, nil
	}
	return m.RecordExtents(n, p.v.Boot().RecordSize)
}

// commitRecordImage records that MFT record ri reaches the disk as it is now.
func (p *planner) commitRecordImage(ri *recImage, what string) error {
	exts, err := p.v.RecordExtents(ri.num)
	if err != nil {
		return err
	}
	mir, err := p.mirrorExtents(ri.num)
	if err != nil {
		return err
	}
	key := fmt.Sprintf("rec:%d", ri.num)
	if _, ok := p.usn[key]; !ok {
		p.usn[key] = ri.usn
	}
	p.add(commit{kind: commitRecord, key: key, what: what, clean: append([]byte(nil), ri.buf...), exts: exts,
		usaOff: ri.usaOff, usaCount: ri.usaCount, usnKey: key, mirror: mir})
	return nil
}

// commitBlockImage records that an INDX block reaches the disk.
func (p *planner) commitBlockImage(key string, clean []byte, usaOff, usaCount int, usn uint16, exts []ntfs.Extent, what string) {
	if _, ok := p.usn[key]; !ok {
		p.usn[key] = usn
	}
	p.add(commit{kind: commitBlock, key: key, what: what, clean: append([]byte(nil), clean...), exts: exts,
		usaOff: usaOff, usaCount: usaCount, usnKey: key})
}

// commitVolumeBytes records raw bytes written at a volume offset.
func (p *planner) commitVolumeBytes(key string, off int64, data []byte, what string) error {
	ss := int64(p.ss)
	for pos := off; pos < off+int64(len(data)); {
		sec := pos / ss * ss
		cur, ok := p.pending[sec]
		if !ok {
			var err error
			if cur, err = p.readSectors(sec, 1, nil); err != nil {
				return err
			}
			p.pending[sec] = cur
		}
		take := min(sec+ss-pos, off+int64(len(data))-pos)
		copy(cur[pos-sec:], data[pos-off:pos-off+take])
		pos += take
	}
	p.add(commit{kind: commitBytes, key: key, what: what, off: off, data: append([]byte(nil), data...)})
	return nil
}

// readPlanned returns volume bytes as the bytes commits made so far leave
// them (for edits that build on earlier ones, like two bits of one bitmap
// byte).
func (p *planner) readPlanned(off int64, n int) ([]byte, error) {
	return p.readThrough(off, n, p.pending)
}

// commitFillBytes records that n bytes at off become fill. The range is
// not visible to readPlanned (nothing else edits it).
func (p *planner) commitFillBytes(key string, off, n int64, fill byte, what string) {
	p.add(commit{kind: commitFill, key: key, what: what, off: off, n: n, fill: fill})
}

func (p *planner) add(c commit) {
	if n := len(p.commits); n > 0 && p.commits[n-1].key == c.key && (c.kind == commitRecord || c.kind == commitBlock) {
		p.commits[n-1].clean = c.clean
		if c.what != p.commits[n-1].what {
			p.commits[n-1].what += "; " + c.what
		}
		return
	}
	p.commits = append(p.commits, c)
}

// read returns n volume bytes at off as the writes staged so far leave them.
func (p *planner) read(off int64, n int) ([]byte, error) { return p.readThrough(off, n, p.shadow) }

// readSectors reads count whole sectors at sec (through overlay if set).
func (p *planner) readSectors(sec int64, count int, overlay map[int64][]byte) ([]byte, error) {
	return p.readThrough(sec, count*p.ss, overlay)
}

func (p *planner) readThrough(off int64, n int, overlay map[int64][]byte) ([]byte, error) {
	out := make([]byte, n)
	ss := int64(p.ss)
	for pos := off; pos < off+int64(n); {
		sec := pos / ss * ss
		within := pos - sec
		take := min(ss-within, off+int64(n)-pos)
		if b, ok := overlay[sec]; ok {
			copy(out[pos-off:], b[within:within+take])
		} else {
			buf := make([]byte, ss)
			if k, err := p.v.Device().ReadAt(buf, sec); k < len(buf) {
				return nil, fmt.Errorf("ntfs: read sector at %#x: %w", sec, eofIsUnexpected(err))
			}
			copy(out[pos-off:], buf[within:within+take])
		}
		pos += take
	}
	return out, nil
}

// stage turns "these bytes at off" into sector-aligned writes of the sectors
// that change, and updates the shadow.
func (p *planner) stage(off int64, data []byte, what string) error {
	ss := int64(p.ss)
	start := off / ss * ss
	end := (off + int64(len(data)) + ss - 1) / ss * ss
	before, err := p.read(start, int(end-start))
	if err != nil {
		return err
	}
	after := append([]byte(nil), before...)
	copy(after[off-start:], data)
	// One write per run of changed sectors.
	for s := int64(0); s < end-start; {
		if bytes.Equal(before[s:s+ss], after[s:s+ss]) {
			s += ss
			continue
		}
		e := s + ss
		for e < end-start && !bytes.Equal(before[e:e+ss], after[e:e+ss]) {
			e += ss
		}
		p.plan.Writes = append(p.plan.Writes, Write{Offset: start + s, Before: before[s:e:e], After: after[s:e:e], What: what})
		for k := s; k < e; k += ss {
			p.shadow[start+k] = after[k : k+ss : k+ss]
		}
		s = e
	}
	return nil
}

// stageExtents writes data across the extents in order.
func (p *planner) stageExtents(exts []ntfs.Extent, data []byte, what string) error {
	pos := 0
	for i, e := range exts {
		if pos+e.Length > len(data) {
			return fmt.Errorf("ntfs: %s: extents cover more than the %d-byte structure", what, len(data))
		}
		w := what
		if len(exts) > 1 {
			w = fmt.Sprintf("%s (part %d/%d)", what, i+1, len(exts))
		}
		if err := p.stage(e.Offset, data[pos:pos+e.Length], w); err != nil {
			return err
		}
		pos += e.Length
	}
	if pos != len(data) {
		return fmt.Errorf("ntfs: %s: extents cover %d of %d bytes", what, pos, len(data))
	}
	return nil
}

// finish materializes the commits into the plan's writes.
func (p *planner) finish() (*Plan, error) {
	for _, c := range p.commits {
		switch c.kind {
		case commitBytes:
			if err := p.stage(c.off, c.data, c.what); err != nil {
				return nil, err
			}
		case commitFill:
			if err := p.stageFill(c.off, c.n, c.fill, c.what); err != nil {
				return nil, err
			}
		case commitRecord, commitBlock:
			raw, n, err := mst.Protect(c.clean, c.usaOff, c.usaCount, p.usn[c.usnKey])
			if err != nil {
				return nil, fmt.Errorf("ntfs: %s: %w", c.what, err)
			}
			p.usn[c.usnKey] = n
			if err := p.stageExtents(c.exts, raw, c.what); err != nil {
				return nil, err
			}
			if c.mirror != nil {
				if err := p.stageExtents(c.mirror, raw, c.what+" ($MFTMirr copy)"); err != nil {
					return nil, err
				}
			}
		}
	}
	return p.plan, nil
}

// fillChunk bounds one fill write.
const fillChunk = 1 << 20

// stageFill writes fill over [off, off+n) (whole sectors), in writes of at
// most fillChunk bytes covering only the sectors that differ. The after
// images share one read-only buffer.
func (p *planner) stageFill(off, n int64, fill byte, what string) error {
	ss := int64(p.ss)
	if off%ss != 0 || n%ss != 0 {
		return fmt.Errorf("ntfs: %s: range %#x+%d is not sector aligned", what, off, n)
	}
	pattern := bytes.Repeat([]byte{fill}, fillChunk)
	for pos := off; pos < off+n; pos += fillChunk {
		l := min(int64(fillChunk), off+n-pos)
		before, err := p.read(pos, int(l))
		if err != nil {
			return err
		}
		for s := int64(0); s < l; {
			if bytes.Equal(before[s:s+ss], pattern[:ss]) {
				s += ss
				continue
			}
			e := s + ss
			for e < l && !bytes.Equal(before[e:e+ss], pattern[:ss]) {
				e += ss
			}
			p.plan.Writes = append(p.plan.Writes, Write{Offset: pos + s, Before: before[s:e:e], After: pattern[s:e:e], What: what})
			s = e
		}
	}
	return nil
}
