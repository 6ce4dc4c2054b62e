package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/unbrick/unbrick/internal/testcorpus"
)

// TestShortImageRefusedByFixAndRm: an image cut short inside the OS volume
// (a few MiB before its end) is refused by `fix` and by `ntfs rm` alike
// (exit 4, the same message from the engine's one check, nothing
// written), and `scan` says it is cut short. BitLocker and plain variants.
func TestShortImageRefusedByFixAndRm(t *testing.T) {
	const refusal = "the image ends before the volume does"
	m := testcorpus.LoadManifest(t)
	for _, name := range []string{"win10-xts128-recoverypw", "win10-plain-ntfs"} {
		t.Run(name, func(t *testing.T) {
			v := m.Variant(t, name)
			osv := v["os_volume"].(map[string]any)
			off, size := int64(osv["offset_bytes"].(float64)), int64(osv["size_bytes"].(float64))
			if off != 52428800 || int(v["os_partition_index"].(float64)) != 3 {
				t.Fatalf("manifest: OS volume at %d, partition %v", off, v["os_partition_index"])
			}
			img := testcorpus.Disk(t, name)
			if err := os.Truncate(img, off+size-3<<20); err != nil {
				t.Fatal(err)
			}
			before := sha256File(t, img)
			keys := rmKeyArgs(t, v)
			dir := v["crowdstrike"].(map[string]any)["dir"].(string)

			logDir := t.TempDir()
			code, out, errOut := runCLI(t, append([]string{"fix", "--log", logDir, "--journal", filepath.Join(logDir, "j"), img}, keys...)...)
			if code != 4 || !strings.Contains(out+errOut, refusal) {
				t.Fatalf("fix: exit %d, want 4 and %q:\n%s%s", code, refusal, out, errOut)
			}
			fixMsg := between(out+errOut, refusal)

			code, _, errOut = runCLI(t, append([]string{"ntfs", "rm", "--partition", "3", img, dir + "/C-00000291-00000000-00000032.sys"}, keys...)...)
			if code != 4 || !strings.Contains(errOut, refusal) {
				t.Fatalf("ntfs rm: exit %d, want 4 and %q: %s", code, refusal, errOut)
			}
			if rmMsg := between(errOut, refusal); rmMsg != fixMsg {
				t.Errorf("fix and ntfs rm refuse differently:\n fix: %s\n  rm: %s", fixMsg, rmMsg)
			}
			if sha256File(t, img) != before {
				t.Fatal("a short image was written")
			}

			code, out, errOut = runCLI(t, append([]string{"scan", img}, keys...)...)
			if code != 0 || !strings.Contains(out, "the image ends") || !strings.Contains(out, "before the end of the volume") {
				t.Errorf("scan: exit %d, does not say the image is cut short:\n%s%s", code, out, errOut)
			}
		})
	}
}

// between returns the line of s from sub on.
func between(s, sub string) string {
	s = s[strings.Index(s, sub):]
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
