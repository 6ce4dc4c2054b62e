package fleetlog

import "github.com/unbrick/unbrick/internal/redact"

// Redacted replaces a scrubbed value.
const Redacted = redact.Marker

// scrub removes secrets from a serialized record (JSON line or CSV row):
// anything shaped like a recovery password and every secret the run
// registered (internal/redact, the one definition shared with the CLI's
// output streams and the stick's transcript). Records have no field for
// secrets; this catches one that slipped into an error message, a path or
// a name.
func scrub(b []byte) []byte {
	return redact.Bytes(b)
}
