package bitlocker

import (
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// TestWriteReadBackThroughDislocker writes random data through
// Volume.WriteAt (aligned sectors, the relocated boot sectors, an unaligned
// range and a multi-MiB range) into copies of an XTS, an AES-CBC and an
// AES-CBC + diffuser volume, then decrypts the written image with
// dislocker-file: its view must equal the original view with exactly those
// writes applied, and the FVE header and metadata blocks must be untouched.
func TestWriteReadBackThroughDislocker(t *testing.T) {
	dis := requireTool(t, "dislocker-file")
	want := map[string]bool{"recovery_password.bin": true, "aes_128.bin": true, "aes_128_diffuser.bin": true}
	for _, s := range corpusSources(t, "recovery_password.bin", "aes_128.bin", "aes_128_diffuser.bin") {
		if !want[s.name] {
			continue
		}
		delete(want, s.name)
		t.Run(s.name, func(t *testing.T) {
			cp := copyFile(t, s.path)
			ws := &source{name: s.name, path: cp, m: s.m, dislock: true}
			v := unlocked(t, &source{name: s.name, path: s.path, m: s.m}, false)
			expect := make([]byte, v.Size())
			if _, err := v.ReadAt(expect, 0); err != nil {
				t.Fatal(err)
			}
			wv := unlocked(t, ws, true)
			before := rawRegions(t, cp, wv.Info())

			rng := rand.New(rand.NewPCG(1, uint64(len(s.name))))
			write := func(off int64, n int) {
				t.Helper()
				p := make([]byte, n)
				for i := range p {
					p[i] = byte(rng.Uint32())
				}
				if _, err := wv.WriteAt(p, off); err != nil {
					t.Fatalf("WriteAt(%d bytes at 0x%x): %v", n, off, err)
				}
				copy(expect[off:], p)
			}
			ss := int64(wv.SectorSize())
			write(1*ss, int(ss))  // relocated boot sectors
			write(15*ss, int(ss)) // last relocated sector
			write(12345, 3000)    // unaligned, crosses sectors
			write(8<<20, 2<<20)   // large: parallel encryption
			for i := 0; i < 40; i++ {
				sec := 16 + rng.Int64N(wv.ImageSize()/ss-16)
				if kind, phys, _ := wv.lay.segment(sec*ss, ss); kind == segZero || phys+ss > wv.ImageSize() {
					continue
				}
				write(sec*ss, int(ss)*(1+rng.IntN(8)))
			}
			// Refused writes change nothing.
			in := wv.Info()
			if _, err := wv.WriteAt(make([]byte, 512), in.MetadataOffsets[0]+4096); !errors.Is(err, ErrMetadataWrite) {
				t.Errorf("write into metadata block: %v, want ErrMetadataWrite", err)
			}
			if _, err := wv.WriteAt(make([]byte, 1024), in.BootSectorsAt-512); !errors.Is(err, ErrMetadataWrite) {
				t.Errorf("write overlapping the relocated boot sectors' home: %v, want ErrMetadataWrite", err)
			}
			if wv.Short() {
				if _, err := wv.WriteAt(make([]byte, 512), wv.Size()-512); !errors.Is(err, ErrShortImage) {
					t.Errorf("write past the end of the short image: %v, want ErrShortImage", err)
				}
			}

			after := rawRegions(t, cp, in)
			for k, h := range before {
				if after[k] != h {
					t.Errorf("raw %s changed by the writes", k)
				}
			}
			// Our own view after writing, then the independent one.
			got := make([]byte, wv.Size())
			if _, err := wv.ReadAt(got, 0); err != nil {
				t.Fatal(err)
			}
			compareViews(t, got, expect)
			compareViews(t, runDislocker(t, dis, ws), expect)
		})
	}
	for n := range want {
		t.Errorf("corpus source %s missing", n)
	}
}

func copyFile(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestWriteBitLockerOff writes through the view of the corpus volume whose
// BitLocker is off (dislocker cannot open it): the bytes must land on disk
// as they are, at the same offset (the boot sectors at their relocated
// home), and the reserved regions must refuse writes.
func TestWriteBitLockerOff(t *testing.T) {
	for _, s := range corpusSources(t, "decrypted.bin") {
		if s.name != "decrypted.bin" {
			continue
		}
		b, err := os.ReadFile(s.path)
		if err != nil {
			t.Fatal(err)
		}
		m := &memImage{b: b}
		v, err := Open(m, int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		if v.Locked() || v.Info().State != StateDecrypted {
			t.Fatalf("locked %v, state %s", v.Locked(), v.Info().State)
		}
		p := make([]byte, 4096)
		for i := range p {
			p[i] = byte(i * 7)
		}
		if _, err := v.WriteAt(p, 1<<20); err != nil {
			t.Fatal(err)
		}
		if !bytesEqual(m.b[1<<20:1<<20+4096], p) {
			t.Error("plaintext write did not land as is")
		}
		if _, err := v.WriteAt(p[:512], 512); err != nil {
			t.Fatal(err)
		}
		at := v.Info().BootSectorsAt + 512
		if !bytesEqual(m.b[at:at+512], p[:512]) {
			t.Error("boot sector write did not go to the relocated boot sectors")
		}
		writes := m.writes
		for _, o := range v.Info().MetadataOffsets {
			if _, err := v.WriteAt(p, o); !errors.Is(err, ErrMetadataWrite) {
				t.Errorf("write at metadata block 0x%x: %v", o, err)
			}
		}
		if m.writes != writes {
			t.Error("a refused write reached the image")
		}
		return
	}
	t.Fatal("decrypted.bin not in the corpus")
}

func bytesEqual(a, b []byte) bool { return string(a) == string(b) }
