package ntfs

import (
	"fmt"
	"io"
	"sort"
)

// Run is one extent of a non-resident attribute: Length clusters starting
// at virtual cluster VCN are stored at logical cluster LCN, or are not
// stored at all (a sparse run, LCN == SparseLCN).
type Run struct {
	VCN    int64
	LCN    int64
	Length int64
}

// SparseLCN is the LCN of a run that has no clusters on disk.
const SparseLCN = -1

// Sparse reports whether the run has no clusters on disk.
func (r Run) Sparse() bool { return r.LCN == SparseLCN }

// maxVCN bounds VCNs and cluster counts so that byte offsets computed from
// them (times a cluster size of at most 2 MiB) cannot overflow int64.
const maxVCN = int64(1) << 42

// DecodeRunList decodes a mapping-pairs array (a run list) that starts at
// virtual cluster startVCN. Each pair is a header byte whose low nibble is
// the size of the length field and whose high nibble is the size of the
// signed LCN delta (relative to the previous run's LCN; size 0 = sparse run),
// and a 0x00 byte ends the list. Source: libfsntfs format document, "Data
// runs"; ntfs-3g runlist.c (ntfs_mapping_pairs_decompress).
func DecodeRunList(b []byte, startVCN int64) ([]Run, error) {
	if startVCN < 0 || startVCN > maxVCN {
		return nil, Corrupt("run list", -1, "", "start VCN %d out of range", startVCN)
	}
	var runs []Run
	vcn, lcn := startVCN, int64(0)
	for i := 0; ; {
		if i >= len(b) {
			return nil, Corrupt("run list", int64(len(b)), "header byte", "no terminating 0x00 byte within %d bytes", len(b))
		}
		h := b[i]
		if h == 0 {
			return runs, nil
		}
		lenSize, offSize := int(h&0x0f), int(h>>4)
		if lenSize == 0 || lenSize > 8 || offSize > 8 {
			return nil, Corrupt("run list", int64(i), "header byte", "bad header byte 0x%02x at offset %d", h, i)
		}
		i++
		if i+lenSize+offSize > len(b) {
			return nil, Corrupt("run list", int64(i-1), "header byte", "pair at offset %d runs past the end", i-1)
		}
		length := readSigned(b[i : i+lenSize])
		i += lenSize
		if length <= 0 || length > maxVCN {
			return nil, Corrupt("run list", int64(i), "run length", "bad run length %d at VCN %d", length, vcn)
		}
		r := Run{VCN: vcn, Length: length, LCN: SparseLCN}
		if offSize > 0 {
			delta := readSigned(b[i : i+offSize])
			i += offSize
			if delta > maxVCN || delta < -maxVCN {
				return nil, Corrupt("run list", int64(i), "LCN delta", "LCN delta %d out of range at VCN %d", delta, vcn)
			}
			lcn += delta
			if lcn < 0 || lcn > maxVCN {
				return nil, Corrupt("run list", int64(i), "LCN delta", "LCN %d out of range at VCN %d", lcn, vcn)
			}
			r.LCN = lcn
		}
		vcn += length
		if vcn > maxVCN {
			return nil, Corrupt("run list", int64(i), "run length", "VCN %d out of range", vcn)
		}
		runs = append(runs, r)
	}
}

// readSigned decodes a little-endian two's-complement integer of 1-8 bytes.
func readSigned(b []byte) int64 {
	var v uint64
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	if n := uint(len(b)) * 8; n < 64 && v&(1<<(n-1)) != 0 {
		v |= ^uint64(0) << n
	}
	return int64(v)
}

// RunReader is an io.ReaderAt over the clusters of a non-resident
// attribute, as (*File).AttrReader returns it for one. Reads past size are
// io.EOF; bytes at or past initSize (and in sparse runs) read as zeros. LCN
// and Extents map its offsets to the volume, for the write side.
type RunReader struct {
	r             io.ReaderAt
	clusterSize   int64
	totalClusters int64
	runs          []Run // sorted by VCN, contiguous
	size          int64
	initSize      int64
	what          string
}

func newRunReader(r io.ReaderAt, clusterSize, totalClusters int64, runs []Run, size, initSize int64, what string) (*RunReader, error) {
	if size < 0 || initSize < 0 {
		return nil, Corrupt(what, -1, "data size", "negative size %d / initialized size %d", size, initSize)
	}
	if initSize > size {
		initSize = size
	}
	for i, rn := range runs {
		if i > 0 && runs[i-1].VCN+runs[i-1].Length != rn.VCN {
			return nil, Corrupt(what, -1, "run list", "run list has a gap or overlap at VCN %d", rn.VCN)
		}
		if !rn.Sparse() && rn.LCN+rn.Length > totalClusters {
			return nil, Corrupt(what, -1, "run list", "run at LCN %d (+%d clusters) lies beyond the volume's %d clusters", rn.LCN, rn.Length, totalClusters)
		}
	}
	return &RunReader{r: r, clusterSize: clusterSize, totalClusters: totalClusters, runs: runs, size: size, initSize: initSize, what: what}, nil
}

// ReadAt implements io.ReaderAt.
func (rr *RunReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("ntfs: %s: negative offset", rr.what)
	}
	if off >= rr.size {
		return 0, io.EOF
	}
	want := len(p)
	if int64(want) > rr.size-off {
		p = p[:rr.size-off]
	}
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		chunk := p[n:]
		if pos >= rr.initSize {
			clear(chunk)
			n = len(p)
			break
		}
		if int64(len(chunk)) > rr.initSize-pos {
			chunk = chunk[:rr.initSize-pos]
		}
		vcn := pos / rr.clusterSize
		i := sort.Search(len(rr.runs), func(i int) bool { return rr.runs[i].VCN+rr.runs[i].Length > vcn })
		if i == len(rr.runs) || rr.runs[i].VCN > vcn {
			return n, Corrupt(rr.what, -1, "run list", "no run maps VCN %d (byte offset %d)", vcn, pos)
		}
		rn := rr.runs[i]
		runEnd := (rn.VCN + rn.Length) * rr.clusterSize
		if int64(len(chunk)) > runEnd-pos {
			chunk = chunk[:runEnd-pos]
		}
		if rn.Sparse() {
			clear(chunk)
		} else {
			disk := (rn.LCN+vcn-rn.VCN)*rr.clusterSize + pos%rr.clusterSize
			m, err := rr.r.ReadAt(chunk, disk)
			if m < len(chunk) {
				if err == nil || err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return n + m, fmt.Errorf("ntfs: %s: read %d bytes at volume offset %d: %w", rr.what, len(chunk), disk, err)
			}
		}
		n += len(chunk)
	}
	if n < want {
		return n, io.EOF
	}
	return n, nil
}

// LCN maps a VCN to its LCN (SparseLCN for a hole); ok is false when no
// run maps it.
func (rr *RunReader) LCN(vcn int64) (lcn int64, ok bool) {
	i := sort.Search(len(rr.runs), func(i int) bool { return rr.runs[i].VCN+rr.runs[i].Length > vcn })
	if i == len(rr.runs) || rr.runs[i].VCN > vcn {
		return 0, false
	}
	if rr.runs[i].Sparse() {
		return SparseLCN, true
	}
	return rr.runs[i].LCN + vcn - rr.runs[i].VCN, true
}

// Extents maps the byte range [off, off+n) of the attribute to volume byte
// ranges. Sparse or unmapped ranges are an error.
func (rr *RunReader) Extents(off int64, n int) ([]Extent, error) {
	var out []Extent
	for n > 0 {
		vcn := off / rr.clusterSize
		i := sort.Search(len(rr.runs), func(i int) bool { return rr.runs[i].VCN+rr.runs[i].Length > vcn })
		if i == len(rr.runs) || rr.runs[i].VCN > vcn || rr.runs[i].Sparse() {
			return nil, Corrupt(rr.what, -1, "run list", "byte offset %d is not mapped to clusters", off)
		}
		rn := rr.runs[i]
		runEnd := (rn.VCN + rn.Length) * rr.clusterSize
		m := int64(n)
		if m > runEnd-off {
			m = runEnd - off
		}
		disk := (rn.LCN+vcn-rn.VCN)*rr.clusterSize + off%rr.clusterSize
		if k := len(out); k > 0 && out[k-1].Offset+int64(out[k-1].Length) == disk {
			out[k-1].Length += int(m)
		} else {
			out = append(out, Extent{Offset: disk, Length: int(m)})
		}
		off += m
		n -= int(m)
	}
	return out, nil
}
