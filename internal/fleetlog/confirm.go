package fleetlog

import (
	"crypto/sha256"
	"encoding/binary"
	"strings"
)

// codeAlphabet is Crockford's base-32 alphabet: digits and upper-case
// letters without I, L, O and U, so a code read aloud or typed cannot be
// confused (NormalizeCode maps I and L to 1, O to 0).
const codeAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// ConfirmationCode is the 8-character code the wizard shows for a volume's
// outcome, so a help desk can check what a technician reads out against
// the log: the first 40 bits of
// SHA-256("unbrick-confirmation/1" NUL runID NUL volumeID NUL status),
// in Crockford base 32. Anyone holding the log can recompute it; it proves
// the technician saw this run's outcome for this volume, it is not a
// secret.
func ConfirmationCode(runID, volumeID string, status Status) string {
	h := sha256.New()
	h.Write([]byte("unbrick-confirmation/1\x00" + runID + "\x00" + strings.ToUpper(volumeID) + "\x00" + string(status)))
	sum := h.Sum(nil)
	v := binary.BigEndian.Uint64(sum[:8]) >> 24 // 40 bits
	var b [8]byte
	for i := 7; i >= 0; i-- {
		b[i] = codeAlphabet[v&31]
		v >>= 5
	}
	return string(b[:])
}

// NormalizeCode upper-cases a code as typed, drops spaces and dashes, and
// maps the look-alikes O->0, I/L->1.
func NormalizeCode(s string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		switch r {
		case ' ', '-':
		case 'O':
			b.WriteByte('0')
		case 'I', 'L':
			b.WriteByte('1')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// CheckCode reports whether code (as typed) is the code of the outcome.
func CheckCode(code, runID, volumeID string, status Status) bool {
	return NormalizeCode(code) == ConfirmationCode(runID, volumeID, status)
}
