package edit

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/unbrick/unbrick/ntfs"
	"github.com/unbrick/unbrick/ntfs/internal/ntfstest"
)

// ixEntryInfo describes where one $I30 entry sits in its B-tree.
type ixEntryInfo struct {
	name      string
	ns        ntfs.Namespace
	ref       ntfs.FileRef
	vcn       int64 // node holding it (-1 = root)
	internal  bool  // the node has children (the entry has a child)
	nodeReal  int   // real entries in that node
	pos       int   // index in the node
	parentEnd bool  // the parent's pointer to the node is its END entry
	depth     int
	dir       bool // the entry names a directory
}

// indexLayout walks a directory's whole $I30 tree (read side of this
// package) and describes every entry.
func indexLayout(t testing.TB, v *ntfs.Volume, dir string) []ixEntryInfo {
	t.Helper()
	f, err := v.Lookup(dir)
	if err != nil {
		t.Fatal(err)
	}
	ix, err := f.OpenIndex("$I30")
	if err != nil {
		t.Fatal(err)
	}
	var out []ixEntryInfo
	var walk func(n *ntfs.IndexNode, depth int, parentEnd bool)
	walk = func(n *ntfs.IndexNode, depth int, parentEnd bool) {
		real := len(n.Entries) - 1
		for i := range n.Entries {
			e := &n.Entries[i]
			if e.HasChild() {
				c, err := ix.Node(e.ChildVCN)
				if err != nil {
					t.Fatal(err)
				}
				walk(c, depth+1, e.IsEnd())
			}
			if !e.IsEnd() {
				out = append(out, ixEntryInfo{name: e.FileName.Name, ns: e.FileName.Namespace, ref: e.FileRef, vcn: n.VCN,
					internal: e.HasChild(), nodeReal: real, pos: i, parentEnd: parentEnd, depth: depth,
					dir: e.FileName.FileAttributes&ntfs.FileAttrDupDirectory != 0})
			}
		}
	}
	walk(ix.Root.Node, 0, false)
	return out
}

// tortureStep deletes one file (by the given name) with our code and runs
// the witnesses: ntfs-check always, the ntfs-3g stat-everything mount when
// mount is set.
func tortureStep(t *testing.T, vol, dir, name, why string, mount bool) *Plan {
	t.Helper()
	v, f := openVolFile(t, vol)
	plan, err := PlanDelete(v, dir+"/"+name, DeleteOptions{Now: fixedNow})
	if err != nil {
		t.Fatalf("%s: plan delete %s: %v", why, name, err)
	}
	if err := Apply(f, plan, ApplyOptions{NoSync: true}); err != nil {
		t.Fatalf("%s: apply delete %s: %v", why, name, err)
	}
	if p := ntfstest.NTFSCheck(t, vol, false); len(p) > 0 {
		t.Fatalf("%s: after deleting %s: ntfs-check:\n%s\nplan:\n%s", why, name, strings.Join(p, "\n"), plan)
	}
	if mount {
		ntfstest.NTFS3gStatAll(t, vol, "")
	}
	if _, err := v.Stat(dir + "/" + name); err == nil {
		// The old Volume caches nothing, so a fresh open must not find it.
		v2, _ := openVolFile(t, vol)
		if _, err := v2.Stat(dir + "/" + name); err == nil {
			t.Fatalf("%s: %s still found after the delete", why, name)
		}
	}
	return plan
}

// planSays reports whether any write of the plan mentions s.
func planSays(p *Plan, s string) bool {
	for _, w := range p.Writes {
		if strings.Contains(w.What, s) {
			return true
		}
	}
	return false
}

// TestDeleteTortureSystem32 deletes files one by one from System32, whose
// $I30 index is three levels deep, choosing each victim from the current
// tree so that every case of the index edit is hit: plain leaf entries,
// entries in internal nodes (successor promotion), the last entry of a
// leaf whose parent points to it with a real entry and with the END entry
// (leaf freed, key moved down), and files with DOS names (two entries, in
// different blocks), one deleted by its DOS name. ntfs-check runs after
// every delete, an ntfs-3g stat-everything mount after most; at the end
// ntfs-3g creates and deletes files and fills the volume on the result.
// UNBRICK_TORTURE=long (scripts/ci-ntfs-torture.sh) deletes many more.
func TestDeleteTortureSystem32(t *testing.T) {
	long := os.Getenv("UNBRICK_TORTURE") == "long"
	if testing.Short() && !long {
		t.Skip("torture test skipped in -short mode")
	}
	d := ntfstest.LoadCorpusDisk(t, "win10-plain-ntfs")
	vol := d.ExtractVolume(t)
	ntfstest.RequireFUSE(t)
	const dir = "Windows/System32"
	cases := map[string]int{}
	steps := 0
	del := func(name, why string) {
		steps++
		cases[why]++
		plan := tortureStep(t, vol, dir, name, why, long || steps%3 == 0)
		// The plan must show the index edit the case is about.
		want := map[string][]string{
			"internal node entry": {"replaced by its successor"},
			"last entry of a leaf (parent pointer is END: false)": {"moved down", "$I30 $BITMAP", "emptied block(s) freed"},
			"last entry of a leaf (parent pointer is END: true)":  {"moved down", "END re-pointed", "emptied block(s) freed"},
		}[why]
		for _, w := range want {
			if !planSays(plan, w) {
				t.Fatalf("%s: deleting %s: the plan does not show %q:\n%s", why, name, w, plan)
			}
		}
	}
	layout := func() []ixEntryInfo {
		v, _ := openVolFile(t, vol)
		return indexLayout(t, v, dir)
	}
	lay := layout()
	depth := 0
	for _, e := range lay {
		depth = max(depth, e.depth)
	}
	if depth < 2 {
		t.Fatalf("System32 index is only %d levels deep", depth+1)
	}
	// 1. Entries of internal nodes (successor promotion).
	for k := 0; k < 3; k++ {
		lay = layout()
		var pick *ixEntryInfo
		for i := range lay {
			if lay[i].internal && lay[i].vcn >= 0 && lay[i].ns != ntfs.NamespaceDOS && !lay[i].dir && (k == 0 || lay[i].depth == 1) {
				pick = &lay[i]
				break
			}
		}
		if pick == nil {
			t.Fatal("no internal-node entry left")
		}
		del(pick.name, "internal node entry")
	}
	// 2. A DOS-named file by its long name, another by its DOS name.
	lay = layout()
	var dosNames []ixEntryInfo
	for _, e := range lay {
		if e.ns == ntfs.NamespaceDOS {
			dosNames = append(dosNames, e)
		}
	}
	if len(dosNames) < 2 {
		t.Fatalf("System32 has %d DOS names, want 2 or more", len(dosNames))
	}
	{
		v, _ := openVolFile(t, vol)
		fi, err := v.Stat(dir + "/" + dosNames[0].name)
		if err != nil {
			t.Fatal(err)
		}
		del(fi.Name(), "DOS-named file by long name")
	}
	del(dosNames[1].name, "DOS-named file by DOS name")
	// 3. Empty a leaf pointed to by a real entry, then one pointed to by
	// an END entry: deletes its entries one by one (plain leaf deletes,
	// then the last entry of the node).
	for _, wantEnd := range []bool{false, true} {
		lay = layout()
		byNode := map[int64][]ixEntryInfo{}
		hasDir := map[int64]bool{}
		for _, e := range lay {
			if !e.internal && e.vcn >= 0 && e.parentEnd == wantEnd {
				byNode[e.vcn] = append(byNode[e.vcn], e)
				hasDir[e.vcn] = hasDir[e.vcn] || e.dir
			}
		}
		for vcn := range hasDir {
			if hasDir[vcn] {
				delete(byNode, vcn)
			}
		}
		var best int64 = -1
		for vcn, es := range byNode {
			if best < 0 || len(es) < len(byNode[best]) || (len(es) == len(byNode[best]) && vcn < best) {
				best = vcn
			}
		}
		if best < 0 {
			t.Fatalf("no leaf with parentEnd=%v", wantEnd)
		}
		victims := byNode[best]
		sort.Slice(victims, func(i, j int) bool { return victims[i].pos < victims[j].pos })
		for i, e := range victims {
			v, _ := openVolFile(t, vol)
			fi, err := v.Stat(dir + "/" + e.name)
			if err != nil {
				// Its file went with an earlier name (DOS/Win32 pair).
				continue
			}
			if f, err := v.Lookup(dir + "/" + e.name); err != nil || f.IsDir() {
				t.Fatalf("leaf to empty holds the directory %s (pick another leaf)", e.name)
			}
			why := "leaf entry"
			if i == len(victims)-1 {
				why = fmt.Sprintf("last entry of a leaf (parent pointer is END: %v)", wantEnd)
			}
			del(fi.Name(), why)
		}
		lay = layout()
		for _, e := range lay {
			if e.vcn == best {
				// The block may have been re-used for a moved-down key only
				// if it was never freed; it must not still hold victims.
				for _, vct := range victims {
					if vct.name == e.name {
						t.Fatalf("leaf VCN %d still holds %s", best, e.name)
					}
				}
			}
		}
	}
	if long {
		// Many more: every 7th remaining entry, whatever its position.
		lay = layout()
		for i := 0; i < len(lay); i += 7 {
			v, _ := openVolFile(t, vol)
			fi, err := v.Stat(dir + "/" + lay[i].name)
			if err != nil {
				continue
			}
			if f, err := v.Lookup(dir + "/" + lay[i].name); err != nil || f.IsDir() {
				continue
			}
			del(fi.Name(), "long run")
		}
	}
	t.Logf("%d deletes: %v", steps, cases)
	latentDamageProbe(t, vol, dir)
}

// latentDamageProbe lets ntfs-3g create and delete files in dir and fill
// the volume, then re-checks: clusters or records we freed while still in
// use would now be handed out twice (a crosslink).
func latentDamageProbe(t *testing.T, vol, dir string) {
	t.Helper()
	mnt, umount := ntfstest.NTFS3gMount(t, vol, "")
	base := filepath.Join(mnt, filepath.FromSlash(dir))
	for i := 0; i < 40; i++ {
		p := filepath.Join(base, fmt.Sprintf("probe-%03d-a-rather-long-name-to-fill-index-blocks.dll", i))
		if err := os.WriteFile(p, []byte(strings.Repeat("x", 3000*(i%5))), 0o644); err != nil {
			umount()
			t.Fatalf("ntfs-3g create: %v", err)
		}
	}
	for i := 0; i < 40; i += 3 {
		os.Remove(filepath.Join(base, fmt.Sprintf("probe-%03d-a-rather-long-name-to-fill-index-blocks.dll", i)))
	}
	// Fill the volume.
	fill, err := os.Create(filepath.Join(mnt, "fill.bin"))
	if err == nil {
		buf := make([]byte, 1<<20)
		for i := range buf {
			buf[i] = byte(i)
		}
		for {
			if _, err := fill.Write(buf); err != nil {
				break
			}
		}
		fill.Close()
	}
	log := umount()
	var kept []string
	for _, l := range strings.Split(log, "\n") {
		if !strings.Contains(l, "No space left on device") { // expected: the volume was filled
			kept = append(kept, l)
		}
	}
	ntfstest.CheckNTFS3gLog(t, strings.Join(kept, "\n"), "read-write probe")
	ntfstest.RequireCheckClean(t, vol, false, "after ntfs-3g created, deleted and filled on our result")
	ntfstest.NTFS3gStatAll(t, vol, "")
}
