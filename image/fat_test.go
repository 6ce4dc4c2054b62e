package image

import (
	"bytes"
	"testing"

	"github.com/diskfs/go-diskfs/filesystem"
)

func TestChooseFATType(t *testing.T) {
	for _, c := range []struct {
		mib  int64
		want filesystem.Type
	}{{16, filesystem.TypeFat16}, {26, filesystem.TypeFat16}, {64, filesystem.TypeFat16}, {128, filesystem.TypeFat16}, {1024, filesystem.TypeFat16}, {4096, filesystem.TypeFat32}} {
		got, err := chooseFATType(c.mib << 20)
		if err != nil || got != c.want {
			t.Errorf("%d MiB: %v %v, want %v", c.mib, fatTypeName(got), err, fatTypeName(c.want))
		}
	}
	if _, err := chooseFATType(4 << 20); err == nil {
		t.Error("4 MiB (under 4085 clusters of 1 KiB) accepted")
	}
}

// TestCheckFATRejectsSmallFAT32 builds a BPB that claims FAT32 with fewer
// than 65525 clusters (what go-diskfs makes below ~33 MiB) and one whose FAT
// is too short for its clusters (diskfs/go-diskfs#418).
func TestCheckFATRejects(t *testing.T) {
	bs := make([]byte, 512)
	bs[510], bs[511] = 0x55, 0xAA
	le := func(off int, v uint32, n int) {
		for i := 0; i < n; i++ {
			bs[off+i] = byte(v >> (8 * i))
		}
	}
	le(11, 512, 2)
	bs[13] = 1
	le(14, 32, 2)
	bs[16] = 2
	le(32, 32*2048, 4) // 32 MiB
	le(36, 504, 4)     // FAT32 sectors per FAT
	_, err := checkFAT(bytes.NewReader(bs), 0, filesystem.TypeFat32)
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("makes it FAT16")) {
		t.Fatalf("small FAT32: %v", err)
	}
	le(32, 128*2048, 4) // 128 MiB, 512-byte clusters: ~261000 clusters
	le(36, 100, 4)      // FAT of 100 sectors holds 12800 entries only
	if _, err = checkFAT(bytes.NewReader(bs), 0, filesystem.TypeFat32); err == nil || !bytes.Contains([]byte(err.Error()), []byte("FAT is too small")) {
		t.Fatalf("short FAT: %v", err)
	}
}

func FuzzParseFATBootSector(f *testing.F) {
	f.Add(make([]byte, 512))
	f.Fuzz(func(t *testing.T, b []byte) {
		if g, err := parseFATBootSector(b); err == nil {
			g.Type()
			g.fatEntries()
		}
	})
}

func FuzzKernelVersion(f *testing.F) {
	f.Add(fakeBzImage("6.1.0-1-amd64"))
	f.Fuzz(func(t *testing.T, b []byte) {
		kernelVersion(bytes.NewReader(b))
	})
}
