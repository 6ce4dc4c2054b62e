package ntfstest

import (
	"os"
	"os/exec"
	"testing"

	"github.com/unbrick/unbrick/bitlocker"
	"github.com/unbrick/unbrick/internal/testcorpus"
)

// OSVolumeGeometry returns the byte offset and size of a manifest
// variant's OS volume inside its disk.
func OSVolumeGeometry(t testing.TB, v map[string]any) (off, size int64) {
	t.Helper()
	ov, ok := v["os_volume"].(map[string]any)
	if !ok {
		t.Fatalf("manifest variant %v has no os_volume", v["name"])
	}
	return int64(ov["offset_bytes"].(float64)), int64(ov["size_bytes"].(float64))
}

// NeedTool skips (or fails under CI) when an external witness is missing.
func NeedTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not installed; CI must provide it", name)
		}
		t.Skipf("%s not installed: skipping", name)
	}
	return p
}

// UnlockArgs returns the bitlocker key and the dislocker arguments for a
// variant's unlock method.
func UnlockArgs(t *testing.T, v map[string]any) (bitlocker.Key, []string) {
	t.Helper()
	u := v["os_volume"].(map[string]any)["unlock"].(map[string]any)
	secret, _ := u["secret"].(string)
	switch u["method"] {
	case "recovery_password":
		return bitlocker.RecoveryPassword(secret), []string{"-p" + secret}
	case "password":
		return bitlocker.Password(secret), []string{"-u" + secret}
	case "bek":
		p := testcorpus.Path(t, u["bek_file"].(string))
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return bitlocker.BEK(b), []string{"-f", p}
	case "clear_key":
		return bitlocker.ClearKey(), []string{"-c"}
	}
	t.Fatalf("unknown unlock method %v", u["method"])
	return nil, nil
}
