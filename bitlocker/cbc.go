package bitlocker

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"fmt"
	"sync"
)

// AES-CBC as BitLocker uses it (methods 0x8000-0x8003): each sector is one
// CBC message whose IV is the sector's volume byte offset, as a 16-byte
// little-endian value, AES-ECB encrypted with the FVEK (libbde
// documentation, "AES-CBC"; dissect.fve calls this IV mode "eboiv").
// With the Elephant diffuser (0x8000, 0x8001) the plaintext is first mixed
// as described in elephant.go.

type cbcCodec struct {
	fvek       cipher.Block
	elephant   *elephant // nil without diffuser
	sectorSize int
	// Pools of CBC modes (with SetIV) so that a call allocates nothing.
	decModes, encModes sync.Pool
}

// ivSetter is implemented by the crypto/cipher CBC modes; it lets one
// BlockMode serve many sectors without allocating.
type ivSetter interface{ SetIV([]byte) }

// newCBC returns a CBC codec. fvek is the 16- or 32-byte AES key; tweakKey
// (same length) enables the Elephant diffuser, nil disables it.
func newCBC(fvek, tweakKey []byte, sectorSize int) (*cbcCodec, error) {
	b, err := aes.NewCipher(fvek)
	if err != nil {
		return nil, fmt.Errorf("AES-CBC FVEK: %w", err)
	}
	c := &cbcCodec{fvek: b, sectorSize: sectorSize}
	if tweakKey != nil {
		c.elephant, err = newElephant(tweakKey, sectorSize)
		if err != nil {
			return nil, err
		}
	}
	return c, nil
}

// sectorIV sets iv to E(FVEK, byte offset as 16-byte little-endian).
func (c *cbcCodec) sectorIV(iv []byte, off uint64) {
	binary.LittleEndian.PutUint64(iv[:8], off)
	binary.LittleEndian.PutUint64(iv[8:16], 0)
	c.fvek.Encrypt(iv, iv)
}

func (c *cbcCodec) decryptSectors(dst, src []byte, offset int64) {
	checkSectorArgs(dst, src, offset, c.sectorSize)
	if len(src) == 0 {
		return
	}
	ss := c.sectorSize
	s := getScratch()
	defer putScratch(s)
	mode, _ := c.decModes.Get().(cipher.BlockMode)
	if mode == nil {
		mode = cipher.NewCBCDecrypter(c.fvek, s.block[:])
	}
	setIV, reusable := mode.(ivSetter)
	if reusable {
		defer c.decModes.Put(mode)
	}
	off := uint64(offset)
	for len(src) > 0 {
		c.sectorIV(s.block[:], off)
		if reusable {
			setIV.SetIV(s.block[:])
		} else {
			mode = cipher.NewCBCDecrypter(c.fvek, s.block[:])
		}
		d := dst[:ss]
		mode.CryptBlocks(d, src[:ss])
		if c.elephant != nil {
			c.elephant.decrypt(s, d, off)
		}
		dst, src = dst[ss:], src[ss:]
		off += uint64(ss)
	}
}

func (c *cbcCodec) encryptSectors(dst, src []byte, offset int64) {
	checkSectorArgs(dst, src, offset, c.sectorSize)
	if len(src) == 0 {
		return
	}
	ss := c.sectorSize
	s := getScratch()
	defer putScratch(s)
	mode, _ := c.encModes.Get().(cipher.BlockMode)
	if mode == nil {
		mode = cipher.NewCBCEncrypter(c.fvek, s.block[:])
	}
	setIV, reusable := mode.(ivSetter)
	if reusable {
		defer c.encModes.Put(mode)
	}
	off := uint64(offset)
	for len(src) > 0 {
		c.sectorIV(s.block[:], off)
		if reusable {
			setIV.SetIV(s.block[:])
		} else {
			mode = cipher.NewCBCEncrypter(c.fvek, s.block[:])
		}
		d := dst[:ss]
		if c.elephant != nil {
			// The diffuser works in place: mix into dst first.
			copy(d, src[:ss])
			c.elephant.encrypt(s, d, off)
			mode.CryptBlocks(d, d)
		} else {
			mode.CryptBlocks(d, src[:ss])
		}
		dst, src = dst[ss:], src[ss:]
		off += uint64(ss)
	}
}
