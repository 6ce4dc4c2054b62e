// Package utf16le decodes the little-endian UTF-16 strings NTFS stores
// (file names, attribute names, volume labels): 16-bit code units, low
// byte first, surrogate pairs allowed, no terminator (ntfs-3g unistr.c,
// ntfs_ucstombs, converts the same encoding).
package utf16le

import (
	"encoding/binary"
	"unicode/utf16"
)

// Decode converts UTF-16LE bytes to a string (an odd last byte is
// ignored; unpaired surrogates become U+FFFD).
func Decode(b []byte) string {
	return string(utf16.Decode(Units(b)))
}

// Units splits UTF-16LE bytes into code units (an odd last byte is
// ignored).
func Units(b []byte) []uint16 {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return u
}
