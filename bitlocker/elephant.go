package bitlocker

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"fmt"
	"math/bits"
)

// The Elephant diffuser of BitLocker's AES-CBC methods 0x8000 and 0x8001
// (N. Ferguson, "AES-CBC + Elephant diffuser: A Disk Encryption Algorithm
// for Windows Vista", Microsoft, 2006; libbde documentation, "AES-CBC with
// Elephant Diffuser").
//
// Encryption of a sector: XOR the plaintext with the 32-byte sector key
// repeated over the sector, run diffuser A, run diffuser B, then AES-CBC.
// Decryption runs the inverse steps in reverse order.
//
// The sector key is E(tweak key, offset) || E(tweak key, offset with its
// byte 15 set to 0x80), where offset is the sector's volume byte offset as a
// 16-byte little-endian value.
//
// Both diffusers treat the sector as n = sectorSize/4 little-endian 32-bit
// words d[0..n-1], indices taken modulo n. The decryption direction (the one
// Ferguson calls the diffuser itself) runs, per cycle, for i = 0..n-1:
//
//	A (5 cycles): d[i] += d[i-2] ^ rotl(d[i-5], Ra[i%4]),  Ra = 9, 0, 13, 0
//	B (3 cycles): d[i] += d[i+2] ^ rotl(d[i+5], Rb[i%4]),  Rb = 0, 10, 0, 25
//
// and the encryption direction undoes this for i = n-1..0 with "-=".

const (
	elephantCyclesA = 5
	elephantCyclesB = 3
	// elephantMaxWords is the word count of the largest supported sector.
	elephantMaxWords = maxSectorSize / 4
)

type elephant struct {
	tweak cipher.Block
	words int
}

func newElephant(tweakKey []byte, sectorSize int) (*elephant, error) {
	b, err := aes.NewCipher(tweakKey)
	if err != nil {
		return nil, fmt.Errorf("Elephant tweak key: %w", err)
	}
	if sectorSize%32 != 0 || sectorSize/4 > elephantMaxWords || sectorSize < 512 {
		return nil, fmt.Errorf("Elephant diffuser: unsupported sector size %d", sectorSize)
	}
	return &elephant{tweak: b, words: sectorSize / 4}, nil
}

// sectorKey returns the 8 little-endian words of the sector key for the
// sector at byte offset off.
func (e *elephant) sectorKey(s *codecScratch, off uint64) [8]uint32 {
	kb := s.key[:]
	binary.LittleEndian.PutUint64(kb[0:8], off)
	binary.LittleEndian.PutUint64(kb[8:16], 0)
	binary.LittleEndian.PutUint64(kb[16:24], off)
	binary.LittleEndian.PutUint64(kb[24:32], 0)
	kb[31] = 0x80
	e.tweak.Encrypt(kb[0:16], kb[0:16])
	e.tweak.Encrypt(kb[16:32], kb[16:32])
	var k [8]uint32
	for i := range k {
		k[i] = binary.LittleEndian.Uint32(kb[4*i:])
	}
	return k
}

// decrypt turns a CBC-decrypted sector (in place) into plaintext.
func (e *elephant) decrypt(s *codecScratch, sec []byte, off uint64) {
	var buf [elephantMaxWords]uint32
	d := buf[:e.words]
	loadWords(d, sec)
	diffuserBDecrypt(d)
	diffuserADecrypt(d)
	k := e.sectorKey(s, off)
	for i := range d {
		d[i] ^= k[i&7]
	}
	storeWords(sec, d)
}

// encrypt mixes a plaintext sector (in place) before CBC encryption.
func (e *elephant) encrypt(s *codecScratch, sec []byte, off uint64) {
	var buf [elephantMaxWords]uint32
	d := buf[:e.words]
	loadWords(d, sec)
	k := e.sectorKey(s, off)
	for i := range d {
		d[i] ^= k[i&7]
	}
	diffuserAEncrypt(d)
	diffuserBEncrypt(d)
	storeWords(sec, d)
}

func loadWords(d []uint32, b []byte) {
	b = b[:4*len(d)]
	for i := range d {
		d[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
}

func storeWords(b []byte, d []uint32) {
	b = b[:4*len(d)]
	for i, v := range d {
		binary.LittleEndian.PutUint32(b[4*i:], v)
	}
}

var (
	elephantRa = [4]int{9, 0, 13, 0}
	elephantRb = [4]int{0, 10, 0, 25}
)

// diffuserADecrypt runs the 5 cycles of diffuser A in the decryption
// direction. len(d) must be a multiple of 4 and at least 16.
//
// Each word depends on words updated 2 and 5 steps before it, so the main
// loop keeps the last five results in registers (p1 = d[i-1] ... p5 =
// d[i-5]) instead of reloading them from memory.
func diffuserADecrypt(d []uint32) {
	n := len(d)
	for c := 0; c < elephantCyclesA; c++ {
		// The first 8 words reach back across the start of the sector.
		for i := 0; i < 8; i++ {
			d[i] += d[(i-2+n)%n] ^ bits.RotateLeft32(d[(i-5+n)%n], elephantRa[i&3])
		}
		p1, p2, p3, p4, p5 := d[7], d[6], d[5], d[4], d[3]
		for i := 8; i+3 < n; i += 4 {
			w := d[i : i+4 : i+4]
			x0 := w[0] + (p2 ^ bits.RotateLeft32(p5, 9))
			x1 := w[1] + (p1 ^ p4)
			x2 := w[2] + (x0 ^ bits.RotateLeft32(p3, 13))
			x3 := w[3] + (x1 ^ p2)
			w[0], w[1], w[2], w[3] = x0, x1, x2, x3
			p1, p2, p3, p4, p5 = x3, x2, x1, x0, p1
		}
	}
}

// diffuserAEncrypt is the inverse of diffuserADecrypt.
func diffuserAEncrypt(d []uint32) {
	n := len(d)
	for c := 0; c < elephantCyclesA; c++ {
		for i := n - 4; i >= 8; i -= 4 {
			w := d[i-5 : i+4 : i+4]
			w[8] -= w[6] ^ w[3]
			w[7] -= w[5] ^ bits.RotateLeft32(w[2], 13)
			w[6] -= w[4] ^ w[1]
			w[5] -= w[3] ^ bits.RotateLeft32(w[0], 9)
		}
		for i := 7; i >= 0; i-- {
			d[i] -= d[(i-2+n)%n] ^ bits.RotateLeft32(d[(i-5+n)%n], elephantRa[i&3])
		}
	}
}

// diffuserBDecrypt runs the 3 cycles of diffuser B in the decryption
// direction. len(d) must be a multiple of 4 and at least 16.
func diffuserBDecrypt(d []uint32) {
	n := len(d)
	for c := 0; c < elephantCyclesB; c++ {
		i := 0
		for ; i+8 < n; i += 4 {
			w := d[i : i+9 : i+9]
			w[0] += w[2] ^ w[5]
			w[1] += w[3] ^ bits.RotateLeft32(w[6], 10)
			w[2] += w[4] ^ w[7]
			w[3] += w[5] ^ bits.RotateLeft32(w[8], 25)
		}
		// The last words reach forward across the end of the sector.
		for ; i < n; i++ {
			d[i] += d[(i+2)%n] ^ bits.RotateLeft32(d[(i+5)%n], elephantRb[i&3])
		}
	}
}

// diffuserBEncrypt is the inverse of diffuserBDecrypt. Going down, each
// word depends on the words just updated 2 and 5 places above it; the main
// loop keeps them in registers (q1 = d[i+4] ... q5 = d[i+8]).
func diffuserBEncrypt(d []uint32) {
	n := len(d)
	// The main loop of diffuserBDecrypt stops at the first i (a multiple
	// of 4) with i+8 >= n; with n a multiple of 4 that is n-8.
	tail := n - 8
	for c := 0; c < elephantCyclesB; c++ {
		for i := n - 1; i >= tail; i-- {
			d[i] -= d[(i+2)%n] ^ bits.RotateLeft32(d[(i+5)%n], elephantRb[i&3])
		}
		q1, q2, q3, q4, q5 := d[tail], d[tail+1], d[tail+2], d[tail+3], d[tail+4]
		for i := tail - 4; i >= 0; i -= 4 {
			w := d[i : i+4 : i+4]
			y3 := w[3] - (q2 ^ bits.RotateLeft32(q5, 25))
			y2 := w[2] - (q1 ^ q4)
			y1 := w[1] - (y3 ^ bits.RotateLeft32(q3, 10))
			y0 := w[0] - (y2 ^ q2)
			w[0], w[1], w[2], w[3] = y0, y1, y2, y3
			q1, q2, q3, q4, q5 = y0, y1, y2, y3, q1
		}
	}
}
