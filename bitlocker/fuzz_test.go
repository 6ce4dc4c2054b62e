package bitlocker

import (
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/unbrick/unbrick/internal/testcorpus"
)

// seedBlocks returns the first 4 KiB of metadata block 1 of a few corpus
// volumes (when the corpus is present) as fuzz seeds.
func seedBlocks() [][]byte {
	dir := testcorpus.Dir()
	if dir == "" {
		return nil
	}
	var out [][]byte
	for _, name := range []string{"recovery_password.bin.gz", "aes_128_diffuser.bin.gz", "suspended.bin.gz", "eow_partial.bin.gz", "decrypted.bin.gz"} {
		b, err := readGz(filepath.Join(dir, "src", name), 64<<20)
		if err != nil || len(b) < 512 {
			continue
		}
		h, err := parseVolumeHeader(b[:512])
		if err != nil || h.MetadataOffsets[0]+4096 > uint64(len(b)) {
			continue
		}
		o := h.MetadataOffsets[0]
		out = append(out, append([]byte(nil), b[o:o+4096]...))
	}
	return out
}

// syntheticImage builds a small Windows 7 style image whose three metadata
// copies are block (with its CRC-32 recomputed when its size field allows,
// so that fuzzing reaches past the checksum).
func syntheticImage(block []byte) []byte {
	const size = 0x40000
	img := make([]byte, size)
	copy(img[0:], []byte{0xeb, 0x58, 0x90})
	copy(img[3:], fveSignature)
	binary.LittleEndian.PutUint16(img[11:], 512)
	img[13] = 8
	copy(img[160:], bitlockerGUID[:])
	offs := []uint64{0x10000, 0x20000, 0x30000}
	for i, o := range offs {
		binary.LittleEndian.PutUint64(img[176+8*i:], o)
		n := copy(img[o:o+0x10000], block)
		m := img[o : o+uint64(n)]
		if len(m) >= 12 {
			hs := int(binary.LittleEndian.Uint16(m[8:]))
			if binary.LittleEndian.Uint16(m[10:]) == 2 {
				hs <<= 4
			}
			if hs > 0 && hs+8 <= 0x10000 {
				mm := img[o : o+0x10000]
				binary.LittleEndian.PutUint32(mm[hs+4:], crc32.ChecksumIEEE(mm[:hs]))
			}
		}
	}
	return img
}

// FuzzMetadata feeds arbitrary metadata blocks through Open, Info,
// Protectors, a clear-key unlock attempt, a raw-FVEK unlock and reads: no
// input may panic.
func FuzzMetadata(f *testing.F) {
	for _, b := range seedBlocks() {
		f.Add(b)
	}
	f.Add([]byte("-FVE-FS-"))
	f.Fuzz(func(t *testing.T, block []byte) {
		if len(block) > 0x10000 {
			block = block[:0x10000]
		}
		if m, err := parseMetadataBlock(block); err == nil {
			_ = protectorsOf(m.Entries)
		}
		img := syntheticImage(block)
		v, err := Open(&memImage{b: img}, int64(len(img)))
		if err != nil {
			return
		}
		_ = v.Info()
		_ = v.Unlock(ClearKey())
		_ = v.Unlock(RawFVEK(make([]byte, 32)))
		buf := make([]byte, 8192)
		_, _ = v.ReadAt(buf, 0)
		_, _ = v.ReadAt(buf[:1000], 0x10000-300)
		_, _ = v.WriteAt(buf[:512], 4096)
	})
}

// FuzzEntries feeds arbitrary bytes to the entry chain parser and to the
// .BEK file parser.
func FuzzEntries(f *testing.F) {
	for _, b := range seedBlocks() {
		if len(b) > 64+48 {
			f.Add(b[64+48:])
		}
	}
	if dir := testcorpus.Dir(); dir != "" {
		for _, n := range []string{"startup_key.bek", "recovery_key.bek"} {
			if b, err := os.ReadFile(filepath.Join(dir, "src", n)); err == nil {
				f.Add(b)
				f.Add(b[48:])
			}
		}
	}
	f.Add([]byte{8, 0, 0, 0, 0, 0, 1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		es, _ := parseEntries(b, 0)
		for i := range es {
			_ = es[i].value
		}
		_ = protectorsOf(es)
		_, _ = parseBEK(b)
		_ = decodeUTF16(b)
	})
}
