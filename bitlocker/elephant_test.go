package bitlocker

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"testing"
)

// Published diffuser known answers (fox-it/dissect.fve,
// tests/crypto/test_elephant.py): 512 bytes of 'a' through the encryption
// direction of diffuser A, and separately of diffuser B, hash to these
// SHA-256 values.
func TestCryptoElephantDiffuserKnownAnswers(t *testing.T) {
	for _, tc := range []struct {
		name     string
		enc, dec func([]uint32)
		wantSHA  string
	}{
		{"A", diffuserAEncrypt, diffuserADecrypt, "f58aa15c1219f893c4ed355d363d8f831bcc0c4a82c6bbffcca321aada9e86ec"},
		{"B", diffuserBEncrypt, diffuserBDecrypt, "1d5a51ae0d0b6309f1f8661376af9ebd880b1274601f6841f5aaeb5273580133"},
	} {
		sec := bytes.Repeat([]byte("a"), 512)
		d := make([]uint32, 128)
		loadWords(d, sec)
		tc.enc(d)
		out := make([]byte, 512)
		storeWords(out, d)
		sum := sha256.Sum256(out)
		if got := hex.EncodeToString(sum[:]); got != tc.wantSHA {
			t.Errorf("diffuser %s encrypt: sha256 %s, want %s", tc.name, got, tc.wantSHA)
		}
		tc.dec(d)
		storeWords(out, d)
		if !bytes.Equal(out, sec) {
			t.Errorf("diffuser %s: decrypt does not invert encrypt", tc.name)
		}
	}
}

// The unrolled diffusers must equal the plain definition (Ferguson 2006,
// libbde documentation), written here index by index, for every sector
// size.
func TestCryptoElephantMatchesDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, ss := range []int{512, 1024, 2048, 4096} {
		n := ss / 4
		d := make([]uint32, n)
		for i := range d {
			d[i] = rng.Uint32()
		}
		ref := append([]uint32(nil), d...)
		rotl := func(x uint32, r int) uint32 { return x<<r | x>>(32-r) }
		ra := []int{9, 0, 13, 0}
		rb := []int{0, 10, 0, 25}
		// Definition, decryption direction: B then A.
		for c := 0; c < 3; c++ {
			for i := 0; i < n; i++ {
				ref[i] += ref[(i+2)%n] ^ rotl(ref[(i+5)%n], rb[i%4])
			}
		}
		for c := 0; c < 5; c++ {
			for i := 0; i < n; i++ {
				ref[i] += ref[(i-2+n)%n] ^ rotl(ref[(i-5+n)%n], ra[i%4])
			}
		}
		got := append([]uint32(nil), d...)
		diffuserBDecrypt(got)
		diffuserADecrypt(got)
		for i := range got {
			if got[i] != ref[i] {
				t.Fatalf("sector size %d: word %d = %08x, definition gives %08x", ss, i, got[i], ref[i])
			}
		}
		diffuserAEncrypt(got)
		diffuserBEncrypt(got)
		for i := range got {
			if got[i] != d[i] {
				t.Fatalf("sector size %d: encrypt does not invert decrypt at word %d", ss, i)
			}
		}
	}
}
