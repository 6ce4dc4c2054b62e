package bitlocker

import (
	"fmt"
	"time"
)

// GUID is a Windows GUID as stored on disk: the first three fields little
// endian, the last eight bytes in order.
type GUID [16]byte

// String returns the GUID upper case without braces, the form manage-bde
// and key exports use for key protector IDs
// ("3C116B76-C67B-484E-B439-CE2ED68B561E").
func (g GUID) String() string {
	return fmt.Sprintf("%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-%02X%02X%02X%02X%02X%02X",
		g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6],
		g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15])
}

// IsZero reports whether every byte is zero.
func (g GUID) IsZero() bool { return g == GUID{} }

func guidAt(b []byte) GUID {
	var g GUID
	copy(g[:], b)
	return g
}

// filetimeEpochDelta is the number of 100 ns intervals between 1601-01-01
// and 1970-01-01.
const filetimeEpochDelta = 116444736000000000

// filetime converts a Windows FILETIME (100 ns intervals since 1601-01-01
// UTC) to a time.Time; 0 gives the zero time.
func filetime(v uint64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	d := int64(v) - filetimeEpochDelta
	if int64(v) < 0 { // beyond year 30828: not a plausible timestamp
		return time.Time{}
	}
	return time.Unix(d/1e7, (d%1e7)*100).UTC()
}
