package edit

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/unbrick/unbrick/ntfs"
	"github.com/unbrick/unbrick/ntfs/internal/ntfstest"
)

// leakProblem matches the ntfs-check findings that are leaks: space or
// records marked in use that nothing owns. Anything else after a power cut
// is a failure of the write order.
var leakProblem = regexp.MustCompile(`^(BITMAP \d+ cluster\(s\) allocated in \$Bitmap but owned by no in-use record|` +
	`MFTBITMAP record \d+ not in use but \$MFT:\$BITMAP bit set|` +
	`ORPHANNAME record \d+ name |` +
	`INDEX dir \d+: \$I30 \$BITMAP marks VCN \d+ used but no node references it)`)

// nonLeaks returns the ntfs-check lines that are not leaks. A "CAT ...
// (more suppressed)" line is accepted when every shown line of CAT was a
// leak (ntfs-check prints 10 per category).
func nonLeaks(probs []string) []string {
	var bad []string
	badCat := map[string]bool{}
	for _, p := range probs {
		if strings.HasSuffix(p, "... (more suppressed)") {
			continue
		}
		if !leakProblem.MatchString(p) {
			bad = append(bad, p)
			badCat[strings.Fields(p)[0]] = true
		}
	}
	for _, p := range probs {
		if strings.HasSuffix(p, "... (more suppressed)") && badCat[strings.Fields(p)[0]] {
			bad = append(bad, p)
		}
	}
	return bad
}

// TestDeletePowerCut cuts each delete plan after write k, for every k, on
// a fresh copy: ntfs-check may then report leaks only, and ntfs-3g must
// still read the whole tree. Plans: the faulty channel file; an
// internal-node entry of System32 (successor promotion); the last entry
// of a System32 leaf (leaf freed, parent entry moved down); the last file
// of the CrowdStrike directory (root becomes a leaf).
func TestDeletePowerCut(t *testing.T) {
	if testing.Short() {
		t.Skip("power-cut test skipped in -short mode")
	}
	d := ntfstest.LoadCorpusDisk(t, "win10-plain-ntfs")
	base := d.ExtractVolume(t)
	ntfstest.RequireFUSE(t)
	v, _ := openVolFile(t, base)
	sys := indexLayout(t, v, "Windows/System32")
	var internal string
	for _, e := range sys {
		if e.internal && e.vcn >= 0 && e.ns != ntfs.NamespaceDOS && !e.dir {
			internal = e.name
			break
		}
	}
	leaf := smallestLeafFiles(t, v, "Windows/System32", sys)
	cs, err := v.ReadDir(ntfstest.CrowdStrikeDir)
	if err != nil {
		t.Fatal(err)
	}
	var csAll []string
	for _, e := range cs {
		if !e.IsDOS() {
			csAll = append(csAll, ntfstest.CrowdStrikeDir+"/"+e.Name)
		}
	}
	type scenario struct {
		setup  []string // deleted first, completely
		target string   // the delete that is cut
		expect string   // a write the plan must contain
	}
	scenarios := map[string]scenario{
		"faulty channel file": {target: ntfstest.CrowdStrikeDir + "/C-00000291-00000000-00000032.sys", expect: "removed"},
		"internal-node entry": {target: "Windows/System32/" + internal, expect: "replaced by its successor"},
		"last entry of leaf":  {setup: leaf[:len(leaf)-1], target: leaf[len(leaf)-1], expect: "emptied block(s) freed"},
		"root becomes leaf":   {setup: csAll[:len(csAll)-1], target: csAll[len(csAll)-1], expect: "root is a leaf again"},
	}
	for name, sc := range scenarios {
		t.Run(name, func(t *testing.T) {
			start := ntfstest.CopyFile(t, base)
			for _, p := range sc.setup {
				deleteWithUs(t, start, p, DeleteOptions{})
			}
			v, _ := openVolFile(t, start)
			plan, err := PlanDelete(v, sc.target, DeleteOptions{Now: fixedNow})
			if err != nil {
				t.Fatal(err)
			}
			if !planSays(plan, sc.expect) {
				t.Fatalf("plan does not contain %q:\n%s", sc.expect, plan)
			}
			t.Logf("%d writes:\n%s", len(plan.Writes), plan)
			for k := 0; k <= len(plan.Writes); k++ {
				img := ntfstest.CopyFile(t, start)
				_, f := openVolFile(t, img)
				err := Apply(f, plan, ApplyOptions{StopAfter: k, NoSync: true})
				if k < len(plan.Writes) && k > 0 && !errors.Is(err, ErrStopped) {
					t.Fatalf("k=%d: %v", k, err)
				}
				if k == len(plan.Writes) && err != nil {
					t.Fatalf("full apply: %v", err)
				}
				if k == 0 {
					// StopAfter 0 means "no limit": k=0 is the untouched start.
					img = start
				}
				bad := nonLeaks(ntfstest.NTFSCheck(t, img, false))
				if len(bad) > 0 {
					t.Fatalf("cut after write %d of %d: ntfs-check reports more than leaks:\n%s", k, len(plan.Writes), strings.Join(bad, "\n"))
				}
				// ntfs-3g must list and find every name in every state
				// (it lists a directory by scanning the blocks the $I30
				// $BITMAP marks in use, so a leaked block with the deleted
				// name in it would show here).
				ntfstest.NTFS3gStatAll(t, img, "")
			}
		})
	}
}
