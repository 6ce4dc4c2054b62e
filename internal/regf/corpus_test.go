package regf

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/unbrick/unbrick/internal/testcorpus"
)

// corpusSystemHive extracts Windows/System32/config/SYSTEM from a plain
// NTFS corpus variant with ntfs-3g's ntfscat (an independent NTFS reader),
// using the OS volume's offset and size from the manifest. Skips with a
// message when the corpus or ntfscat is absent; fails under CI=true.
func corpusSystemHive(t *testing.T, variant string) []byte {
	t.Helper()
	needTool(t, "ntfscat")
	m := testcorpus.LoadManifest(t)
	v := m.Variant(t, variant)
	osv := v["os_volume"].(map[string]any)
	off := int64(osv["offset_bytes"].(float64))
	size := int64(osv["size_bytes"].(float64))
	in, err := os.Open(testcorpus.Disk(t, variant))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	buf := make([]byte, size)
	if _, err := in.ReadAt(buf, off); err != nil {
		t.Fatal(err)
	}
	vol := filepath.Join(t.TempDir(), "os.ntfs")
	if err := os.WriteFile(vol, buf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ntfscat", "-f", vol, "Windows/System32/config/SYSTEM").Output()
	if err != nil {
		t.Fatalf("ntfscat: %v", err)
	}
	return out
}

// TestDisableCSAgentCorpus: the real SYSTEM hive of every plain-NTFS corpus
// disk has ControlSet001\Services\CSAgent Start = 1 (Select names only
// ControlSet001); plan, apply, and check with hivex: Start reads 4 and the
// whole export differs in that one line.
func TestDisableCSAgentCorpus(t *testing.T) {
	m := testcorpus.LoadManifest(t)
	n := 0
	for _, name := range m.VariantNames() {
		v := m.Variant(t, name)
		if v["os_volume"].(map[string]any)["encryption"] != "none" {
			continue // BitLocker variants hold the same hive under encryption
		}
		n++
		t.Run(name, func(t *testing.T) {
			orig := corpusSystemHive(t, name)
			hive := bytes.Clone(orig)
			p, err := PlanDisableService(hive, "CSAgent")
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Sets) != 1 || p.Sets[0].ControlSet != "ControlSet001" || p.Sets[0].Old != 1 || len(p.Writes()) != 1 {
				t.Fatalf("plan:\n%s", p)
			}
			if err := Apply(hive, p); err != nil {
				t.Fatal(err)
			}
			if err := Verify(hive, "CSAgent"); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(hive[:BaseBlockSize], orig[:BaseBlockSize]) {
				t.Error("base block changed")
			}
			if got := hivexget(t, hive, `ControlSet001\Services\CSAgent`, "Start"); got != "4" {
				t.Errorf("hivexget Start after: %q", got)
			}
			d := exportDiff(t, hivexExport(t, orig), hivexExport(t, hive))
			if len(d) != 1 || d[0][0] != `[\ControlSet001\Services\CSAgent]` ||
				d[0][1] != `"Start"=dword:00000001` || d[0][2] != `"Start"=dword:00000004` {
				t.Fatalf("export diff: %q", d)
			}
		})
	}
	if n == 0 {
		t.Fatal("no plain variants in the manifest")
	}
}
