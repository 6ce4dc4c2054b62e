package disk

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
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
