package keys_test

import (
	"os"
	"testing"

	"github.com/unbrick/unbrick/bitlocker"
	"github.com/unbrick/unbrick/internal/keys"
	"github.com/unbrick/unbrick/internal/testcorpus"
)

// TestCorpusKeyOpensVolume is the end-to-end check of the sample files
// against things we did not write: the corpus manifest lists the recovery
// password protector of the Windows-made volume, and the volume itself
// (made on Windows, from dissect.fve's test data) must open with the
// candidate the key set picks from its protector IDs and description.
func TestCorpusKeyOpensVolume(t *testing.T) {
	m := testcorpus.LoadManifest(t)
	es, err := keys.LoadFile("testdata/generic.csv", keys.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	set := keys.NewSet(es)

	// Every recovery-password protector in the manifest has its key in the sample.
	n := 0
	for _, v := range m.Variants {
		ov, _ := v["os_volume"].(map[string]any)
		bl, _ := ov["bitlocker"].(map[string]any)
		prots, _ := bl["key_protectors"].([]any)
		for _, p := range prots {
			p := p.(map[string]any)
			if p["type"] == "recovery_password" {
				n++
				if got := set.ForProtector(p["id"].(string)); len(got) != 1 {
					t.Errorf("%s: protector %s not in generic.csv", v["name"], p["id"])
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("manifest lists no recovery-password protector")
	}

	path := testcorpus.Decompress(t, "src/recovery_password.bin.gz")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	vol, err := bitlocker.Open(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range vol.Protectors() {
		ids = append(ids, p.ID)
	}
	cands := set.Candidates(ids, vol.Info().Description, "")
	if len(cands) != 1 {
		t.Fatalf("%d candidates for protectors %v", len(cands), ids)
	}
	if err := vol.Unlock(bitlocker.RecoveryPassword(cands[0].RecoveryPassword)); err != nil {
		t.Fatalf("unlock with the sample's key: %v", err)
	}
	if by, _ := vol.UnlockedBy(); by != cands[0].KeyID {
		t.Errorf("unlocked by %s, candidate was %s", by, cands[0].KeyID)
	}
	// Description matching alone (no protector IDs known) finds it too.
	if c := set.Candidates(nil, vol.Info().Description, ""); len(c) != 1 || c[0].KeyID != cands[0].KeyID {
		t.Errorf("by description: %v", c)
	}
}
