package remedy

import (
	"context"
	"errors"
	"testing"

	"github.com/unbrick/unbrick/internal/regf"
	"github.com/unbrick/unbrick/internal/testcorpus"
)

const svcOnlyRules = `{"format": "unbrick-rules/1", "rules": [{"id": "csagent-off", "action": "disable-service", "service": "CSAgent"}]}`

// TestDisableServiceBitLocker: a pack with only a disable-service rule on
// a BitLocker corpus disk. Scan says what fix would change; fix writes
// the Start value through BitLocker and NTFS (remediated, no file
// touched); the hive re-read says Start = 4; a second fix is
// already-clean. A rule naming a service the hive does not have refuses
// the volume with nothing written.
func TestDisableServiceBitLocker(t *testing.T) {
	v := oneVariant(t, "win10-xts128-recoverypw")
	img := testcorpus.Disk(t, v.name)
	o, _ := fixOpts(t, v)
	o.Rules = parseRules(t, svcOnlyRules)

	scanned := volumeOf(t, Scan(context.Background(), []string{img}, o), v)
	if len(scanned.Services) != 1 || scanned.Services[0].Verdict != VerdictServiceEnabled ||
		scanned.Services[0].String() != "ControlSet001 (Current, Default, LastKnownGood) Start 1 -> 4" {
		t.Fatalf("scan: %+v", scanned.Services)
	}

	// A service this host does not have is not installed: nothing to do
	// for it, and it does not hold back the other rule.
	both := o
	both.Rules = parseRules(t, `{"format": "unbrick-rules/1", "rules": [{"id": "a", "action": "disable-service", "service": "CSAgent"}, {"id": "b", "action": "disable-service", "service": "NoSuchAgent"}]}`)
	sv := volumeOf(t, Scan(context.Background(), []string{img}, both), v)
	if len(sv.Services) != 2 || sv.Services[0].Verdict != VerdictServiceEnabled || sv.Services[1].Verdict != VerdictServiceAbsent || sv.Services[1].Action != ActionNone {
		t.Fatalf("scan with a service not installed: %+v", sv.Services)
	}

	vol := volumeOf(t, fix(t, img, o), v)
	if vol.Status != StatusRemediated || len(vol.Files) != 0 || len(vol.Services) != 1 || vol.Services[0].Action != ActionDisabled || vol.JournalFile == "" {
		t.Fatalf("fix: %s %s %+v", vol.Status, vol.Error, vol.Services)
	}
	rec := vol.FleetRecord(&o)
	if len(rec.Services) != 1 || len(rec.Services[0].ControlSets) != 1 || rec.Services[0].ControlSets[0].Name != "ControlSet001" {
		t.Fatalf("record services %+v", rec.Services)
	}

	keys, _ := typedKeys(t, v)
	op, err := Open(OpenRequest{Target: img, Partition: v.osPartition(), Keys: KeyOptions{Typed: keys}})
	if err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	nv, err := op.NTFS()
	if err != nil {
		t.Fatal(err)
	}
	hive, err := readHive(nv)
	if err != nil {
		t.Fatal(err)
	}
	if err := regf.Verify(hive, "CSAgent"); err != nil {
		t.Fatal(err)
	}
	if _, err := regf.PlanDisableService(hive, "CSAgent"); errors.Is(err, regf.ErrRefused) {
		t.Fatal(err)
	}

	vol = volumeOf(t, fix(t, img, o), v)
	if vol.Status != StatusAlreadyClean || vol.Services[0].Action != ActionAlreadyDisabled {
		t.Fatalf("second fix: %s %+v", vol.Status, vol.Services)
	}
}
