package keys

import (
	"fmt"
	"strings"
)

// RecoveryPasswordError says why a recovery password is malformed without
// repeating any of its digits.
type RecoveryPasswordError struct {
	Group  int    // 1-based group that failed, 0 when the shape is wrong
	Reason string // "fails its checksum", "has 5 digits", ...
}

func (e *RecoveryPasswordError) Error() string {
	if e.Group == 0 {
		return "recovery password " + e.Reason
	}
	return fmt.Sprintf("recovery password group %d %s", e.Group, e.Reason)
}

// NormalizeRecoveryPassword checks a BitLocker recovery password and returns
// it in the canonical form Windows shows: eight groups of six digits joined
// by dashes.
//
// Accepted input: the 48 digits with dashes between groups (the usual form),
// or with spaces instead of dashes, or with no separators at all; leading and
// trailing white space and spreadsheet text markers (a leading ' or ="...")
// are ignored. Each group encodes 16 bits of the 128-bit
// recovery key multiplied by 11, so a valid group is divisible by 11 and below
// 65536*11 = 720896 (MS-FVE; the same offline check is described at
// https://docs.rs/ms-fve). A typing error in a group is caught here, long
// before the 2^20-round key stretch would be spent on it.
//
// Errors never contain the digits.
func NormalizeRecoveryPassword(s string) (string, error) {
	s = strings.TrimSpace(s)
	// Spreadsheet text markers: 'digits and ="digits" keep Excel from
	// turning the value into a number.
	if strings.HasPrefix(s, `="`) && strings.HasSuffix(s, `"`) && len(s) >= 3 {
		s = s[2 : len(s)-1]
	}
	s = strings.TrimSpace(strings.TrimPrefix(s, "'"))
	if s == "" {
		return "", &RecoveryPasswordError{Reason: "is empty"}
	}
	var groups []string
	switch {
	case strings.ContainsAny(s, "- "):
		groups = strings.FieldsFunc(s, func(r rune) bool { return r == '-' || r == ' ' })
	case len(s) == 48:
		for i := 0; i < 48; i += 6 {
			groups = append(groups, s[i:i+6])
		}
	default:
		return "", &RecoveryPasswordError{Reason: fmt.Sprintf("has %d characters; want 48 digits in 8 groups of 6", len(s))}
	}
	if len(groups) != 8 {
		return "", &RecoveryPasswordError{Reason: fmt.Sprintf("has %d groups; want 8 groups of 6 digits", len(groups))}
	}
	for i, g := range groups {
		if len(g) != 6 {
			return "", &RecoveryPasswordError{Group: i + 1, Reason: fmt.Sprintf("has %d characters; want 6 digits", len(g))}
		}
		v := 0
		for j := 0; j < len(g); j++ {
			c := g[j]
			if c < '0' || c > '9' {
				return "", &RecoveryPasswordError{Group: i + 1, Reason: "contains a character that is not a digit"}
			}
			v = v*10 + int(c-'0')
		}
		if v%11 != 0 || v >= 720896 {
			return "", &RecoveryPasswordError{Group: i + 1, Reason: "fails its checksum (each group must be a multiple of 11 below 720896): check for a typing error"}
		}
	}
	return strings.Join(groups, "-"), nil
}
