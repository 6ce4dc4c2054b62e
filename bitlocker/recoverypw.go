package bitlocker

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// RecoveryPasswordError says why a recovery password is malformed without
// repeating any of its digits.
type RecoveryPasswordError struct {
	Group  int    // 1-based group that failed, 0 when the shape is wrong
	Reason string // "fails its checksum ...", "has 5 characters; want 6 digits", ...
}

func (e *RecoveryPasswordError) Error() string {
	if e.Group == 0 {
		return "recovery password " + e.Reason
	}
	return fmt.Sprintf("recovery password group %d %s", e.Group, e.Reason)
}

// recoveryPasswordGroups is the number of digit groups in a recovery
// password; each group holds 6 decimal digits.
const recoveryPasswordGroups = 8

// ParseRecoveryPassword is the one parser of the BitLocker recovery
// password format. It returns the eight 16-bit values the password
// encodes: each 6-digit group is 11 times a 16-bit value, so a valid
// group is divisible by 11 and below 65536*11 = 720896 (MS-FVE; libbde
// documentation, "Recovery password"). A typing error in a group is
// caught here, long before the 2^20-round key stretch would be spent on
// it.
//
// Accepted: the 48 digits in 8 groups of 6 separated by dashes (including
// the Unicode dashes word processors substitute), white space, or both;
// or the 48 digits without separators. Leading and trailing white space
// is ignored. Errors are *RecoveryPasswordError and never contain the
// digits.
func ParseRecoveryPassword(s string) ([recoveryPasswordGroups]uint16, error) {
	var out [recoveryPasswordGroups]uint16
	groups := strings.FieldsFunc(s, isRecoverySeparator)
	switch {
	case len(groups) == 0:
		return out, &RecoveryPasswordError{Reason: "is empty: expected 8 groups of 6 digits"}
	case len(groups) == 1:
		one := groups[0]
		if !allDigits(one) {
			return out, &RecoveryPasswordError{Reason: "contains a character that is not a digit: a recovery password is 8 groups of 6 digits"}
		}
		if len(one) != 6*recoveryPasswordGroups {
			return out, &RecoveryPasswordError{Reason: fmt.Sprintf("has %d characters; want 48 digits in 8 groups of 6", len(one))}
		}
		groups = groups[:0]
		for i := 0; i < len(one); i += 6 {
			groups = append(groups, one[i:i+6])
		}
	case len(groups) != recoveryPasswordGroups:
		return out, &RecoveryPasswordError{Reason: fmt.Sprintf("has %d groups; want 8 groups of 6 digits", len(groups))}
	}
	for i, g := range groups {
		if n := utf8.RuneCountInString(g); n != 6 {
			return out, &RecoveryPasswordError{Group: i + 1, Reason: fmt.Sprintf("has %d characters; want 6 digits", n)}
		}
		if !allDigits(g) {
			return out, &RecoveryPasswordError{Group: i + 1, Reason: "contains a character that is not a digit"}
		}
		v := 0
		for j := 0; j < len(g); j++ {
			v = v*10 + int(g[j]-'0')
		}
		if v%11 != 0 || v >= 720896 {
			return out, &RecoveryPasswordError{Group: i + 1, Reason: "fails its checksum (each group must be a multiple of 11 below 720896): check for a typing error"}
		}
		out[i] = uint16(v / 11)
	}
	return out, nil
}

// NormalizeRecoveryPassword checks a recovery password with
// ParseRecoveryPassword and returns it in the canonical form Windows
// shows: eight groups of six digits joined by ASCII dashes.
func NormalizeRecoveryPassword(s string) (string, error) {
	vals, err := ParseRecoveryPassword(s)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for i, v := range vals {
		if i > 0 {
			b.WriteByte('-')
		}
		fmt.Fprintf(&b, "%06d", int(v)*11)
	}
	return b.String(), nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isRecoverySeparator: ASCII and Unicode dashes, and white space.
func isRecoverySeparator(r rune) bool {
	switch r {
	case '-', '\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2015', '\u2212':
		return true
	}
	return unicode.IsSpace(r)
}
