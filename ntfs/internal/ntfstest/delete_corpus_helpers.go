package ntfstest

import (
	"testing"
)

const CsDir = "Windows/System32/drivers/CrowdStrike"

// FaultyFiles returns the names expected_after_fix.gone lists.
func FaultyFiles(t testing.TB, d *CorpusDisk) []string {
	t.Helper()
	exp, _ := d.Manifest["expected_after_fix"].(map[string]any)
	var out []string
	for _, g := range exp["gone"].([]any) {
		out = append(out, g.(string))
	}
	return out
}
