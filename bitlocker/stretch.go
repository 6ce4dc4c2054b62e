package bitlocker

import (
	"crypto/sha256"
	"encoding/binary"
	"unicode/utf16"
)

// stretchRounds is the number of SHA-256 rounds of the BitLocker key stretch
// (0x100000; libbde documentation, "Stretch key"; dislocker
// src/accesses/stretch_key.c).
const stretchRounds = 1 << 20

// The stretch hashes an 88-byte structure again and again:
//
//	offset  size  field
//	0       32    last SHA-256 (all zeros initially)
//	32      32    initial SHA-256 (the password or recovery-key hash)
//	64      16    salt (from the stretch key entry of the protector)
//	80       8    counter, uint64 little-endian, starting at 0
//
// After each round the result becomes the new "last SHA-256" and the counter
// is incremented. The last hash after 2^20 rounds is the stretched key.
const stretchBlockSize = 88

// stretchKey runs the 2^20-round SHA-256 stretch over hash and salt.
func stretchKey(hash [32]byte, salt [16]byte) [32]byte {
	return stretchN(hash, salt, stretchRounds)
}

// stretchN runs the stretch loop for the given number of rounds. The
// structure lives in one array and is hashed in place each round: one
// reused SHA-256 state whose Sum appends the digest straight over the
// "last SHA-256" field (about 8% faster than sha256.Sum256 plus a copy,
// measured with go1.26 on the project machine).
func stretchN(hash [32]byte, salt [16]byte, rounds uint64) [32]byte {
	var blk [stretchBlockSize]byte
	copy(blk[32:64], hash[:])
	copy(blk[64:80], salt[:])
	h := sha256.New()
	for i := uint64(0); i < rounds; i++ {
		binary.LittleEndian.PutUint64(blk[80:88], i)
		h.Reset()
		h.Write(blk[:])
		h.Sum(blk[:0]) // cap(blk) > 32: writes blk[0:32] in place
	}
	var out [32]byte
	copy(out[:], blk[0:32])
	clear(blk[:])
	h.Reset()
	return out
}

// recoveryPasswordHash parses a 48-digit recovery password
// (ParseRecoveryPassword) and returns the SHA-256 of the 16-byte key it
// encodes: the group values, stored little-endian in group order (libbde
// documentation, "Recovery password"). Errors name the group that is
// wrong but never repeat the password.
func recoveryPasswordHash(pw string) ([32]byte, error) {
	vals, err := ParseRecoveryPassword(pw)
	if err != nil {
		return [32]byte{}, err
	}
	var key [16]byte
	for i, v := range vals {
		binary.LittleEndian.PutUint16(key[2*i:], v)
	}
	h := sha256.Sum256(key[:])
	clear(key[:])
	return h, nil
}

// passwordHash returns SHA-256(SHA-256(UTF-16LE(pw))), the initial hash of
// a user password protector before the stretch (libbde documentation,
// "Password").
func passwordHash(pw string) [32]byte {
	u := utf16.Encode([]rune(pw))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	h := sha256.Sum256(b)
	clear(b)
	return sha256.Sum256(h[:])
}
