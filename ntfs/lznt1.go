package ntfs

import (
	"encoding/binary"
	"fmt"
	"io"
	"sync"
)

// LZNT1 (the NTFS compression of $DATA with a compression unit): the data
// is cut into compression units of 16 clusters; a unit whose clusters are
// all allocated is stored raw, an all-sparse unit is zeros, and otherwise
// the unit's first allocated clusters hold a sequence of chunks, each
// decompressing to 4096 bytes. A chunk starts with a 16-bit header: bits
// 0-11 are the chunk's stored size minus 3, bit 15 says it is compressed;
// a zero header ends the unit. A compressed chunk is groups of a flag byte
// and 8 tokens: a clear flag bit is a literal byte, a set bit a 16-bit
// back-reference whose split between offset and length depends on how far
// into the chunk the output is. Sources: libfsntfs document "Compression";
// ntfs-3g compress.c (ntfs_decompress); [MS-XCA] 2.5.

const lzntChunk = 4096

// lznt1Decompress decodes src into dst (the whole decompressed unit,
// zeroed beforehand by the caller's choice: short chunks leave the rest of
// their 4096 bytes untouched). It returns the number of bytes produced.
func lznt1Decompress(dst, src []byte) (int, error) {
	out := 0
	for in := 0; in+2 <= len(src); {
		h := binary.LittleEndian.Uint16(src[in:])
		if h == 0 {
			break
		}
		size := int(h&0x0fff) + 1
		in += 2
		if in+size > len(src) {
			return out, Corrupt("LZNT1 data", int64(in-2), "chunk header", "chunk of %d bytes at %d runs past the compressed data", size, in-2)
		}
		if out+lzntChunk > len(dst) {
			return out, Corrupt("LZNT1 data", int64(in-2), "chunk header", "data decompresses to more than the %d-byte compression unit", len(dst))
		}
		chunk := src[in : in+size]
		in += size
		d := dst[out : out+lzntChunk]
		if h&0x8000 == 0 {
			copy(d, chunk)
			out += lzntChunk
			continue
		}
		pos := 0
		for i := 0; i < len(chunk); {
			flags := chunk[i]
			i++
			for bit := 0; bit < 8 && i < len(chunk); bit++ {
				if flags&(1<<bit) == 0 {
					if pos >= lzntChunk {
						return out, Corrupt("LZNT1 chunk", int64(i), "", "chunk decompresses to more than 4096 bytes")
					}
					d[pos] = chunk[i]
					pos++
					i++
					continue
				}
				if i+2 > len(chunk) {
					return out, Corrupt("LZNT1 chunk", int64(i), "back-reference", "truncated back-reference")
				}
				tok := int(binary.LittleEndian.Uint16(chunk[i:]))
				i += 2
				if pos == 0 {
					return out, Corrupt("LZNT1 chunk", int64(i-2), "back-reference", "back-reference at the start of a chunk")
				}
				shift := 12
				for p := pos - 1; p >= 0x10; p >>= 1 {
					shift--
				}
				back := tok>>shift + 1
				n := tok&(0xfff>>(12-shift)) + 3
				if back > pos {
					return out, Corrupt("LZNT1 chunk", int64(i-2), "back-reference", "back-reference %d before the chunk start", back)
				}
				if pos+n > lzntChunk {
					return out, Corrupt("LZNT1 chunk", int64(i), "", "chunk decompresses to more than 4096 bytes")
				}
				for k := 0; k < n; k++ { // may overlap: byte by byte
					d[pos] = d[pos-back]
					pos++
				}
			}
		}
		out += lzntChunk
	}
	return out, nil
}

// compressedReader reads a compressed non-resident $DATA attribute.
type compressedReader struct {
	raw      *RunReader // the attribute's clusters, VCN-addressed
	cluster  int64
	unitCl   int64 // clusters per compression unit
	size     int64
	initSize int64

	mu      sync.Mutex
	cacheCU int64
	cache   []byte
}

func newCompressedReader(v *Volume, runs []Run, first *Attribute) (io.ReaderAt, int64, error) {
	cs := int64(v.boot.ClusterSize)
	if first.CompressionUnit != 4 || cs > 4096 {
		return nil, 0, fmt.Errorf("%w (compression unit 2^%d clusters of %d bytes)", ErrCompressed, first.CompressionUnit, cs)
	}
	var span int64
	if len(runs) > 0 {
		span = (runs[len(runs)-1].VCN + runs[len(runs)-1].Length) * cs
	}
	raw, err := newRunReader(v.r, cs, v.boot.TotalClusters(), runs, span, span, "compressed $DATA")
	if err != nil {
		return nil, 0, err
	}
	cr := &compressedReader{raw: raw, cluster: cs, unitCl: 16, size: first.DataSize, initSize: first.InitializedSize, cacheCU: -1}
	return cr, first.DataSize, nil
}

func (c *compressedReader) unit(k int64) ([]byte, error) {
	if k == c.cacheCU {
		return c.cache, nil
	}
	ub := c.unitCl * c.cluster
	out := make([]byte, ub)
	first := k * c.unitCl
	allocated := int64(0)
	for i := int64(0); i < c.unitCl; i++ {
		lcn, ok := c.raw.LCN(first + i)
		if !ok {
			break // past the mapped clusters: zeros
		}
		if lcn != SparseLCN {
			if allocated != i {
				return nil, Corrupt("compressed $DATA", -1, "run list", "unit %d has a hole before allocated clusters", k)
			}
			allocated++
		}
	}
	switch {
	case allocated == 0:
	case allocated == c.unitCl:
		if _, err := c.raw.ReadAt(out, first*c.cluster); err != nil && err != io.EOF {
			return nil, err
		}
	default:
		src := make([]byte, allocated*c.cluster)
		if _, err := c.raw.ReadAt(src, first*c.cluster); err != nil && err != io.EOF {
			return nil, err
		}
		if _, err := lznt1Decompress(out, src); err != nil {
			return nil, fmt.Errorf("compression unit %d: %w", k, err)
		}
	}
	c.cacheCU, c.cache = k, out
	return out, nil
}

// ReadAt implements io.ReaderAt.
func (c *compressedReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("ntfs: negative offset")
	}
	if off >= c.size {
		return 0, io.EOF
	}
	want := len(p)
	if int64(len(p)) > c.size-off {
		p = p[:c.size-off]
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ub := c.unitCl * c.cluster
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		u, err := c.unit(pos / ub)
		if err != nil {
			return n, err
		}
		m := copy(p[n:], u[pos%ub:])
		if pos+int64(m) > c.initSize {
			from := max(c.initSize-pos, 0)
			clear(p[n+int(from) : n+m])
		}
		n += m
	}
	if n < want {
		return n, io.EOF
	}
	return n, nil
}
