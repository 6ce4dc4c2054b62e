package keys

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// NormalizeKeyID returns a key protector ID (a GUID) in the form the
// bitlocker package uses: upper-case, with dashes, without braces. It accepts
// braces, parentheses, surrounding white space, any case, and the 32 hex
// digits without dashes.
func NormalizeKeyID(s string) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && (s[0] == '{' && s[len(s)-1] == '}' || s[0] == '(' && s[len(s)-1] == ')') {
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	if s == "" {
		return "", errors.New("key ID is empty")
	}
	hex := s
	if len(s) == 36 {
		if s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
			return "", fmt.Errorf("key ID %q is not a GUID (want XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX)", clip(s))
		}
		hex = s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:]
	}
	if len(hex) != 32 {
		return "", fmt.Errorf("key ID %q is not a GUID (want 32 hex digits, like {XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX})", clip(s))
	}
	var b strings.Builder
	for i := 0; i < 32; i++ {
		c := hex[i]
		switch {
		case c >= '0' && c <= '9', c >= 'A' && c <= 'F':
		case c >= 'a' && c <= 'f':
			c -= 'a' - 'A'
		default:
			return "", fmt.Errorf("key ID %q is not a GUID (it has a character that is not a hex digit)", clip(s))
		}
		if i == 8 || i == 12 || i == 16 || i == 20 {
			b.WriteByte('-')
		}
		b.WriteByte(c)
	}
	return b.String(), nil
}

// guidFromBytes formats a 16-byte Windows GUID as stored in binary
// attributes such as msFVE-RecoveryGuid: Data1 (uint32), Data2 and Data3
// (uint16) little-endian, then 8 bytes as they are.
func guidFromBytes(b []byte) (string, error) {
	if len(b) != 16 {
		return "", fmt.Errorf("binary GUID has %d bytes, want 16", len(b))
	}
	return fmt.Sprintf("%08X-%04X-%04X-%X-%X",
		binary.LittleEndian.Uint32(b[0:4]), binary.LittleEndian.Uint16(b[4:6]),
		binary.LittleEndian.Uint16(b[6:8]), b[8:10], b[10:16]), nil
}

// clip shortens a value quoted in an error so a stray long cell (perhaps a
// password in the wrong column) is not echoed whole. Values that look like
// recovery passwords are never echoed.
func clip(s string) string {
	digits := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			digits++
		}
	}
	if digits >= 12 && !strings.ContainsAny(s, "abcdefABCDEF") {
		return "<redacted: looks like a recovery password>"
	}
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
