package bitlocker

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestDissect256Volumes covers AES-CBC-256 and AES-XTS-256 with two more
// Windows-made volumes from dissect.fve (testdata/dissect/README.md): the
// password unwraps the FVEK dissect.fve publishes, and the whole view is
// byte-identical to dislocker-file's.
func TestDissect256Volumes(t *testing.T) {
	for _, c := range []struct{ file, sum, fvek string }{
		{"aes_256.bin.gz", "607698640373697bb15aa6ca2069d66fe001adcb1ae1637a6edbbfadbf167d36",
			"dd3885ef9948c8dc6ad1b54a6c4a4b6fb74b44d1d9775ac7ed186c35f1b59022"},
		{"aes-xts_256.bin.gz", "908e7ca610ac9c777cf35d069ef9d457b1734f2bedb4f6a797b9e28a83517b42",
			"c74002df41f5eadeee2549fc009233a2a510726ce08736aba2f84a52ac6e7bbc56b8a824a4dc26cf9c4c2926386319d17427998e045ebfdc789e328e0dc97da4"},
	} {
		t.Run(c.file, func(t *testing.T) {
			gz, err := os.ReadFile(filepath.Join("testdata/dissect", c.file))
			if err != nil {
				t.Fatal(err)
			}
			if s := sha256.Sum256(gz); hex.EncodeToString(s[:]) != c.sum {
				t.Fatal("testdata file is not the one from dissect.fve")
			}
			z, err := gzip.NewReader(bytes.NewReader(gz))
			if err != nil {
				t.Fatal(err)
			}
			raw, err := io.ReadAll(z)
			if err != nil {
				t.Fatal(err)
			}
			v, err := Open(&memImage{b: raw}, int64(len(raw)))
			if err != nil {
				t.Fatal(err)
			}
			if err := v.Unlock(Password(corpusPassword)); err != nil {
				t.Fatal(err)
			}
			if hex.EncodeToString(v.fvek) != c.fvek {
				t.Errorf("FVEK differs from dissect.fve's")
			}
			checkDecryptedView(t, c.file, v)
			got := make([]byte, v.Size())
			if _, err := v.ReadAt(got, 0); err != nil {
				t.Fatal(err)
			}
			dis := requireTool(t, "dislocker-file")
			dir := t.TempDir()
			in := filepath.Join(dir, "vol.bin")
			if err := os.WriteFile(in, raw, 0o600); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, "dis.out")
			if b, err := exec.Command(dis, "-V", in, "-u"+corpusPassword, "--", out).CombinedOutput(); err != nil {
				t.Fatalf("dislocker-file: %v %s", err, b)
			}
			want, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			compareViews(t, got, want)
		})
	}
}
