package fleetlog

import "regexp"

// recoveryPasswordRE finds anything shaped like a BitLocker recovery
// password: 8 groups of 6 digits joined by '-' or ' ', or 48 digits in a
// row.
var recoveryPasswordRE = regexp.MustCompile(`\d{6}(?:[- ]\d{6}){7}|\d{48}`)

// Redacted replaces a scrubbed value.
const Redacted = "[redacted]"

// scrub removes recovery-password-shaped text from a serialized record.
// Records have no field for secrets; this catches one that slipped into an
// error message or a name.
func scrub(b []byte) []byte {
	return recoveryPasswordRE.ReplaceAll(b, []byte(Redacted))
}
