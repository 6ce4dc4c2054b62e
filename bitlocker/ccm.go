package bitlocker

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrCCMAuth is returned when an AES-CCM message authentication code does not
// match: the key is wrong or the wrapped data is damaged.
var ErrCCMAuth = errors.New("AES-CCM authentication failed (wrong key or damaged key data)")

// BitLocker wraps its keys (VMK, FVEK, the validation hash) with AES-CCM
// using a 12-byte nonce (an 8-byte FILETIME and a 4-byte counter, stored in
// the AES-CCM entry), a 16-byte MAC and no associated data (libbde
// documentation, "FVE AES-CCM encrypted key"; dislocker
// src/encryption/decrypt.c). The only departure from RFC 3610 is the
// stored layout: the encrypted MAC comes first, then the ciphertext.
// Counter block 0 encrypts the MAC and counting for the data starts at 1,
// as in RFC 3610; codec_corpus_test.go confirms all of this on keys that
// Windows wrapped.
const (
	bitlockerCCMNonceSize = 12
	bitlockerCCMTagSize   = 16
)

// ccm implements AES-CCM (RFC 3610, NIST SP 800-38C) on a cipher.Block with
// a 16-byte block size.
type ccm struct {
	b        cipher.Block
	nonceLen int // 7..13
	tagLen   int // 4, 6, 8, 10, 12, 14 or 16
}

func newCCM(b cipher.Block, nonceLen, tagLen int) (*ccm, error) {
	if b.BlockSize() != 16 {
		return nil, errors.New("ccm: block size must be 16 bytes")
	}
	if nonceLen < 7 || nonceLen > 13 {
		return nil, fmt.Errorf("ccm: nonce length %d not in 7..13", nonceLen)
	}
	if tagLen < 4 || tagLen > 16 || tagLen%2 != 0 {
		return nil, fmt.Errorf("ccm: tag length %d not one of 4, 6, ..., 16", tagLen)
	}
	return &ccm{b: b, nonceLen: nonceLen, tagLen: tagLen}, nil
}

// maxLen returns the largest message length the length field can encode.
func (c *ccm) maxLen() uint64 {
	l := 15 - c.nonceLen
	if l >= 8 {
		return ^uint64(0)
	}
	return 1<<(8*uint(l)) - 1
}

// mac computes the unencrypted CBC-MAC tag T over nonce, aad and plain
// (RFC 3610 section 2.2).
func (c *ccm) mac(nonce, aad, plain []byte) [16]byte {
	l := 15 - c.nonceLen
	var x, blk [16]byte
	flags := byte((c.tagLen-2)/2)<<3 | byte(l-1)
	if len(aad) > 0 {
		flags |= 0x40
	}
	blk[0] = flags
	copy(blk[1:], nonce)
	var lenBuf [8]byte
	binary.BigEndian.PutUint64(lenBuf[:], uint64(len(plain)))
	copy(blk[16-l:], lenBuf[8-l:])
	c.b.Encrypt(x[:], blk[:])

	if len(aad) > 0 {
		// Encode the associated data length, then the data, zero padded.
		var hdr []byte
		n := uint64(len(aad))
		switch {
		case n < 0xff00:
			hdr = binary.BigEndian.AppendUint16(nil, uint16(n))
		case n <= 0xffffffff:
			hdr = append([]byte{0xff, 0xfe}, binary.BigEndian.AppendUint32(nil, uint32(n))...)
		default:
			hdr = append([]byte{0xff, 0xff}, binary.BigEndian.AppendUint64(nil, n)...)
		}
		c.macBlocks(&x, append(hdr, aad...))
	}
	c.macBlocks(&x, plain)
	return x
}

// macBlocks chains data (zero padded to a whole block) into the CBC-MAC x.
func (c *ccm) macBlocks(x *[16]byte, data []byte) {
	for len(data) > 0 {
		n := min(16, len(data))
		subtle.XORBytes(x[:n], x[:n], data[:n])
		c.b.Encrypt(x[:], x[:])
		data = data[n:]
	}
}

// ctr XORs src with the key stream blocks A_1, A_2, ... into dst and returns
// S_0 = E(A_0), used to encrypt the tag (RFC 3610 section 2.3).
func (c *ccm) ctr(dst, src, nonce []byte) [16]byte {
	l := 15 - c.nonceLen
	var a, s0, ks [16]byte
	a[0] = byte(l - 1)
	copy(a[1:], nonce)
	c.b.Encrypt(s0[:], a[:])
	var ctr uint64 = 1
	for len(src) > 0 {
		var cb [8]byte
		binary.BigEndian.PutUint64(cb[:], ctr)
		copy(a[16-l:], cb[8-l:])
		c.b.Encrypt(ks[:], a[:])
		n := min(16, len(src))
		subtle.XORBytes(dst[:n], src[:n], ks[:n])
		dst, src = dst[n:], src[n:]
		ctr++
	}
	return s0
}

// seal returns ciphertext || encrypted tag (the RFC 3610 layout).
func (c *ccm) seal(nonce, plain, aad []byte) ([]byte, error) {
	if len(nonce) != c.nonceLen {
		return nil, fmt.Errorf("ccm: nonce is %d bytes, want %d", len(nonce), c.nonceLen)
	}
	if uint64(len(plain)) > c.maxLen() {
		return nil, errors.New("ccm: message too long for the nonce length")
	}
	t := c.mac(nonce, aad, plain)
	out := make([]byte, len(plain)+c.tagLen)
	s0 := c.ctr(out[:len(plain)], plain, nonce)
	subtle.XORBytes(out[len(plain):], t[:c.tagLen], s0[:c.tagLen])
	return out, nil
}

// open checks and decrypts ciphertext || encrypted tag. It returns
// ErrCCMAuth when the tag does not match; the plaintext is then not returned.
func (c *ccm) open(nonce, sealed, aad []byte) ([]byte, error) {
	if len(nonce) != c.nonceLen {
		return nil, fmt.Errorf("ccm: nonce is %d bytes, want %d", len(nonce), c.nonceLen)
	}
	if len(sealed) < c.tagLen {
		return nil, fmt.Errorf("ccm: sealed data is %d bytes, shorter than the %d-byte tag", len(sealed), c.tagLen)
	}
	n := len(sealed) - c.tagLen
	if uint64(n) > c.maxLen() {
		return nil, errors.New("ccm: message too long for the nonce length")
	}
	plain := make([]byte, n)
	s0 := c.ctr(plain, sealed[:n], nonce)
	var want [16]byte
	subtle.XORBytes(want[:c.tagLen], sealed[n:], s0[:c.tagLen])
	t := c.mac(nonce, aad, plain)
	if subtle.ConstantTimeCompare(t[:c.tagLen], want[:c.tagLen]) != 1 {
		clear(plain)
		return nil, ErrCCMAuth
	}
	return plain, nil
}

// ccmUnwrap decrypts an AES-CCM wrapped BitLocker key. sealed is the data
// of the AES-CCM encrypted key entry: the 16-byte encrypted MAC followed by
// the ciphertext. key is the 32-byte (or 16-byte) AES key that wraps it.
// It returns ErrCCMAuth when the MAC does not match.
func ccmUnwrap(key []byte, nonce [12]byte, sealed []byte) ([]byte, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("AES-CCM key: %w", err)
	}
	c, err := newCCM(b, bitlockerCCMNonceSize, bitlockerCCMTagSize)
	if err != nil {
		return nil, err
	}
	if len(sealed) < bitlockerCCMTagSize {
		return nil, fmt.Errorf("AES-CCM encrypted key is %d bytes, shorter than its 16-byte MAC", len(sealed))
	}
	// Reorder MAC || ciphertext into the RFC 3610 order ciphertext || MAC.
	buf := make([]byte, 0, len(sealed))
	buf = append(buf, sealed[bitlockerCCMTagSize:]...)
	buf = append(buf, sealed[:bitlockerCCMTagSize]...)
	return c.open(nonce[:], buf, nil)
}

// ccmWrap is the inverse of ccmUnwrap: it returns the 16-byte encrypted MAC
// followed by the ciphertext of plain. It panics only if key is not a valid
// AES key length, which is a programming error.
func ccmWrap(key []byte, nonce [12]byte, plain []byte) []byte {
	b, err := aes.NewCipher(key)
	if err != nil {
		panic("bitlocker: ccmWrap: " + err.Error())
	}
	c, _ := newCCM(b, bitlockerCCMNonceSize, bitlockerCCMTagSize)
	s, err := c.seal(nonce[:], plain, nil)
	if err != nil {
		panic("bitlocker: ccmWrap: " + err.Error())
	}
	n := len(plain)
	out := make([]byte, 0, len(s))
	out = append(out, s[n:]...)
	return append(out, s[:n]...)
}
