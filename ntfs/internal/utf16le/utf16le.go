package utf16le

import (
	"encoding/binary"
	"unicode/utf16"
)

func Decode(b []byte) string {
	return string(utf16.Decode(Units(b)))
}

func Units(b []byte) []uint16 {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return u
}
