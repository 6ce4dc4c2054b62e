package fleetlog

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
)

// RecordID names one record for log shipping: the first 128 bits of
// SHA-256("unbrick-record/1" NUL run NUL target NUL partition NUL volume
// NUL status), in hex. A record saved again in the same run (a retry after
// the CSV copy could not be written) has the same ID, a record of another
// run never does, so a receiver can drop a record it already holds by its
// ID. Records written before IDs existed get theirs from the same fields
// when they are read for shipping.
func RecordID(r *Record) string {
	h := sha256.New()
	for _, f := range []string{"unbrick-record/1", r.RunID, r.Target, strconv.Itoa(r.Partition), r.VolumeID, string(r.Status)} {
		h.Write([]byte(f))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}
