package remedy

import (
	"github.com/unbrick/unbrick/internal/hostid"
)

// identity reads the computer name from the volume's SYSTEM hive. A hive
// that cannot be read is a note, not a failure: the fix does not need it.
func (p *pipeline) identity() {
	r, err := p.nv.Open(SystemHive)
	if err != nil {
		p.v.Notes = append(p.v.Notes, "computer name unknown: open "+SystemHive+": "+err.Error())
		return
	}
	sys, err := hostid.ReadSystem(r, r.Size())
	if err != nil {
		p.v.Notes = append(p.v.Notes, "computer name unknown: "+err.Error())
		return
	}
	p.v.ComputerName = sys.ComputerName
	p.v.clockTZ = sys.TimeZone
	for _, n := range sys.Notes {
		p.v.Notes = append(p.v.Notes, "SYSTEM hive: "+n)
	}
	if sys.HiveDirty {
		p.v.Notes = append(p.v.Notes, "SYSTEM hive has pending transaction log changes; the computer name may be out of date")
	}
}
