package remedy

import (
	"github.com/unbrick/unbrick/internal/hostid"
	"github.com/unbrick/unbrick/ntfs"
)

// readIdentity reads the computer name and time zone from the volume's
// SYSTEM hive. A hive that cannot be read is a note, not a failure: the
// fix does not need it.
func readIdentity(nv *ntfs.Volume) hostIdentity {
	var h hostIdentity
	r, err := nv.Open(SystemHive)
	if err != nil {
		h.notes = append(h.notes, "computer name unknown: open "+SystemHive+": "+err.Error())
		return h
	}
	sys, err := hostid.ReadSystem(r, r.Size())
	if err != nil {
		h.notes = append(h.notes, "computer name unknown: "+err.Error())
		return h
	}
	h.computerName, h.timeZone = sys.ComputerName, sys.TimeZone
	for _, n := range sys.Notes {
		h.notes = append(h.notes, "SYSTEM hive: "+n)
	}
	if sys.HiveDirty {
		h.notes = append(h.notes, "SYSTEM hive has pending transaction log changes; the computer name may be out of date")
	}
	return h
}
