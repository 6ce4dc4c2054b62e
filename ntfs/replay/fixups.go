package replay

import (
	"github.com/unbrick/unbrick/ntfs"
	"github.com/unbrick/unbrick/ntfs/internal/mst"
)

// applyFixups checks and removes the multi-sector protection of a FILE or
// INDX structure in place (mst.Unprotect); kind names the structure in
// the *ntfs.FormatError.
func applyFixups(b []byte, kind string) (usaOff, usaCount int, usn uint16, err error) {
	usaOff, usaCount, usn, e := mst.Unprotect(b)
	if e != nil {
		return 0, 0, 0, ntfs.Corrupt(kind, e.Offset, e.Field, "%s", e.Msg)
	}
	return usaOff, usaCount, usn, nil
}
