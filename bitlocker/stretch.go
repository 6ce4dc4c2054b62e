package bitlocker

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
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

// recoveryPasswordGroups is the number of digit groups in a recovery
// password; each group holds 6 decimal digits.
const recoveryPasswordGroups = 8

// recoveryPasswordHash parses a 48-digit recovery password and returns the
// SHA-256 of the 16-byte key it encodes. Each 6-digit group is 11 times a
// 16-bit value (so divisible by 11 and below 720896); the values, stored
// little-endian in group order, form the key (libbde documentation,
// "Recovery password").
//
// Groups may be separated by dashes, spaces or nothing. Errors name the
// group that is wrong but never repeat the whole password.
func recoveryPasswordHash(pw string) ([32]byte, error) {
	var zero [32]byte
	groups, err := splitRecoveryPassword(pw)
	if err != nil {
		return zero, err
	}
	var key [16]byte
	for i, g := range groups {
		v, err := strconv.ParseUint(g, 10, 32)
		if err != nil {
			return zero, fmt.Errorf("recovery password group %d is not 6 decimal digits: check that digit group", i+1)
		}
		if v%11 != 0 {
			return zero, fmt.Errorf("recovery password group %d fails its checksum (not divisible by 11): check that digit group", i+1)
		}
		if v >= 720896 {
			return zero, fmt.Errorf("recovery password group %d is out of range (must be below 720896): check that digit group", i+1)
		}
		binary.LittleEndian.PutUint16(key[2*i:], uint16(v/11))
	}
	h := sha256.Sum256(key[:])
	clear(key[:])
	return h, nil
}

// splitRecoveryPassword splits pw into its 8 groups of 6 digits. Groups
// may be separated by dashes (including the Unicode dashes word processors
// substitute) or white space, or the 48 digits may be given without
// separators.
func splitRecoveryPassword(pw string) ([]string, error) {
	groups := strings.FieldsFunc(pw, isRecoverySeparator)
	if len(groups) == 0 {
		return nil, errors.New("recovery password is empty: expected 8 groups of 6 digits")
	}
	if len(groups) == 1 && len(groups[0]) == 6*recoveryPasswordGroups {
		one := groups[0]
		groups = groups[:0]
		for i := 0; i < len(one); i += 6 {
			groups = append(groups, one[i:i+6])
		}
	}
	for i, g := range groups {
		for j, r := range []rune(g) {
			if r < '0' || r > '9' {
				return nil, fmt.Errorf("recovery password group %d: character %d is not a digit: a recovery password is 8 groups of 6 digits", i+1, j+1)
			}
		}
		if len(g) != 6 && len(groups) > 1 {
			return nil, fmt.Errorf("recovery password group %d has %d digits, not 6: check that digit group", i+1, len(g))
		}
	}
	if len(groups) != recoveryPasswordGroups {
		if len(groups) == 1 {
			return nil, fmt.Errorf("recovery password has %d digits, not 48: expected 8 groups of 6 digits", len(groups[0]))
		}
		return nil, fmt.Errorf("recovery password has %d digit groups, not 8: expected 8 groups of 6 digits", len(groups))
	}
	return groups, nil
}

func isRecoverySeparator(r rune) bool {
	switch r {
	case '-', '\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2015', '\u2212':
		return true
	}
	return unicode.IsSpace(r)
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
