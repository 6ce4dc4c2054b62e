package bitlocker

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
)

// AES-XTS as BitLocker uses it (methods 0x8004 and 0x8005): IEEE P1619 XTS
// without ciphertext stealing (sectors are whole AES blocks). The key
// material is the data key followed by the tweak key, each 16 (XTS-128) or
// 32 (XTS-256) bytes. The tweak of a sector is its sector number (volume
// byte offset divided by the sector size) as a 16-byte little-endian value
// (libbde documentation, "AES-XTS"; dissect.fve maps these methods to
// "aes-xts-plain64").
//
// This implementation computes the tweaks of a batch of blocks first
// (doubling in GF(2^128) on two uint64 halves), then XORs whole batches
// with crypto/subtle and runs AES block by block in between. It is tested
// byte for byte against golang.org/x/crypto/xts and the IEEE P1619 vectors.

// xtsBatchBlocks is the number of AES blocks whose tweaks are computed and
// XORed at once (512 bytes: one 512-byte sector, an eighth of a 4 KiB one).
const xtsBatchBlocks = 32

type xtsCodec struct {
	data, tweak cipher.Block
	sectorSize  int
}

// newXTS returns an XTS codec for a 32-byte (AES-128) or 64-byte (AES-256)
// double key.
func newXTS(key []byte, sectorSize int) (*xtsCodec, error) {
	if len(key) != 32 && len(key) != 64 {
		return nil, fmt.Errorf("AES-XTS key material must be 32 or 64 bytes, got %d", len(key))
	}
	h := len(key) / 2
	d, err := aes.NewCipher(key[:h])
	if err != nil {
		return nil, err
	}
	t, err := aes.NewCipher(key[h:])
	if err != nil {
		return nil, err
	}
	return &xtsCodec{data: d, tweak: t, sectorSize: sectorSize}, nil
}

func (x *xtsCodec) decryptSectors(dst, src []byte, offset int64) {
	x.crypt(dst, src, offset, false)
}

func (x *xtsCodec) encryptSectors(dst, src []byte, offset int64) {
	x.crypt(dst, src, offset, true)
}

func (x *xtsCodec) crypt(dst, src []byte, offset int64, encrypt bool) {
	checkSectorArgs(dst, src, offset, x.sectorSize)
	if len(src) == 0 {
		return
	}
	s := getScratch()
	defer putScratch(s)
	sector := uint64(offset) / uint64(x.sectorSize)
	for len(src) > 0 {
		x.cryptUnit(s, dst[:x.sectorSize], src[:x.sectorSize], sector, encrypt)
		dst, src = dst[x.sectorSize:], src[x.sectorSize:]
		sector++
	}
}

// cryptSector encrypts or decrypts one data unit with tweak value sector.
// len(src) must be a multiple of 16.
func (x *xtsCodec) cryptSector(dst, src []byte, sector uint64, encrypt bool) {
	s := getScratch()
	defer putScratch(s)
	x.cryptUnit(s, dst, src, sector, encrypt)
}

func (x *xtsCodec) cryptUnit(s *codecScratch, dst, src []byte, sector uint64, encrypt bool) {
	t := s.block[:]
	binary.LittleEndian.PutUint64(t[:8], sector)
	binary.LittleEndian.PutUint64(t[8:], 0)
	x.tweak.Encrypt(t, t)
	lo := binary.LittleEndian.Uint64(t[:8])
	hi := binary.LittleEndian.Uint64(t[8:])

	tw := s.tw[:]
	for len(src) > 0 {
		n := min(len(src), len(tw))
		// Tweaks T, T*a, T*a^2, ... for this batch.
		for i := 0; i < n; i += 16 {
			binary.LittleEndian.PutUint64(tw[i:], lo)
			binary.LittleEndian.PutUint64(tw[i+8:], hi)
			carry := hi >> 63
			hi = hi<<1 | lo>>63
			lo = lo<<1 ^ (0x87 & -carry)
		}
		d := dst[:n]
		subtle.XORBytes(d, src[:n], tw[:n])
		if encrypt {
			for i := 0; i < n; i += 16 {
				x.data.Encrypt(d[i:i+16], d[i:i+16])
			}
		} else {
			for i := 0; i < n; i += 16 {
				x.data.Decrypt(d[i:i+16], d[i:i+16])
			}
		}
		subtle.XORBytes(d, d, tw[:n])
		dst, src = dst[n:], src[n:]
	}
}

// checkSectorArgs panics when a codec is called against its contract:
// src must be whole sectors, dst at least as long, offset sector aligned.
// These are programming errors of the caller, never a property of the data.
func checkSectorArgs(dst, src []byte, offset int64, sectorSize int) {
	if len(src)%sectorSize != 0 || len(dst) < len(src) || offset < 0 || offset%int64(sectorSize) != 0 {
		panic(fmt.Sprintf("bitlocker: internal error: sector codec called with %d bytes into %d at offset %d (sector size %d)",
			len(src), len(dst), offset, sectorSize))
	}
}
