package main

import (
	"strconv"
	"strings"
	"testing"

	"github.com/unbrick/unbrick/internal/testcorpus"
)

// TestNTFSRmUncleanReplay: ntfs rm (default --unclean=replay) replays the
// committed journal and deletes in one plan (a dry run writes nothing); the
// disk then passes the corpus verifier. An operation the replay cannot redo
// is exit 4 with the image unchanged, unless --unclean-fallback=reset.
func TestNTFSRmUncleanReplay(t *testing.T) {
	bad, part := replayDisk(t, cliUnsupportedLog)
	before := sha256File(t, bad)
	p := strconv.Itoa(part)
	m := testcorpus.LoadManifest(t)
	v := m.Variant(t, uncleanVariant)
	gone := v["expected_after_fix"].(map[string]any)["gone"].([]any)
	dir := v["crowdstrike"].(map[string]any)["dir"].(string)
	if len(gone) == 0 {
		t.Fatalf("%s: the manifest lists no faulty file", uncleanVariant)
	}
	code, _, errs := runCLI(t, "ntfs", "rm", "--partition", p, bad, dir+"/"+gone[0].(string))
	if code != 4 || !strings.Contains(errs, "DeleteDirtyClusters") || !strings.Contains(errs, "--unclean-fallback=reset") || sha256File(t, bad) != before {
		t.Fatalf("unsupported op: exit %d, image changed %v: %s", code, sha256File(t, bad) != before, errs)
	}
	code, out, errs := runCLI(t, "ntfs", "rm", "--unclean-fallback=reset", "--partition", p, bad, dir+"/"+gone[0].(string))
	if code != 0 || strings.Contains(out, "NTFS journal replayed") || !strings.Contains(strings.ToLower(out), "journal") {
		t.Fatalf("--unclean-fallback=reset: exit %d\n%s\n%s", code, out, errs)
	}

	img, _ := replayDisk(t, cliReplayableLog)
	before = sha256File(t, img)
	code, out, errs = runCLI(t, "ntfs", "rm", "--dry-run", "--partition", p, img, dir+"/"+gone[0].(string))
	if code != 0 || !strings.Contains(out, "NTFS journal replayed") || sha256File(t, img) != before {
		t.Fatalf("dry run: exit %d, image changed %v\n%s\n%s", code, sha256File(t, img) != before, out, errs)
	}
	for i, g := range gone {
		code, out, errs := runCLI(t, "ntfs", "rm", "--partition", p, img, dir+"/"+g.(string))
		if code != 0 {
			t.Fatalf("rm %s: exit %d\n%s\n%s", g, code, out, errs)
		}
		if replayed := strings.Contains(out, "NTFS journal replayed"); replayed != (i == 0) {
			t.Errorf("rm %s: replayed %v, want only on the first delete\n%s", g, replayed, out)
		}
	}
	corpusVerifyFixed(t, img)
}
