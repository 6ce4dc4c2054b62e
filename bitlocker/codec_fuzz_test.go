package bitlocker

import (
	"bytes"
	"crypto/aes"
	"testing"

	"golang.org/x/crypto/xts"
)

// cryptoFuzzRoundTrip checks, for arbitrary key material, data and offset, that
// decryptSectors inverts encryptSectors and that neither panics on input
// that meets the calling contract.
func cryptoFuzzRoundTrip(t *testing.T, m Method, seed, data []byte, sector uint32, big bool) {
	ss := 512
	if big {
		ss = 4096
	}
	key := make([]byte, m.KeyMaterialSize())
	for i := range key {
		if len(seed) > 0 {
			key[i] = seed[i%len(seed)] + byte(i)
		}
	}
	c, err := newSectorCodec(m, key, ss)
	if err != nil {
		t.Fatal(err)
	}
	n := (len(data) + ss - 1) / ss * ss
	if n > 4*ss {
		n = 4 * ss
	}
	plain := make([]byte, n)
	copy(plain, data)
	off := int64(sector) * int64(ss)
	ct := make([]byte, n)
	c.encryptSectors(ct, plain, off)
	got := make([]byte, n)
	c.decryptSectors(got, ct, off)
	if !bytes.Equal(got, plain) {
		t.Fatalf("%s: round trip failed (%d bytes at %d)", m, n, off)
	}
	c.decryptSectors(ct, ct, off) // in place
	if !bytes.Equal(ct, plain) {
		t.Fatalf("%s: in-place round trip failed", m)
	}
	if m.IsXTS() && n > 0 {
		// Differential check against golang.org/x/crypto/xts.
		ref, err := xts.NewCipher(aes.NewCipher, key)
		if err != nil {
			t.Fatal(err)
		}
		c.encryptSectors(ct, plain, off)
		want := make([]byte, n)
		for s := 0; s < n; s += ss {
			ref.Encrypt(want[s:s+ss], plain[s:s+ss], uint64(sector)+uint64(s/ss))
		}
		if !bytes.Equal(ct, want) {
			t.Fatalf("%s: differs from x/crypto/xts", m)
		}
	}
}

func cryptoCodecSeeds(f *testing.F) {
	f.Add([]byte("key"), []byte("some plaintext"), uint32(0), false)
	f.Add([]byte{0xff}, bytes.Repeat([]byte{0xa5}, 5000), uint32(0xffffffff), true)
	f.Add([]byte{}, []byte{}, uint32(7), false)
}

func FuzzXTSRoundTrip(f *testing.F) {
	cryptoCodecSeeds(f)
	f.Fuzz(func(t *testing.T, seed, data []byte, sector uint32, big bool) {
		cryptoFuzzRoundTrip(t, MethodXTS128, seed, data, sector, big)
		cryptoFuzzRoundTrip(t, MethodXTS256, seed, data, sector, big)
	})
}

func FuzzCBCRoundTrip(f *testing.F) {
	cryptoCodecSeeds(f)
	f.Fuzz(func(t *testing.T, seed, data []byte, sector uint32, big bool) {
		cryptoFuzzRoundTrip(t, MethodAES128CBC, seed, data, sector, big)
		cryptoFuzzRoundTrip(t, MethodAES256CBC, seed, data, sector, big)
	})
}

func FuzzElephantRoundTrip(f *testing.F) {
	cryptoCodecSeeds(f)
	f.Fuzz(func(t *testing.T, seed, data []byte, sector uint32, big bool) {
		cryptoFuzzRoundTrip(t, MethodAES128Diffuser, seed, data, sector, big)
		cryptoFuzzRoundTrip(t, MethodAES256Diffuser, seed, data, sector, big)
	})
}

// FuzzNewSectorCodec: arbitrary method codes, key lengths and sector sizes
// give a codec or an error, never a panic.
func FuzzNewSectorCodec(f *testing.F) {
	f.Add(uint16(0x8004), 32, 512)
	f.Add(uint16(0x8000), 64, 4096)
	f.Add(uint16(0x9999), 0, -1)
	f.Fuzz(func(t *testing.T, m uint16, keyLen, ss int) {
		if keyLen < 0 || keyLen > 1024 {
			return
		}
		c, err := newSectorCodec(Method(m), make([]byte, keyLen), ss)
		if (c == nil) == (err == nil) {
			t.Fatalf("codec %v with error %v", c, err)
		}
	})
}
