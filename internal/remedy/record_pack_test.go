package remedy

import (
	"testing"

	"github.com/unbrick/unbrick/internal/fleetlog"
)

// TestFleetRecordNamesPack: every record of a run names the rules pack
// the front end loaded (fix, wizard), and none for the built-in rule.
func TestFleetRecordNamesPack(t *testing.T) {
	v := &Volume{Target: "disk.img", Status: StatusRemediated}
	o := &Options{}
	if r := v.FleetRecord(o); r.RulePack != nil {
		t.Fatalf("built-in rule: %+v", r.RulePack)
	}
	o.Identity.RulePack = &fleetlog.RulePack{ID: "acme-2025-03", Version: "3", SHA256: "ab", Signer: "rules@example.com", Signature: "good"}
	r := v.FleetRecord(o)
	if r.RulePack == nil || r.RulePack.ID != "acme-2025-03" || r.RulePack.Signer != "rules@example.com" {
		t.Fatalf("pack: %+v", r.RulePack)
	}
}
