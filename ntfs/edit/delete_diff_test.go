package edit

import (
	"sort"
	"testing"

	"github.com/unbrick/unbrick/ntfs"
	"github.com/unbrick/unbrick/ntfs/internal/ntfstest"
)

// TestDeleteDifferentialNTFS3g runs the same deletions with our code and
// with ntfs-3g (FUSE mount, rm, unmount) on two copies of the plain corpus
// volume, in the same order, and requires identical ntfs-semdump output:
// the same records freed with the same new sequence numbers, the same
// directory entry sets, byte-identical $MFT:$BITMAP, $Bitmap and $I30
// $BITMAPs (so the same index blocks freed). Scenarios cover the index
// edit cases: an internal-node entry (successor promotion) in the 3-level
// System32 index, emptying a leaf, a DOS-named driver, and emptying the
// CrowdStrike directory completely (its root becomes a leaf again).
func TestDeleteDifferentialNTFS3g(t *testing.T) {
	d := ntfstest.LoadCorpusDisk(t, "win10-plain-ntfs")
	base := d.ExtractVolume(t)
	ntfstest.RequireFUSE(t)
	v, _ := openVolFile(t, base)

	// Scenario inputs, chosen from the tree as it is.
	sys := indexLayout(t, v, "Windows/System32")
	var internal string
	for _, e := range sys {
		if e.internal && e.vcn >= 0 && e.ns != ntfs.NamespaceDOS && !e.dir {
			internal = e.name
			break
		}
	}
	leafFiles := smallestLeafFiles(t, v, "Windows/System32", sys)
	drv := indexLayout(t, v, "Windows/System32/drivers")
	var dosDriver string
	for _, e := range drv {
		if e.ns == ntfs.NamespaceDOS {
			fi, err := v.Stat("Windows/System32/drivers/" + e.name)
			if err != nil {
				t.Fatal(err)
			}
			dosDriver = fi.Name()
			break
		}
	}
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
	sort.Strings(csAll)
	if internal == "" || dosDriver == "" || len(csAll) < 5 {
		t.Fatalf("corpus tree lacks a scenario: internal %q dos %q cs %d", internal, dosDriver, len(csAll))
	}
	scenarios := map[string][]string{
		"internal-node entry":       {"Windows/System32/" + internal},
		"leaf emptied":              leafFiles,
		"DOS-named driver":          {"Windows/System32/drivers/" + dosDriver},
		"CrowdStrike dir emptied":   csAll,
		"faulty channel file (291)": {ntfstest.CrowdStrikeDir + "/C-00000291-00000000-00000032.sys"},
	}
	for name, paths := range scenarios {
		t.Run(name, func(t *testing.T) {
			ours, ref := ntfstest.CopyFile(t, base), ntfstest.CopyFile(t, base)
			for _, p := range paths {
				deleteWithUs(t, ours, p, DeleteOptions{})
			}
			ntfstest.NTFS3gRemove(t, ref, paths...)
			ntfstest.RequireCheckClean(t, ours, false, "after our delete")
			ntfstest.RequireCheckClean(t, ref, false, "after ntfs-3g's delete")
			if a, b := ntfstest.Semdump(t, ours), ntfstest.Semdump(t, ref); a != b {
				t.Fatalf("ntfs-semdump differs (- ntfs-3g, + ours):\n%s", ntfstest.DiffLines(b, a))
			}
		})
	}
}

// smallestLeafFiles returns the paths of the files whose names fill the
// smallest leaf of dir's index (by long name, so that DOS pairs go too).
func smallestLeafFiles(t testing.TB, v *ntfs.Volume, dir string, lay []ixEntryInfo) []string {
	t.Helper()
	byNode := map[int64][]ixEntryInfo{}
	hasDir := map[int64]bool{}
	for _, e := range lay {
		if !e.internal && e.vcn >= 0 {
			byNode[e.vcn] = append(byNode[e.vcn], e)
			hasDir[e.vcn] = hasDir[e.vcn] || e.dir
		}
	}
	for vcn, d := range hasDir {
		if d {
			delete(byNode, vcn)
		}
	}
	var best int64 = -1
	for vcn, es := range byNode {
		if best < 0 || len(es) < len(byNode[best]) || (len(es) == len(byNode[best]) && vcn < best) {
			best = vcn
		}
	}
	seen := map[string]bool{}
	var out []string
	es := byNode[best]
	sort.Slice(es, func(i, j int) bool { return es[i].pos < es[j].pos })
	for _, e := range es {
		fi, err := v.Stat(dir + "/" + e.name)
		if err != nil {
			t.Fatal(err)
		}
		if !seen[fi.Name()] {
			seen[fi.Name()] = true
			out = append(out, dir+"/"+fi.Name())
		}
	}
	return out
}
