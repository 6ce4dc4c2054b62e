package disk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"testing"
)

// seedGPT builds a small GPT disk image (512-byte sectors) with one entry.
func seedGPT(size int, ss int) []byte {
	d := make([]byte, size)
	mbrPart(d[:512], 0, 0, 0xee, 1, uint32(size/ss-1))
	h := d[ss : ss+92]
	copy(h, "EFI PART")
	binary.LittleEndian.PutUint32(h[8:], 0x00010000)
	binary.LittleEndian.PutUint32(h[12:], 92)
	binary.LittleEndian.PutUint64(h[24:], 1)
	binary.LittleEndian.PutUint64(h[72:], 2)
	binary.LittleEndian.PutUint32(h[80:], 4)
	binary.LittleEndian.PutUint32(h[84:], 128)
	e := d[2*ss : 2*ss+512]
	copy(e[0:16], []byte{0xa2, 0xa0, 0xd0, 0xeb, 0xe5, 0xb9, 0x33, 0x44, 0x87, 0xc0, 0x68, 0xb6, 0xb7, 0x26, 0x99, 0xc7})
	e[16] = 1
	binary.LittleEndian.PutUint64(e[32:], 8)
	binary.LittleEndian.PutUint64(e[40:], uint64(size/ss-2))
	binary.LittleEndian.PutUint32(h[88:], crc32.ChecksumIEEE(e))
	binary.LittleEndian.PutUint32(h[16:], crc32.ChecksumIEEE(h))
	copy(d[8*ss+3:], "NTFS    ")
	return d
}

// FuzzCandidates feeds random bytes as a disk: Candidates, Select and
// reads through a Section must never panic.
func FuzzCandidates(f *testing.F) {
	f.Add(seedGPT(16<<10, 512))
	f.Add(seedGPT(48<<10, 4096))
	m := make([]byte, 32<<10)
	mbrPart(m, 0, 0x80, 0x07, 1, 8)
	mbrPart(m, 1, 0, 0x0f, 16, 40)
	mbrPart(m[16*512:], 0, 0, 0x07, 1, 8)
	mbrPart(m[16*512:], 1, 0, 0x05, 20, 10)
	mbrPart(m[36*512:], 0, 0, 0x83, 1, 4)
	f.Add(m)
	v := make([]byte, 4096)
	copy(v[3:], "-FVE-FS-")
	binary.LittleEndian.PutUint64(v[0xb0:], 1024)
	copy(v[1024:], "-FVE-FS-")
	v[1024+10] = 2
	binary.LittleEndian.PutUint64(v[1024+16:], 1<<20)
	f.Add(v)
	f.Add([]byte("LUKS\xba\xbe"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tg := NewTarget("fuzz", bytes.NewReader(data), int64(len(data)), false)
		cands, err := tg.Candidates()
		if err != nil {
			return
		}
		for i := range cands {
			c := &cands[i]
			_ = c.String()
			if c.Size < 0 || c.Offset < 0 {
				t.Fatalf("negative extent: %+v", c)
			}
			s := tg.Section(c)
			b := make([]byte, 1024)
			s.ReadAt(b, 0)
			s.ReadAt(b, s.Size()-10)
			if _, err := s.WriteAt(b[:1], 0); err == nil {
				t.Fatal("write accepted on a read-only target")
			}
		}
		tg.Select(0)
		tg.Select(1, BitLocker)
	})
}

// FuzzContainerMetadata: the VMDK descriptor parser and the VHD footer
// decoder never panic, and a parsed descriptor's extents have sizes and
// offsets that cannot overflow the disk arithmetic.
func FuzzContainerMetadata(f *testing.F) {
	f.Add([]byte("# Disk DescriptorFile\nversion=1\nparentCID=ffffffff\ncreateType=\"monolithicFlat\"\nRW 16384 FLAT \"m-flat.vmdk\" 0\nRDONLY 2 ZERO\n"))
	f.Add(append([]byte("conectix"), make([]byte, 504)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		if d, err := parseVMDKDescriptor(b); err == nil {
			for _, e := range d.Extents {
				if e.Sectors < 0 || e.Offset < 0 || e.Sectors > 1<<50 || e.Offset > 1<<50 {
					t.Fatalf("extent %+v out of range", e)
				}
			}
		}
		parseVHDFooter(b)
		sniffImage("fuzz", b, b, int64(len(b)))
	})
}

// sparseImage is a file of the given size made of zeros and a few
// segments, for fuzzing parsers whose structures lie megabytes apart.
type sparseImage struct {
	size int64
	segs []sparseSeg
}

type sparseSeg struct {
	off int64
	b   []byte
}

func (s *sparseImage) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= s.size {
		return 0, io.EOF
	}
	n := len(p)
	if int64(n) > s.size-off {
		n = int(s.size - off)
	}
	clear(p[:n])
	for _, sg := range s.segs {
		lo, hi := max(off, sg.off), min(off+int64(n), sg.off+int64(len(sg.b)))
		if lo < hi {
			copy(p[lo-off:hi-off], sg.b[lo-sg.off:hi-sg.off])
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// padTo returns b cut or zero-padded to n bytes.
func padTo(b []byte, n int) []byte {
	out := make([]byte, n)
	copy(out, b)
	return out
}

// FuzzVHDX: readVHDX never panics and never reads past the file, whatever
// the header, region table, metadata table and items hold (with fix, the
// header and region table checksums are made right, so that the fuzzer
// gets past them) and wherever the file ends.
func FuzzVHDX(f *testing.F) {
	hdr := make([]byte, 4096)
	copy(hdr, "head")
	binary.LittleEndian.PutUint64(hdr[8:], 7)
	binary.LittleEndian.PutUint16(hdr[66:], 1)
	rt := make([]byte, 48)
	copy(rt, "regi")
	binary.LittleEndian.PutUint32(rt[8:], 1)
	copy(rt[16:], tMetadataRegion)
	binary.LittleEndian.PutUint64(rt[32:], 1<<20)
	binary.LittleEndian.PutUint32(rt[40:], 1<<20)
	loc := vhdxLocatorItem([][2]string{{"parent_linkage", "{83ed0ec3-24c8-49a6-a959-5e4bf1288bfb}"}, {"relative_path", `..\p.vhdx`}})
	table := make([]byte, 96)
	copy(table, "metadata")
	binary.LittleEndian.PutUint16(table[10:], 2)
	copy(table[32:], tFileParameters)
	binary.LittleEndian.PutUint32(table[48:], 64<<10)
	binary.LittleEndian.PutUint32(table[52:], 8)
	copy(table[64:], tParentLocator)
	binary.LittleEndian.PutUint32(table[80:], 64<<10+8)
	binary.LittleEndian.PutUint32(table[84:], uint32(len(loc)))
	items := append([]byte{0, 0, 0x10, 0, 2, 0, 0, 0}, loc...)
	f.Add(hdr, rt, table, items, true, uint32(2<<20))
	f.Add(hdr, rt, table, items[:8], true, uint32(2<<20))
	f.Add(hdr, rt, table, items, false, uint32(1<<20+100))
	f.Fuzz(func(t *testing.T, hdr, rt, table, items []byte, fix bool, size uint32) {
		if len(hdr) > 4096 || len(rt) > 64<<10 || len(table) > 64<<10 || len(items) > 1<<20 {
			return
		}
		if fix {
			hdr, rt = padTo(hdr, 4096), padTo(rt, 64<<10)
			tSetCRC32C(hdr)
			tSetCRC32C(rt)
		}
		img := &sparseImage{size: int64(size) % (4 << 20), segs: []sparseSeg{
			{0, []byte(vhdxSignature)}, {64 << 10, hdr}, {128 << 10, hdr}, {192 << 10, rt}, {256 << 10, rt},
			{1 << 20, table}, {1<<20 + 64<<10, items},
		}}
		v, err := readVHDX(img, img.size)
		if err != nil {
			var fe *FormatError
			if errors.As(err, &fe) && (fe.Offset < 0 || fe.Offset > img.size) {
				t.Fatalf("error at offset %d of a %d-byte file: %v", fe.Offset, img.size, err)
			}
			return
		}
		if v.HasParent && v.Locator == nil {
			t.Fatal("HasParent without a locator")
		}
		if v.MetadataOffset+v.MetadataLength > img.size {
			t.Fatalf("metadata region %d+%d past the %d-byte file", v.MetadataOffset, v.MetadataLength, img.size)
		}
	})
}

// FuzzVHDParent: the VHD dynamic disk header and parent locator reader
// never panics, whatever the footer, header and locator data hold (with
// fix, the footer and header checksums are made right).
func FuzzVHDParent(f *testing.F) {
	foot := make([]byte, 512)
	copy(foot, vhdCookie)
	binary.BigEndian.PutUint32(foot[12:], 0x00010000)
	binary.BigEndian.PutUint64(foot[16:], 512)
	binary.BigEndian.PutUint32(foot[60:], vhdTypeDifferencing)
	dyn := make([]byte, 1024)
	copy(dyn, vhdDynCookie)
	binary.BigEndian.PutUint32(dyn[24:], 0x00010000)
	binary.BigEndian.PutUint32(dyn[576:], vhdPlatformW2ru)
	binary.BigEndian.PutUint32(dyn[584:], 14)
	binary.BigEndian.PutUint64(dyn[592:], 4096)
	f.Add(foot, dyn, utf16le(`.\p.vhd`), true)
	f.Add(foot, dyn, []byte{0, '.', 0, 'p'}, false)
	f.Fuzz(func(t *testing.T, foot, dyn, loc []byte, fix bool) {
		if len(foot) > 512 || len(dyn) > 1024 || len(loc) > 4096 {
			return
		}
		if fix {
			foot, dyn = padTo(foot, 512), padTo(dyn, 1024)
			binary.BigEndian.PutUint32(foot[64:], vhdChecksum(foot, 64))
			binary.BigEndian.PutUint32(dyn[36:], vhdChecksum(dyn, 36))
		}
		img := &sparseImage{size: 8192, segs: []sparseSeg{{0, foot}, {512, dyn}, {4096, loc}}}
		sniffImage("fuzz", foot, foot, img.size)
		ft, err := parseVHDFooter(foot)
		if err != nil {
			return
		}
		readVHDParent(img, img.size, ft)
	})
}
