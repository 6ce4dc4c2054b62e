package bitlocker

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// Sectors from Windows-made volumes with published keys and plaintext
// hashes (testdata/crypto/bitlocker_sector_vectors.txt, from dissect.fve):
// an independent witness for every method's decryption; encryption must
// reproduce the Windows ciphertext exactly.
func TestCryptoSectorKnownAnswers(t *testing.T) {
	seen := map[Method]bool{}
	for _, v := range cryptoVectors(t, "bitlocker_sector_vectors.txt", 5) {
		code, err := strconv.ParseUint(v[0], 0, 16)
		if err != nil {
			t.Fatal(err)
		}
		m := Method(code)
		seen[m] = true
		key, ct := cryptoHex(t, v[1]), cryptoHex(t, v[3])
		sector, err := strconv.ParseInt(v[2], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		c, err := newSectorCodec(m, key, 512)
		if err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		plain := make([]byte, len(ct))
		c.decryptSectors(plain, ct, sector*512)
		sum := sha256.Sum256(plain)
		if got := hex.EncodeToString(sum[:]); got != v[4] {
			t.Errorf("%s: decrypted sector sha256 %s, want %s", m, got, v[4])
		}
		back := make([]byte, len(ct))
		c.encryptSectors(back, plain, sector*512)
		if !bytes.Equal(back, ct) {
			t.Errorf("%s: encrypt(decrypt(x)) != x", m)
		}
		// The same sector at another offset must not decrypt the same
		// way: the offset (IV, sector key, tweak) is part of the key.
		other := make([]byte, len(ct))
		c.decryptSectors(other, ct, (sector+1)*512)
		if bytes.Equal(other, plain) {
			t.Errorf("%s: decryption ignores the sector offset", m)
		}
	}
	for m := MethodAES128Diffuser; m <= MethodXTS256; m++ {
		if !seen[m] {
			t.Errorf("no known-answer vector for %s", m)
		}
	}
}

// Plain AES-CBC (no diffuser) against crypto/cipher's CBC with the IV
// computed by hand as the libbde documentation states it.
func TestCryptoCBCMatchesDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, m := range []Method{MethodAES128CBC, MethodAES256CBC} {
		for _, ss := range []int{512, 4096} {
			key := make([]byte, m.KeyMaterialSize())
			cryptoFill(rng, key)
			c, err := newSectorCodec(m, key, ss)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := aes.NewCipher(key[:m.AESKeySize()])
			src := make([]byte, 5*ss)
			cryptoFill(rng, src)
			off := int64(rng.IntN(1<<20)) * int64(ss)
			want := make([]byte, len(src))
			for s := 0; s < 5; s++ {
				var iv [16]byte
				binary.LittleEndian.PutUint64(iv[:], uint64(off)+uint64(s*ss))
				b.Encrypt(iv[:], iv[:])
				cipher.NewCBCDecrypter(b, iv[:]).CryptBlocks(want[s*ss:(s+1)*ss], src[s*ss:(s+1)*ss])
			}
			got := make([]byte, len(src))
			c.decryptSectors(got, src, off)
			if !bytes.Equal(got, want) {
				t.Fatalf("%s ss=%d: decrypt differs from the definition", m, ss)
			}
		}
	}
}

// Round trips of every codec: all methods, sector sizes, in place and not.
func TestCryptoCodecRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for m := MethodAES128Diffuser; m <= MethodXTS256; m++ {
		for _, ss := range []int{512, 1024, 2048, 4096} {
			key := make([]byte, m.KeyMaterialSize())
			cryptoFill(rng, key)
			c, err := newSectorCodec(m, key, ss)
			if err != nil {
				t.Fatalf("%s: %v", m, err)
			}
			plain := make([]byte, 3*ss)
			cryptoFill(rng, plain)
			off := int64(rng.IntN(1<<24)) * int64(ss)
			ct := make([]byte, len(plain))
			c.encryptSectors(ct, plain, off)
			if bytes.Equal(ct[:ss], plain[:ss]) {
				t.Fatalf("%s: encryption changed nothing", m)
			}
			// Identical plaintext sectors encrypt differently.
			same := bytes.Repeat(plain[:ss], 2)
			sameCT := make([]byte, len(same))
			c.encryptSectors(sameCT, same, off)
			if bytes.Equal(sameCT[:ss], sameCT[ss:]) {
				t.Fatalf("%s: two sectors with the same plaintext have the same ciphertext", m)
			}
			got := bytes.Clone(ct)
			c.decryptSectors(got, got, off)
			if !bytes.Equal(got, plain) {
				t.Fatalf("%s ss=%d: in-place round trip failed", m, ss)
			}
			c.decryptSectors(got, ct, off)
			if !bytes.Equal(got, plain) {
				t.Fatalf("%s ss=%d: round trip failed", m, ss)
			}
			// Decrypting a sub-range at its own offset gives the same bytes.
			part := make([]byte, ss)
			c.decryptSectors(part, ct[ss:2*ss], off+int64(ss))
			if !bytes.Equal(part, plain[ss:2*ss]) {
				t.Fatalf("%s ss=%d: sector decrypted alone differs", m, ss)
			}
			c.decryptSectors(nil, nil, off) // no sectors: nothing to do
		}
	}
}

// With the diffuser, a one-bit change of the ciphertext spreads over the
// whole sector; without it, CBC decryption changes only two blocks.
func TestCryptoDiffuserSpreads(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 64)
	c, _ := newSectorCodec(MethodAES256Diffuser, key, 512)
	ct := make([]byte, 512)
	a, b := make([]byte, 512), make([]byte, 512)
	c.decryptSectors(a, ct, 0)
	ct[500] ^= 1
	c.decryptSectors(b, ct, 0)
	diff := 0
	for i := range a {
		if a[i] != b[i] {
			diff++
		}
	}
	if diff < 400 {
		t.Errorf("one flipped ciphertext bit changed only %d of 512 plaintext bytes", diff)
	}
}

func TestCryptoCodecRejectsBadParameters(t *testing.T) {
	for m := MethodAES128Diffuser; m <= MethodXTS256; m++ {
		n := m.KeyMaterialSize()
		for _, bad := range []int{0, n - 1, n + 1, 48} {
			if bad == n {
				continue
			}
			_, err := newSectorCodec(m, make([]byte, bad), 512)
			if err == nil {
				t.Errorf("%s accepted %d bytes of key material", m, bad)
				continue
			}
			if !strings.Contains(err.Error(), m.String()) || !strings.Contains(err.Error(), strconv.Itoa(n)) {
				t.Errorf("%s, %d bytes: error %q does not name the method and the expected size", m, bad, err)
			}
		}
		for _, ss := range []int{0, 256, 513, 8192} {
			if _, err := newSectorCodec(m, make([]byte, n), ss); err == nil {
				t.Errorf("%s accepted sector size %d", m, ss)
			}
		}
	}
	for _, m := range []Method{0, 0x7fff, 0x8006, 0xffff} {
		if _, err := newSectorCodec(m, make([]byte, 64), 512); err == nil {
			t.Errorf("method %#x accepted", uint16(m))
		} else if !strings.Contains(err.Error(), "0x") {
			t.Errorf("method %#x: error %q does not show the code", uint16(m), err)
		}
	}
}

func TestCryptoCodecMisusePanics(t *testing.T) {
	c, _ := newSectorCodec(MethodXTS128, make([]byte, 32), 512)
	for _, tc := range []struct {
		name     string
		dst, src int
		off      int64
	}{
		{"partial sector", 600, 600, 0},
		{"short dst", 256, 512, 0},
		{"unaligned offset", 512, 512, 100},
		{"negative offset", 512, 512, -512},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", tc.name)
				}
			}()
			c.decryptSectors(make([]byte, tc.dst), make([]byte, tc.src), tc.off)
		}()
	}
}

func TestCryptoMethodNames(t *testing.T) {
	want := map[Method]string{
		MethodAES128Diffuser: "AES-CBC-128-DIFFUSER", MethodAES256Diffuser: "AES-CBC-256-DIFFUSER",
		MethodAES128CBC: "AES-CBC-128", MethodAES256CBC: "AES-CBC-256",
		MethodXTS128: "AES-XTS-128", MethodXTS256: "AES-XTS-256",
		0x1234: "unknown-method-0x1234",
	}
	for m, s := range want {
		if m.String() != s {
			t.Errorf("%#x: %q, want %q", uint16(m), m.String(), s)
		}
	}
}

// Codecs are shared by concurrent readers (Volume.ReadAt): concurrent calls
// must give the same bytes as serial ones (run with -race to check for
// shared scratch state).
func TestCryptoCodecConcurrent(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for m := MethodAES128Diffuser; m <= MethodXTS256; m++ {
		key := make([]byte, m.KeyMaterialSize())
		cryptoFill(rng, key)
		c, err := newSectorCodec(m, key, 512)
		if err != nil {
			t.Fatal(err)
		}
		src := make([]byte, 64*512)
		cryptoFill(rng, src)
		want := make([]byte, len(src))
		c.decryptSectors(want, src, 0)
		got := make([]byte, len(src))
		done := make(chan struct{})
		for g := 0; g < 8; g++ {
			go func() {
				defer func() { done <- struct{}{} }()
				for i := g; i < 64; i += 8 {
					part := got[i*512 : (i+1)*512]
					c.decryptSectors(part, src[i*512:(i+1)*512], int64(i)*512)
					c.encryptSectors(part, part, int64(i)*512)
					c.decryptSectors(part, part, int64(i)*512)
				}
			}()
		}
		for g := 0; g < 8; g++ {
			<-done
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: concurrent decryption differs from serial", m)
		}
	}
}
