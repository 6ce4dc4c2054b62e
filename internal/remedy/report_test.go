package remedy

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/unbrick/unbrick/internal/fleetlog"
	"github.com/unbrick/unbrick/internal/hostid"
)

func TestStatusExitCodes(t *testing.T) {
	for st, want := range map[Status]int{
		StatusRemediated: 0, StatusAlreadyClean: 0, StatusDryRun: 0, StatusScanned: 0, StatusSkipped: 0,
		StatusNeedsReview: 5, StatusLocked: 3, StatusRefused: 4, StatusFailed: 1, "bogus": 1,
	} {
		if got := st.ExitCode(); got != want {
			t.Errorf("%s: %d, want %d", st, got, want)
		}
	}
	vols := []*Volume{{Status: StatusNeedsReview}, {Status: StatusLocked}, {Status: StatusRemediated}}
	if c := ExitCode(vols, false); c != 3 {
		t.Errorf("fix merge: %d, want 3", c)
	}
	if c := ExitCode(vols, true); c != 0 {
		t.Errorf("scan merge: %d, want 0", c)
	}
	vols = append(vols, &Volume{Status: StatusFailed}, &Volume{Status: StatusRefused})
	if c := ExitCode(vols, false); c != 1 {
		t.Errorf("fix merge with a failure: %d, want 1", c)
	}
	if c := ExitCode(vols, true); c != 1 {
		t.Errorf("scan merge with a failure: %d, want 1", c)
	}
	if c := ExitCode(nil, false); c != 0 {
		t.Errorf("no volumes: %d", c)
	}
}

func TestRunIDAndJournalPath(t *testing.T) {
	id := NewRunID(time.Date(2024, 7, 19, 6, 1, 2, 0, time.UTC))
	if !regexp.MustCompile(`^20240719T060102Z-[0-9a-f]{8}$`).MatchString(id) {
		t.Errorf("run id %q", id)
	}
	if id == NewRunID(time.Date(2024, 7, 19, 6, 1, 2, 0, time.UTC)) {
		t.Error("two run ids in the same second are equal")
	}
	p := JournalPath("/j", "run/../x", "8E6909F1-6BA3 {x}")
	if p != "/j/run_.._x-8E6909F1-6BA3__x_.journal" {
		t.Errorf("journal path %q", p)
	}
	dir := t.TempDir()
	f1, p1, err := createJournal(dir, "r", "v", "")
	if err != nil {
		t.Fatal(err)
	}
	f1.Close()
	f2, p2, err := createJournal(dir, "r", "v", "")
	if err != nil {
		t.Fatal(err)
	}
	f2.Close()
	if p1 == p2 || filepath.Base(p2) != "r-v-2.journal" {
		t.Errorf("second journal of a shared volume id: %s (first %s)", p2, p1)
	}
	if st, _ := os.Stat(p1); st.Mode().Perm() != 0o600 {
		t.Errorf("journal mode %v", st.Mode())
	}
	// 2,000 clones of one template in one run (a fleet of VMs): each gets
	// its own journal, named after its disk (a fixed count of names to try
	// once refused the 1,001st clone).
	seen := map[string]bool{}
	for i := 0; i < 2000; i++ {
		f, p, err := createJournal(dir, "r", "v", fmt.Sprintf("/vms/vm%d.qcow2@1048576", i))
		if err != nil {
			t.Fatalf("clone %d: %v", i, err)
		}
		f.Close()
		if seen[p] {
			t.Fatalf("clone %d: journal %s given twice", i, p)
		}
		seen[p] = true
	}
}

func TestFleetRecord(t *testing.T) {
	fin := time.Date(2024, 7, 19, 8, 30, 0, 0, time.UTC) // hardware clock in local time (UTC+2)
	v := &Volume{
		Target: "/dev/sda", Partition: 3, VolumeID: "8E6909F1-6BA3-49EA-BF8D-EC83FAB656CD", Encryption: "BitLocker AES-XTS-128",
		BitLocker: &BitLockerInfo{Method: "AES-XTS-128", Description: "DESKTOP-QNI1MMF C: 10/8/2021", Unlocked: true,
			Protectors:  []Protector{{ID: "3C116B76-C67B-484E-B439-CE2ED68B561E", Type: "recovery password"}},
			ProtectorID: "3C116B76-C67B-484E-B439-CE2ED68B561E", RecoveryKeyID: "3C116B76-C67B-484E-B439-CE2ED68B561E",
			UnlockMethod: "recovery password", KeySource: "keys.csv:2 (key ID 3C116B76-C67B-484E-B439-CE2ED68B561E)"},
		ComputerName: "PC-01", Rules: []string{"crowdstrike-2024-07-19"},
		Files:  []File{{Path: "Windows/x.sys", Size: 5, Verdict: VerdictFaulty, Action: ActionDeleted, Reason: "r", Rule: "crowdstrike-2024-07-19"}},
		Status: StatusRemediated, Duration: 150 * time.Millisecond, Finished: fin, JournalFile: "j",
		clockTZ: &hostid.TimeZone{ActiveTimeBias: -120, HasActive: true},
	}
	o := &Options{Identity: Identity{RunID: "run", Technician: "alice", ToolVersion: "1.0", OnHost: true, SMBIOS: &hostid.SMBIOS{Vendor: "Dell Inc.", Serial: "ABC123", UUID: "U"}}}
	r := v.FleetRecord(o)
	if r.Status != fleetlog.StatusRemediated || r.Host.BitLockerName != "DESKTOP-QNI1MMF" || r.Host.Serial != "ABC123" ||
		r.RecoveryKeyID != v.BitLocker.ProtectorID || r.Encryption != "AES-XTS-128" || len(r.Files) != 1 ||
		r.DurationMS != 150 || r.ConfirmationCode == "" || r.Technician != "alice" {
		t.Fatalf("record %+v", r)
	}
	if want := fin.Add(-2 * time.Hour); !r.Time.Equal(want) || r.Clock == nil || *r.Clock.BiasMinutes != -120 {
		t.Errorf("time %v clock %+v, want %v", r.Time, r.Clock, want)
	}
	o.Identity.OnHost = false
	if r := v.FleetRecord(o); !r.Time.Equal(fin) || r.Clock != nil {
		t.Errorf("off the host: time %v clock %+v", r.Time, r.Clock)
	}
	b, _ := json.Marshal(r)
	if strings.Contains(string(b), "password\":") {
		t.Errorf("record has a password field: %s", b)
	}
}

func TestScrubDigits(t *testing.T) {
	in := "recovery password group 8 (199409) is not divisible by 11; protector {3C116B76-C67B-484E-B439-123456789012}; 284867596541514998"
	out := scrubDigits(in)
	if strings.Contains(out, "199409") || strings.Contains(out, "2848675") || !strings.Contains(out, "3C116B76-C67B-484E-B439-123456789012") || !strings.Contains(out, "group 8") {
		t.Errorf("scrubbed: %q", out)
	}
}
