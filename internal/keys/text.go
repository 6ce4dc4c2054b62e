package keys

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// decodeText turns a key file's bytes into UTF-8 text. Windows tools write
// several encodings: Windows PowerShell 5.1 `Out-File` and `>` write UTF-16LE
// with a byte-order mark, `Export-Csv -Encoding Unicode` too, its default is
// ASCII; PowerShell 7 writes UTF-8 without BOM; csvde/ldifde write ANSI, or
// UTF-16LE with -u. A BOM decides; without one, NUL bytes in every other
// position mean UTF-16 without BOM. CRLF becomes LF.
func decodeText(b []byte) (string, error) {
	var s string
	switch {
	case bytes.HasPrefix(b, []byte{0xEF, 0xBB, 0xBF}):
		s = string(b[3:])
	case bytes.HasPrefix(b, []byte{0xFF, 0xFE}):
		s = utf16String(b[2:], binary.LittleEndian)
	case bytes.HasPrefix(b, []byte{0xFE, 0xFF}):
		s = utf16String(b[2:], binary.BigEndian)
	case looksUTF16(b, 1):
		s = utf16String(b, binary.LittleEndian)
	case looksUTF16(b, 0):
		s = utf16String(b, binary.BigEndian)
	default:
		if bytes.IndexByte(b, 0) >= 0 {
			return "", errors.New("file is binary (it has NUL bytes), not a text key export")
		}
		if !utf8.Valid(b) {
			// ANSI (Windows-1252) export: the fields that matter are ASCII;
			// map other bytes through Latin-1 so names stay readable.
			r := make([]rune, len(b))
			for i, c := range b {
				r[i] = rune(c)
			}
			s = string(r)
		} else {
			s = string(b)
		}
	}
	if strings.IndexByte(s, 0) >= 0 {
		return "", errors.New("file has NUL characters after decoding; it is not a text key export")
	}
	s = replaceCRLF(s)
	return s, nil
}

// looksUTF16 reports whether the first bytes have NULs at every position
// of the given parity and none at the other (ASCII text in UTF-16).
func looksUTF16(b []byte, zeroAt int) bool {
	n := min(len(b), 64) &^ 1
	if n < 4 {
		return false
	}
	for i := 0; i < n; i++ {
		if (i%2 == zeroAt) != (b[i] == 0) {
			return false
		}
	}
	return true
}

func utf16String(b []byte, order binary.ByteOrder) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = order.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

func replaceCRLF(s string) string {
	if strings.IndexByte(s, '\r') < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\r' && i+1 < len(s) && s[i+1] == '\n':
		case s[i] == '\r': // old Mac line ending
			b.WriteByte('\n')
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
