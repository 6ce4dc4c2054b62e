package keys

import (
	"strings"

	"github.com/unbrick/unbrick/bitlocker"
)

// RecoveryPasswordError says why a recovery password is malformed without
// repeating any of its digits (bitlocker's: the format has one parser).
type RecoveryPasswordError = bitlocker.RecoveryPasswordError

// NormalizeRecoveryPassword checks a BitLocker recovery password and returns
// it in the canonical form Windows shows: eight groups of six digits joined
// by dashes.
//
// The format is bitlocker.ParseRecoveryPassword's (groups separated by
// dashes, Unicode dashes or spaces, or none; each group a multiple of 11
// below 720896). Key exports add one thing first: spreadsheet text markers
// (a leading ' or ="...", which keep Excel from turning the value into a
// number) and surrounding white space are removed.
//
// Errors never contain the digits.
func NormalizeRecoveryPassword(s string) (string, error) {
	return bitlocker.NormalizeRecoveryPassword(cleanSpreadsheet(s))
}

// cleanSpreadsheet removes the text markers spreadsheets put around a
// number kept as text: 'digits and ="digits".
func cleanSpreadsheet(s string) string {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, `="`) && strings.HasSuffix(s, `"`) && len(s) >= 3 {
		s = s[2 : len(s)-1]
	}
	return strings.TrimSpace(strings.TrimPrefix(s, "'"))
}
