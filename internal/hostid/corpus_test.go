package hostid

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/unbrick/unbrick/internal/testcorpus"
)

// corpusSystemHive extracts Windows/System32/config/SYSTEM from a plain
// NTFS corpus variant with ntfs-3g's ntfscat (the independent reader),
// (-f: the dirty-flag variant needs it) using the OS partition offset and size from the manifest. With optional
// set it returns nil instead of skipping when tools or corpus are absent.
func corpusSystemHive(t *testing.T, variant string, optional bool) []byte {
	t.Helper()
	if _, err := exec.LookPath("ntfscat"); err != nil {
		if optional {
			return nil
		}
		if os.Getenv("CI") == "true" {
			t.Fatal("ntfscat (ntfs-3g) is not installed")
		}
		t.Skip("ntfscat (ntfs-3g) not installed")
	}
	if optional && testcorpus.Dir() == "" {
		return nil
	}
	m := testcorpus.LoadManifest(t)
	v := m.Variant(t, variant)
	osv := v["os_volume"].(map[string]any)
	off := int64(osv["offset_bytes"].(float64))
	size := int64(osv["size_bytes"].(float64))
	img := testcorpus.Disk(t, variant)
	in, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	vol := filepath.Join(t.TempDir(), "os.ntfs")
	buf := make([]byte, size)
	if _, err := in.ReadAt(buf, off); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(vol, buf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ntfscat", "-f", vol, "Windows/System32/config/SYSTEM").Output()
	if err != nil {
		t.Fatalf("ntfscat: %v", err)
	}
	return out
}

// TestReadSystemCorpus: the computer name of every plain-NTFS corpus
// variant, as the manifest records it.
func TestReadSystemCorpus(t *testing.T) {
	m := testcorpus.LoadManifest(t)
	n := 0
	for _, name := range m.VariantNames() {
		v := m.Variant(t, name)
		if v["os_volume"].(map[string]any)["encryption"] != "none" {
			continue // BitLocker variants: the engine reads SYSTEM through package bitlocker
		}
		n++
		t.Run(name, func(t *testing.T) {
			reg := v["registry"].(map[string]any)
			s, err := ReadSystemBytes(corpusSystemHive(t, name, false))
			if err != nil {
				t.Fatal(err)
			}
			if s.ComputerName != reg["computer_name"] || s.ComputerName != v["host_name"] {
				t.Errorf("computer name %q, manifest %v", s.ComputerName, reg["computer_name"])
			}
			if want := "ControlSet00" + string(rune('0'+int(reg["select_current"].(float64)))); s.ControlSet != want {
				t.Errorf("control set %s, want %s", s.ControlSet, want)
			}
			if s.TimeZone != nil {
				t.Errorf("corpus hive has no TimeZoneInformation, got %+v", s.TimeZone)
			}
		})
	}
	if n == 0 {
		t.Fatal("no plain variants in the manifest")
	}
}
