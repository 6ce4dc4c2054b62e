package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/unbrick/unbrick/internal/testcorpus"
)

// rmKeyArgs returns the key flags that unlock a corpus variant's OS volume.
func rmKeyArgs(t *testing.T, v map[string]any) []string {
	t.Helper()
	u := v["os_volume"].(map[string]any)["unlock"].(map[string]any)
	switch u["method"] {
	case "none", "clear_key":
		return nil
	case "recovery_password":
		return []string{"--recovery-password", u["secret"].(string)}
	case "password":
		return []string{"--password", u["secret"].(string)}
	case "bek":
		return []string{"--bek", testcorpus.Path(t, u["bek_file"].(string))}
	}
	t.Fatalf("unknown unlock method %v", u["method"])
	return nil
}

// runVerify runs the test corpus's verify program (dislocker, ntfs-3g, sleuthkit,
// libfsntfs, ntfs-check: none of them our code) on a whole disk.
func runVerify(t *testing.T, img, variant, expect string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("CI: verify needs root")
		}
		t.Skip("verify needs root (FUSE, loop devices)")
	}
	for _, tool := range []string{"bash", "ntfs-3g", "dislocker-fuse", "mmls"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("CI: %s missing", tool)
			}
			t.Skipf("%s not installed", tool)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "bash", testcorpus.Path(t, "verify"), img, variant, "--expect", expect).CombinedOutput()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if err != nil || !strings.HasPrefix(lines[len(lines)-1], "verify: PASS") {
		t.Fatalf("verify %s --expect %s: %v\n%s", variant, expect, err, out)
	}
	return lines[len(lines)-1]
}

// TestNTFSRmCorpusVerifyFixed deletes expected_after_fix.gone from every
// corpus disk (plain and BitLocker, each unlocked its own way) with
// `unbrick ntfs rm`, then runs the corpus verifier with --expect fixed.
// The good-only disk has nothing to delete: rm of the faulty name must
// fail with "not found" and the disk must still verify.
func TestNTFSRmCorpusVerifyFixed(t *testing.T) {
	if testing.Short() {
		t.Skip("corpus verify skipped in -short mode")
	}
	m := testcorpus.LoadManifest(t)
	for _, name := range m.VariantNames() {
		t.Run(name, func(t *testing.T) {
			v := m.Variant(t, name)
			img := testcorpus.Disk(t, name)
			part := itoaCLI(int(v["os_partition_index"].(float64)))
			keys := rmKeyArgs(t, v)
			cs := v["crowdstrike"].(map[string]any)
			dir := cs["dir"].(string)
			gone := v["expected_after_fix"].(map[string]any)["gone"].([]any)
			if len(gone) == 0 {
				args := append([]string{"ntfs", "rm", "--partition", part, img, dir + "/C-00000291-00000000-00000032.sys"}, keys...)
				code, _, errOut := runCLI(t, args...)
				if code != 1 || !strings.Contains(errOut, "no such file") {
					t.Fatalf("rm of an absent file: exit %d: %s", code, errOut)
				}
			}
			for _, g := range gone {
				// Dry run first: nothing may change.
				before, _ := os.ReadFile(img)
				args := append([]string{"ntfs", "rm", "--dry-run", "--json", "--partition", part, img, dir + "/" + g.(string)}, keys...)
				code, out, errOut := runCLI(t, args...)
				if code != 0 {
					t.Fatalf("rm --dry-run: exit %d: %s", code, errOut)
				}
				var res ntfsRmResult
				if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.Writes) == 0 || res.Applied {
					t.Fatalf("rm --dry-run --json: %v %+v", err, res)
				}
				after, _ := os.ReadFile(img)
				if string(before) != string(after) {
					t.Fatal("--dry-run changed the image")
				}
				args = append([]string{"ntfs", "rm", "--partition", part, img, dir + "/" + g.(string)}, keys...)
				if code, _, errOut := runCLI(t, args...); code != 0 {
					t.Fatalf("rm %s: exit %d: %s", g, code, errOut)
				}
			}
			t.Log(runVerify(t, img, name, "fixed"))
		})
	}
}

// TestNTFSRmRefusesDirectory: exit 4 and the image unchanged.
func TestNTFSRmRefusesDirectory(t *testing.T) {
	img := testcorpus.Disk(t, "win10-plain-ntfs")
	before, _ := os.ReadFile(img)
	code, _, errOut := runCLI(t, "ntfs", "rm", "--partition", "3", img, "Windows/System32/drivers/CrowdStrike")
	if code != 4 || !strings.Contains(errOut, "directory") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	after, _ := os.ReadFile(img)
	if string(before) != string(after) {
		t.Fatal("refused rm changed the image")
	}
	if code, _, _ := runCLI(t, "ntfs", "rm", img); code != 2 {
		t.Fatalf("missing PATH: exit %d, want 2", code)
	}
	if code, _, _ := runCLI(t, "ntfs", "rm", "--unclean=maybe", img, "x"); code != 2 {
		t.Fatalf("bad policy: exit %d, want 2", code)
	}
}

// TestNTFSJournalCLI: the plain corpus volume has an empty journal.
func TestNTFSJournalCLI(t *testing.T) {
	img := testcorpus.Disk(t, "win10-plain-dirty")
	code, out, errOut := runCLI(t, "ntfs", "journal", "--json", img, "--partition", "3")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var js map[string]any
	if err := json.Unmarshal([]byte(out), &js); err != nil {
		t.Fatal(err)
	}
	if js["clean"] != true || js["dirty"] != true {
		t.Fatalf("journal state %v", js)
	}
}
