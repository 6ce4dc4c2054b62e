package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/unbrick/unbrick/internal/fleetlog"
)

// TestReportFlagsUnverifiedPacks: the fleet report lists the rule packs
// the records name and warns about one used without a valid signature or
// after its expiry (--allow-unsigned-rules, --allow-expired-rules).
func TestReportFlagsUnverifiedPacks(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2025, 3, 10, 8, 0, 0, 0, time.UTC)
	signed := &fleetlog.RulePack{ID: "acme", Version: "3", SHA256: "aaaa", Signer: "rules@example.com", Signature: "signed by rules@example.com (ssh-ed25519 SHA256:x)"}
	unsigned := &fleetlog.RulePack{ID: "quick-fix", SHA256: "bbbb", Signature: "unsigned (allowed by --allow-unsigned-rules)"}
	rec := func(host, vol string, p *fleetlog.RulePack) *fleetlog.Record {
		return &fleetlog.Record{Time: t0, RunID: "r", ToolVersion: "t", Host: fleetlog.Host{ComputerName: host}, Target: "/dev/sda",
			Partition: 3, VolumeID: vol, Status: fleetlog.StatusRemediated, RulePack: p}
	}
	writeLog(t, filepath.Join(dir, "a"), rec("PC-1", "V1", signed), rec("PC-2", "V2", signed), rec("PC-3", "V3", unsigned), rec("PC-4", "V4", nil))

	code, out, errs := runCLI(t, "report", filepath.Join(dir, "a"))
	if code != 0 {
		t.Fatalf("code %d, %s", code, errs)
	}
	if !strings.Contains(out, "rule packs used (2):") || !strings.Contains(out, "acme version 3 (sha256 aaaa), 2 record(s): signed by rules@example.com") {
		t.Errorf("packs not listed:\n%s", out)
	}
	if !strings.Contains(out, "WARNING: quick-fix was used without a valid signature") || strings.Contains(out, "WARNING: acme") {
		t.Errorf("warnings:\n%s", out)
	}

	code, out, _ = runCLI(t, "report", "--json", filepath.Join(dir, "a"))
	if code != 0 {
		t.Fatal(code)
	}
	var sum struct {
		Type  string `json:"type"`
		Packs []struct {
			ID         string `json:"id"`
			Records    int    `json:"records"`
			Unverified bool   `json:"unverified"`
		} `json:"rule_packs"`
	}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.Contains(l, `"type":"summary"`) {
			if err := json.Unmarshal([]byte(l), &sum); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(sum.Packs) != 2 || sum.Packs[0].ID != "acme" || sum.Packs[0].Unverified || sum.Packs[0].Records != 2 || sum.Packs[1].ID != "quick-fix" || !sum.Packs[1].Unverified {
		t.Fatalf("JSON summary packs: %+v\n%s", sum.Packs, out)
	}
}
