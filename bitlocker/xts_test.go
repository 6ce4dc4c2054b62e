package bitlocker

import (
	"bytes"
	"crypto/aes"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"golang.org/x/crypto/xts"
)

// IEEE P1619 known answers (testdata/crypto/xts_ieee_p1619.txt), both
// directions, through the data-unit function and, for 512-byte units,
// through the sector codec.
func TestCryptoXTSIEEEVectors(t *testing.T) {
	for i, v := range cryptoVectors(t, "xts_ieee_p1619.txt", 4) {
		key, plain, ct := cryptoHex(t, v[0]), cryptoHex(t, v[2]), cryptoHex(t, v[3])
		sector, err := strconv.ParseUint(v[1], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		x, err := newXTS(key, 512)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(plain))
		x.cryptSector(got, plain, sector, true)
		if !bytes.Equal(got, ct) {
			t.Errorf("vector %d: encrypt = %x, want %x", i+1, got, ct)
		}
		x.cryptSector(got, ct, sector, false)
		if !bytes.Equal(got, plain) {
			t.Errorf("vector %d: decrypt = %x, want %x", i+1, got, plain)
		}
		if len(plain) == 512 {
			m := MethodXTS128
			if len(key) == 64 {
				m = MethodXTS256
			}
			c, err := newSectorCodec(m, key, 512)
			if err != nil {
				t.Fatal(err)
			}
			c.decryptSectors(got, ct, int64(sector)*512)
			if !bytes.Equal(got, plain) {
				t.Errorf("vector %d: codec decrypt differs", i+1)
			}
			c.encryptSectors(got, plain, int64(sector)*512)
			if !bytes.Equal(got, ct) {
				t.Errorf("vector %d: codec encrypt differs", i+1)
			}
		}
	}
}

// Byte for byte against golang.org/x/crypto/xts on random keys and data:
// both key sizes, both sector sizes, many run lengths and offsets
// (including sector numbers that make the tweak carry), both directions,
// in place and out of place.
func TestCryptoXTSMatchesXCrypto(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, keyLen := range []int{32, 64} {
		for _, ss := range []int{512, 1024, 2048, 4096} {
			key := make([]byte, keyLen)
			cryptoFill(rng, key)
			ref, err := xts.NewCipher(aes.NewCipher, key)
			if err != nil {
				t.Fatal(err)
			}
			m := MethodXTS128
			if keyLen == 64 {
				m = MethodXTS256
			}
			c, err := newSectorCodec(m, key, ss)
			if err != nil {
				t.Fatal(err)
			}
			for trial := 0; trial < 20; trial++ {
				n := 1 + rng.IntN(9)
				var first uint64
				switch trial % 4 {
				case 0:
					first = rng.Uint64N(1 << 20)
				case 1:
					first = rng.Uint64N(math.MaxInt64/uint64(ss) - 16) // large sector numbers
				case 2:
					first = 0
				default:
					first = 1<<32 - 1
				}
				src := make([]byte, n*ss)
				cryptoFill(rng, src)
				want := make([]byte, len(src))
				for s := 0; s < n; s++ {
					ref.Decrypt(want[s*ss:(s+1)*ss], src[s*ss:(s+1)*ss], first+uint64(s))
				}
				off := int64(first) * int64(ss)
				got := make([]byte, len(src))
				c.decryptSectors(got, src, off)
				if !bytes.Equal(got, want) {
					t.Fatalf("%s ss=%d sectors=%d first=%d: decrypt differs from x/crypto/xts", m, ss, n, first)
				}
				for s := 0; s < n; s++ {
					ref.Encrypt(want[s*ss:(s+1)*ss], src[s*ss:(s+1)*ss], first+uint64(s))
				}
				inPlace := bytes.Clone(src)
				c.encryptSectors(inPlace, inPlace, off)
				if !bytes.Equal(inPlace, want) {
					t.Fatalf("%s ss=%d sectors=%d first=%d: in-place encrypt differs from x/crypto/xts", m, ss, n, first)
				}
				c.decryptSectors(inPlace, inPlace, off)
				if !bytes.Equal(inPlace, src) {
					t.Fatalf("%s ss=%d: in-place round trip failed", m, ss)
				}
			}
		}
	}
}

// Every data-unit length from one block up, against x/crypto/xts.
func TestCryptoXTSAllLengths(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, keyLen := range []int{32, 64} {
		key := make([]byte, keyLen)
		cryptoFill(rng, key)
		ref, _ := xts.NewCipher(aes.NewCipher, key)
		x, err := newXTS(key, 4096)
		if err != nil {
			t.Fatal(err)
		}
		for n := 16; n <= 4096; n += 16 {
			src := make([]byte, n)
			cryptoFill(rng, src)
			sector := rng.Uint64()
			want, got := make([]byte, n), make([]byte, n)
			ref.Encrypt(want, src, sector)
			x.cryptSector(got, src, sector, true)
			if !bytes.Equal(got, want) {
				t.Fatalf("key %d, %d bytes: encrypt differs", keyLen, n)
			}
			ref.Decrypt(want, src, sector)
			x.cryptSector(got, src, sector, false)
			if !bytes.Equal(got, want) {
				t.Fatalf("key %d, %d bytes: decrypt differs", keyLen, n)
			}
		}
	}
}

func cryptoFill(rng *rand.Rand, b []byte) {
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
}
