package edit

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/unbrick/unbrick/internal/testcorpus"
	"github.com/unbrick/unbrick/ntfs"
	"github.com/unbrick/unbrick/ntfs/internal/mst"
	"github.com/unbrick/unbrick/ntfs/internal/ntfstest"
)

// Deleting files that carry an object ID: their entry must leave
// $Extend\$ObjId:$O. The witnesses are ntfs-3g (which gave the files their
// object IDs, and whose own rm is the reference), ntfs-check and
// ntfs-semdump (shared corpus tools) and ntfs/testdata/objid-check.py, a dump and
// consistency check of $O written on the shared ntfslib, not on this
// package.

// objIDVolume is a mkntfs volume whose directory "d" holds files with
// object IDs (ids: path -> the 64-byte value ntfs-3g stored) and some
// without.
type objIDVolume struct {
	path string
	ids  map[string][]byte
}

// makeObjIDVolume formats a 64 MiB sparse file and lets ntfs-3g create n
// files with random object IDs in "d" (every 6th with an 8.3 name, sizes
// from resident to a few clusters) and 10 files without.
func makeObjIDVolume(t *testing.T, n int, mkfsArgs ...string) *objIDVolume {
	t.Helper()
	ntfstest.RequireTool(t, "mkntfs")
	ntfstest.RequireFUSE(t)
	vol := filepath.Join(t.TempDir(), "objid.img")
	f, err := os.Create(vol)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(64 << 20)
	f.Close()
	args := append([]string{"-F", "-Q", "-L", "objid"}, mkfsArgs...)
	if out, err := exec.Command("mkntfs", append(args, vol)...).CombinedOutput(); err != nil {
		t.Fatalf("mkntfs %v: %v\n%s", mkfsArgs, err, out)
	}
	mnt, umount := ntfstest.NTFS3gMount(t, vol, "")
	fail := func(format string, a ...any) {
		t.Helper()
		umount()
		t.Fatalf(format, a...)
	}
	if err := os.Mkdir(filepath.Join(mnt, "d"), 0o755); err != nil {
		fail("%v", err)
	}
	rng := rand.New(rand.NewPCG(13, 7))
	ov := &objIDVolume{path: vol, ids: map[string][]byte{}}
	for i := 0; i < n; i++ {
		rel := fmt.Sprintf("d/obj-%04d.bin", i)
		p := filepath.Join(mnt, rel)
		if err := os.WriteFile(p, bytes.Repeat([]byte{byte(i)}, 900*(i%5)), 0o644); err != nil {
			fail("%v", err)
		}
		if i%6 == 0 {
			if err := ntfstest.Setxattr(p, "system.ntfs_dos_name", []byte(fmt.Sprintf("O%06d.BIN", i))); err != nil {
				fail("set DOS name: %v", err)
			}
		}
		id := make([]byte, 64)
		for k := range id {
			id[k] = byte(rng.Uint32())
		}
		if err := ntfstest.Setxattr(p, "system.ntfs_object_id", id); err != nil {
			fail("ntfs-3g would not set an object ID on %s: %v", rel, err)
		}
		ov.ids[rel] = id
	}
	for i := 0; i < 10; i++ {
		if err := os.WriteFile(filepath.Join(mnt, fmt.Sprintf("d/plain-%02d.txt", i)), []byte("no object id\n"), 0o644); err != nil {
			fail("%v", err)
		}
	}
	// ntfs-3g returns all 64 bytes only when it finds the $O entry.
	buf := make([]byte, 128)
	if k, err := ntfstest.Getxattr(filepath.Join(mnt, "d/obj-0000.bin"), "system.ntfs_object_id", buf); err != nil || !bytes.Equal(buf[:k], ov.ids["d/obj-0000.bin"]) {
		fail("ntfs-3g reads back object ID %x (%v)", buf[:max(k, 0)], err)
	}
	ntfstest.CheckNTFS3gLog(t, umount(), "making the object-ID volume")
	ntfstest.RequireCheckClean(t, vol, false, "fresh object-ID volume")
	if probs := objIDProblems(objIDCheck(t, vol)); len(probs) > 0 {
		t.Fatalf("objid-check on the fresh volume:\n%s", strings.Join(probs, "\n"))
	}
	return ov
}

// objIDCheck runs ntfs/testdata/objid-check.py: the $O entries in key order and
// the problem lines.
func objIDCheck(t testing.TB, vol string) string {
	t.Helper()
	ntfstest.RequireTool(t, "python3")
	tools := filepath.Dir(testcorpus.Path(t, "tools/ntfslib.py"))
	out, err := ntfstest.RunTool(t, 2*time.Minute, "python3", filepath.Join("..", "testdata", "objid-check.py"), tools, vol)
	if !strings.Contains(out, "problem(s)") {
		t.Fatalf("objid-check: %v\n%s", err, out)
	}
	if (err == nil) != (len(objIDProblems(out)) == 0) {
		t.Fatalf("objid-check exit status (%v) disagrees with its output:\n%s", err, out)
	}
	return out
}

// objIDEntries, objIDCount and objIDProblems read objid-check's output.
func objIDCount(out string) int {
	n := 0
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "objid ") {
			n++
		}
	}
	return n
}

func objIDEntries(out string) string {
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "objid ") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

func objIDProblems(out string) []string {
	var probs []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "OBJID") {
			probs = append(probs, l)
		}
	}
	return probs
}

// objIDEntryInfo is where one $O entry sits in the tree.
type objIDEntryInfo struct {
	key      []byte
	ref      ntfs.FileRef
	vcn      int64 // node holding it (-1 = root)
	internal bool  // the entry has a child
	nodeReal int   // real entries in that node
	depth    int
}

// objIDLayout walks $Extend\$ObjId:$O with the read side of this package.
func objIDLayout(t testing.TB, v *ntfs.Volume) []objIDEntryInfo {
	t.Helper()
	of, err := v.Lookup("$Extend/$ObjId")
	if err != nil {
		t.Fatal(err)
	}
	ix, err := of.OpenIndex("$O")
	if err != nil {
		t.Fatal(err)
	}
	var out []objIDEntryInfo
	var walk func(n *ntfs.IndexNode, depth int)
	walk = func(n *ntfs.IndexNode, depth int) {
		for i := range n.Entries {
			e := &n.Entries[i]
			if e.HasChild() {
				c, err := ix.Node(e.ChildVCN)
				if err != nil {
					t.Fatal(err)
				}
				walk(c, depth+1)
			}
			if !e.IsEnd() {
				raw := n.Raw[e.Offset : e.Offset+e.Length]
				data := entData(raw)
				if data == nil || len(e.Key) != 16 {
					t.Fatalf("$O entry at %d of VCN %d: key %d bytes, data %x", e.Offset, n.VCN, len(e.Key), data)
				}
				out = append(out, objIDEntryInfo{key: append([]byte(nil), e.Key...), ref: ntfs.FileRef(binary.LittleEndian.Uint64(data)),
					vcn: n.VCN, internal: e.HasChild(), nodeReal: len(n.Entries) - 1, depth: depth})
			}
		}
	}
	walk(ix.Root.Node, 0)
	return out
}

// planSaysAll reports whether one write of the plan mentions all of ss.
func planSaysAll(p *Plan, ss ...string) bool {
	for _, w := range p.Writes {
		all := true
		for _, s := range ss {
			all = all && strings.Contains(w.What, s)
		}
		if all {
			return true
		}
	}
	return false
}

// pathOfKey maps an object ID key back to the file ntfs-3g gave it to.
func (ov *objIDVolume) pathOfKey(key []byte) string {
	for p, id := range ov.ids {
		if bytes.Equal(id[:16], key) {
			return p
		}
	}
	return ""
}

// ntfs3gObjectIDs mounts read-only and reads every object ID of ids
// through ntfs-3g, which returns the 64-byte form only when its own
// B-tree lookup finds the $O entry. Paths in gone must not exist.
func ntfs3gObjectIDs(t *testing.T, vol string, ids map[string][]byte, gone map[string]bool) {
	t.Helper()
	mnt, umount := ntfstest.NTFS3gMount(t, vol, "ro")
	var errs []string
	buf := make([]byte, 128)
	for p, id := range ids {
		full := filepath.Join(mnt, filepath.FromSlash(p))
		if gone[p] {
			if _, err := os.Lstat(full); !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, fmt.Sprintf("%s: still there (%v)", p, err))
			}
			continue
		}
		k, err := ntfstest.Getxattr(full, "system.ntfs_object_id", buf)
		if err != nil || !bytes.Equal(buf[:k], id) {
			errs = append(errs, fmt.Sprintf("%s: object ID %x, want %x (%v)", p, buf[:max(k, 0)], id, err))
		}
	}
	log := umount()
	ntfstest.CheckNTFS3gLog(t, log, "object ID read-back")
	if len(errs) > 0 {
		sort.Strings(errs)
		t.Fatalf("ntfs-3g object ID read-back: %d error(s):\n%s", len(errs), strings.Join(errs[:min(len(errs), 10)], "\n"))
	}
}

// objIDScenarios chooses files by where their $O entries sit, for the
// cases the tree has: a leaf entry, an entry with a child in the root and
// in an INDX block (successor promotion), every file of the smallest leaf
// (the last delete empties it: block freed, key moved down), a DOS-named
// file, and every object-ID file (down to a leaf root). Each also names
// the plan text that proves the case was hit. ntfs-3g, like Windows,
// keeps the root's entries when a leaf splits and moves them all into a
// new INDX block when the root overflows, so a root with real entries and
// an internal INDX block need trees of different sizes.
type objIDScenario struct {
	paths  []string
	expect []string // one write of some plan mentions all of these
}

func objIDScenarios(t *testing.T, ov *objIDVolume, v *ntfs.Volume) map[string]objIDScenario {
	t.Helper()
	lay := objIDLayout(t, v)
	out := map[string]objIDScenario{}
	path := func(e objIDEntryInfo) string {
		p := ov.pathOfKey(e.key)
		if p == "" {
			t.Fatalf("$O key %x belongs to no file the test made", e.key)
		}
		return p
	}
	leafCount := map[int64]int{}
	for _, e := range lay {
		if !e.internal && e.vcn >= 0 {
			leafCount[e.vcn]++
		}
	}
	var smallest int64 = -1
	for vcn, c := range leafCount {
		if smallest < 0 || c < leafCount[smallest] || (c == leafCount[smallest] && vcn < smallest) {
			smallest = vcn
		}
	}
	var leaf, rootNode, blockNode []string
	var emptyLeaf []string
	for _, e := range lay {
		switch {
		case !e.internal && e.vcn >= 0 && e.nodeReal > 2 && leaf == nil:
			leaf = []string{path(e)}
		case e.internal && e.vcn < 0 && rootNode == nil:
			rootNode = []string{path(e)}
		case e.internal && e.vcn >= 0 && blockNode == nil:
			blockNode = []string{path(e)}
		}
		if !e.internal && e.vcn == smallest {
			emptyLeaf = append(emptyLeaf, path(e))
		}
	}
	var all []string
	for p := range ov.ids {
		all = append(all, p)
	}
	sort.Strings(all)
	if leaf != nil {
		out["leaf entry"] = objIDScenario{leaf, []string{"$O block VCN", "removed"}}
	}
	if rootNode != nil {
		out["root entry"] = objIDScenario{rootNode, []string{"$O index root of $Extend\\$ObjId", "replaced by its successor object ID"}}
	}
	if blockNode != nil {
		out["INDX node entry"] = objIDScenario{blockNode, []string{"$O block VCN", "replaced by its successor object ID"}}
	}
	if len(emptyLeaf) > 0 {
		out["leaf emptied"] = objIDScenario{emptyLeaf, []string{"$O $BITMAP of $Extend\\$ObjId", "emptied block(s) freed"}}
	}
	out["DOS-named file"] = objIDScenario{[]string{"d/obj-0006.bin"}, []string{"$O", "object ID"}}
	out["every object ID"] = objIDScenario{all, []string{"$O index root", "root is a leaf again"}}
	return out
}

// TestDeleteObjectIDDifferentialNTFS3g deletes files with object IDs with
// our code and with ntfs-3g (mount, rm, unmount) from copies of the same
// mkntfs volume. Per scenario: ntfs-check clean on both; ntfs-semdump
// identical (records, names, $MFT:$BITMAP, $Bitmap, and $ObjId's own
// attributes: $O $BITMAP and $INDEX_ALLOCATION, so the same INDX blocks
// freed); the $O entries (objid-check.py) identical and consistent;
// ntfs-3g finds every surviving object ID through its own lookup and
// reads the whole tree.
func TestDeleteObjectIDDifferentialNTFS3g(t *testing.T) {
	if testing.Short() {
		t.Skip("mkntfs volumes skipped in -short mode")
	}
	type volCases struct {
		files int
		cases []string
	}
	// go test runs the one-block cases; scripts/ci-ntfs-torture.sh
	// (UNBRICK_TORTURE=long) adds the rest and the multi-block $O.
	all := []volCases{{120, []string{"root entry", "leaf entry", "every object ID"}}}
	if os.Getenv("UNBRICK_TORTURE") == "long" {
		all = []volCases{
			{120, []string{"root entry", "leaf entry", "leaf emptied", "DOS-named file", "every object ID"}},
			{320, []string{"INDX node entry", "leaf emptied"}},
		}
	}
	for _, vc := range all {
		ov := makeObjIDVolume(t, vc.files)
		v, _ := openVolFile(t, ov.path)
		scs := objIDScenarios(t, ov, v)
		for _, name := range vc.cases {
			sc, ok := scs[name]
			if !ok {
				t.Fatalf("%d object IDs: the $O tree has no %q case", vc.files, name)
			}
			t.Run(fmt.Sprintf("%d/%s", vc.files, name), func(t *testing.T) {
				ours, ref := ntfstest.CopyFile(t, ov.path), ntfstest.CopyFile(t, ov.path)
				said := false
				gone := map[string]bool{}
				for _, p := range sc.paths {
					plan := deleteWithUs(t, ours, p, DeleteOptions{})
					said = said || planSaysAll(plan, sc.expect...)
					if len(plan.Deleted) != 1 || plan.Deleted[0].ObjectID == "" {
						t.Fatalf("%s: plan does not report the object ID: %+v", p, plan.Deleted)
					}
					gone[p] = true
				}
				if !said {
					t.Fatalf("no plan has a write saying %q: the scenario missed its case", sc.expect)
				}
				ntfstest.NTFS3gRemove(t, ref, sc.paths...)
				ntfstest.RequireCheckClean(t, ours, false, "after our delete")
				ntfstest.RequireCheckClean(t, ref, false, "after ntfs-3g's delete")
				if a, b := ntfstest.Semdump(t, ours), ntfstest.Semdump(t, ref); a != b {
					t.Fatalf("ntfs-semdump differs (- ntfs-3g, + ours):\n%s", ntfstest.DiffLines(b, a))
				}
				oo, ro := objIDCheck(t, ours), objIDCheck(t, ref)
				if p := objIDProblems(oo); len(p) > 0 {
					t.Fatalf("objid-check after our delete:\n%s", strings.Join(p, "\n"))
				}
				if a, b := objIDEntries(oo), objIDEntries(ro); a != b {
					t.Fatalf("$O entries differ (- ntfs-3g, + ours):\n%s", ntfstest.DiffLines(b, a))
				}
				if got, want := objIDCount(oo), len(ov.ids)-len(gone); got != want {
					t.Fatalf("%d $O entries left, want %d", got, want)
				}
				ntfs3gObjectIDs(t, ours, ov.ids, gone)
				ntfstest.NTFS3gStatAll(t, ours, "d")
			})
		}
	}
}

// TestDeleteObjectIDLatent lets ntfs-3g work on $O after our deletes: it
// gives new files object IDs and deletes more object-ID files; the result
// must stay consistent (a tree we left subtly wrong would make its
// inserts or removals fail or corrupt it).
func TestDeleteObjectIDLatent(t *testing.T) {
	if testing.Short() {
		t.Skip("mkntfs volumes skipped in -short mode")
	}
	ov := makeObjIDVolume(t, 200)
	vol := ntfstest.CopyFile(t, ov.path)
	var paths []string
	for p := range ov.ids {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	gone := map[string]bool{}
	for i, p := range paths {
		if i%3 == 0 {
			deleteWithUs(t, vol, p, DeleteOptions{})
			gone[p] = true
		}
	}
	ntfstest.RequireCheckClean(t, vol, false, "after our deletes")
	mnt, umount := ntfstest.NTFS3gMount(t, vol, "")
	rng := rand.New(rand.NewPCG(99, 1))
	for i := 0; i < 60; i++ {
		rel := fmt.Sprintf("d/new-%03d.bin", i)
		id := make([]byte, 64)
		for k := range id {
			id[k] = byte(rng.Uint32())
		}
		if err := os.WriteFile(filepath.Join(mnt, rel), []byte("new"), 0o644); err != nil {
			umount()
			t.Fatal(err)
		}
		if err := ntfstest.Setxattr(filepath.Join(mnt, rel), "system.ntfs_object_id", id); err != nil {
			umount()
			t.Fatalf("ntfs-3g: set object ID on %s: %v", rel, err)
		}
		ov.ids[rel] = id
	}
	for i, p := range paths {
		if i%3 == 1 {
			if err := os.Remove(filepath.Join(mnt, filepath.FromSlash(p))); err != nil {
				umount()
				t.Fatalf("ntfs-3g rm %s: %v", p, err)
			}
			gone[p] = true
		}
	}
	ntfstest.CheckNTFS3gLog(t, umount(), "read-write work on our result")
	ntfstest.RequireCheckClean(t, vol, false, "after ntfs-3g's work")
	out := objIDCheck(t, vol)
	if p := objIDProblems(out); len(p) > 0 {
		t.Fatalf("objid-check after ntfs-3g's work:\n%s", strings.Join(p, "\n"))
	}
	if got, want := objIDCount(out), len(ov.ids)-len(gone); got != want {
		t.Fatalf("%d $O entries, want %d", got, want)
	}
	ntfs3gObjectIDs(t, vol, ov.ids, gone)
}

// TestObjIDCheckWitness makes sure objid-check.py is not vacuous: a file
// freed by hand without its $O entry (what the delete did before object
// IDs were handled, if it had not refused) must be reported.
func TestObjIDCheckWitness(t *testing.T) {
	if testing.Short() {
		t.Skip("mkntfs volumes skipped in -short mode")
	}
	ov := makeObjIDVolume(t, 30)
	vol := ntfstest.CopyFile(t, ov.path)
	v, f := openVolFile(t, vol)
	tf, err := v.Lookup("d/obj-0003.bin")
	if err != nil {
		t.Fatal(err)
	}
	p := newPlanner(v)
	ri, err := p.rec(tf.Base.Number)
	if err != nil {
		t.Fatal(err)
	}
	ri.put16(ntfs.MFTOffFlags, ri.u16(ntfs.MFTOffFlags)&^ntfs.RecordInUse)
	if err := p.commitRecordImage(ri, "fault: record freed, $O entry left"); err != nil {
		t.Fatal(err)
	}
	plan, err := p.finish()
	if err != nil {
		t.Fatal(err)
	}
	if err := Apply(f, plan, ApplyOptions{NoSync: true}); err != nil {
		t.Fatal(err)
	}
	probs := objIDProblems(objIDCheck(t, vol))
	if len(probs) == 0 || !strings.Contains(strings.Join(probs, "\n"), "OBJIDDANGLING") {
		t.Fatalf("objid-check missed a $O entry naming a freed record: %v", probs)
	}
}

// TestDeleteObjectIDRefusals: a $O that cannot be edited safely refuses
// the delete, writing nothing: the object ID not indexed, the entry naming
// another record, $ObjId missing from $Extend, a damaged $O block, and a
// malformed $OBJECT_ID.
func TestDeleteObjectIDRefusals(t *testing.T) {
	if testing.Short() {
		t.Skip("mkntfs volumes skipped in -short mode")
	}
	ov := makeObjIDVolume(t, 200)
	v0, _ := openVolFile(t, ov.path)
	lay := objIDLayout(t, v0)
	var leafEntry objIDEntryInfo
	for _, e := range lay {
		if !e.internal && e.vcn >= 0 {
			leafEntry = e
			break
		}
	}
	target := ov.pathOfKey(leafEntry.key)
	// editRecord changes MFT record n (clean image) and writes it back
	// with fixups (and its mirror copy) through a plan of its own.
	editRecord := func(t *testing.T, vol string, n uint64, edit func(ri *recImage)) {
		v, f := openVolFile(t, vol)
		p := newPlanner(v)
		ri, err := p.rec(n)
		if err != nil {
			t.Fatal(err)
		}
		edit(ri)
		if err := p.commitRecordImage(ri, "test edit"); err != nil {
			t.Fatal(err)
		}
		plan, err := p.finish()
		if err != nil {
			t.Fatal(err)
		}
		if err := Apply(f, plan, ApplyOptions{NoSync: true}); err != nil {
			t.Fatal(err)
		}
	}
	tf, err := v0.Lookup(target)
	if err != nil {
		t.Fatal(err)
	}
	objRec, err := v0.Lookup("$Extend/$ObjId")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, want string
		break_     func(t *testing.T, vol string)
	}{
		{"object ID not indexed", "is not in $Extend\\$ObjId:$O", func(t *testing.T, vol string) {
			editRecord(t, vol, tf.Base.Number, func(ri *recImage) {
				off, err := ri.findAttr(ntfs.AttrObjectID, "", -1)
				if err != nil {
					t.Fatal(err)
				}
				val, _ := ri.residentValue(off)
				val[15] ^= 0x5A // still a valid GUID, no longer the indexed one
			})
		}},
		{"entry names another record", "names MFT record", func(t *testing.T, vol string) {
			// The $O entry of the target is in a leaf block: point it at
			// the next record (the block is rewritten with fixups).
			_, f := openVolFile(t, vol)
			ix, err := objRec.OpenIndex("$O")
			if err != nil {
				t.Fatal(err)
			}
			n, err := ix.Node(leafEntry.vcn)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range n.Entries {
				if bytes.Equal(e.Key, leafEntry.key) {
					raw := n.Raw[e.Offset : e.Offset+e.Length]
					d := entData(raw)
					binary.LittleEndian.PutUint64(d, uint64(ntfs.MakeRef(tf.Base.Number+1, tf.Base.Sequence)))
				}
			}
			out, _, err := mst.Protect(n.Raw, n.USAOffset, n.USACount, n.USN)
			if err != nil {
				t.Fatal(err)
			}
			exts, err := ix.BlockExtents(leafEntry.vcn)
			if err != nil {
				t.Fatal(err)
			}
			pos := 0
			for _, x := range exts {
				if _, err := f.WriteAt(out[pos:pos+x.Length], x.Offset); err != nil {
					t.Fatal(err)
				}
				pos += x.Length
			}
		}},
		{"damaged $O block", "$Extend\\$ObjId:$O is damaged", func(t *testing.T, vol string) {
			// A torn write: one stride's tail no longer carries the USN.
			_, f := openVolFile(t, vol)
			ix, err := objRec.OpenIndex("$O")
			if err != nil {
				t.Fatal(err)
			}
			exts, err := ix.BlockExtents(leafEntry.vcn)
			if err != nil {
				t.Fatal(err)
			}
			b := []byte{0}
			at := exts[0].Offset + 1022
			f.ReadAt(b, at)
			b[0] ^= 0xFF
			f.WriteAt(b, at)
		}},
		{"$ObjId missing", "no $Extend\\$ObjId", func(t *testing.T, vol string) {
			// Rename $Extend's entry of $ObjId to $ObjIe in place (same
			// length, same position in the order).
			ext, err := v0.OpenRef(ntfs.MakeRef(ntfs.RecordExtend, 0))
			if err != nil {
				t.Fatal(err)
			}
			ra := ext.FindAttr(ntfs.AttrIndexRoot, "$I30")
			editRecord(t, vol, ra.Record, func(ri *recImage) {
				off, err := ri.findAttr(ntfs.AttrIndexRoot, "$I30", -1)
				if err != nil {
					t.Fatal(err)
				}
				val, _ := ri.residentValue(off)
				name := unitsToBytes(delTestUTF16("$ObjId"))
				i := bytes.Index(val, name)
				if i < 0 {
					t.Fatal("$ObjId not in $Extend's index root")
				}
				val[i+len(name)-2] = 'e'
			})
		}},
		{"malformed $OBJECT_ID", "holds 8 bytes", func(t *testing.T, vol string) {
			editRecord(t, vol, tf.Base.Number, func(ri *recImage) {
				off, err := ri.findAttr(ntfs.AttrObjectID, "", -1)
				if err != nil {
					t.Fatal(err)
				}
				if err := ri.setResidentValue(off, make([]byte, 8)); err != nil {
					t.Fatal(err)
				}
			})
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			vol := ntfstest.CopyFile(t, ov.path)
			c.break_(t, vol)
			snap := ntfstest.CopyFile(t, vol)
			v, _ := openVolFile(t, vol)
			_, err := PlanDelete(v, target, DeleteOptions{Now: fixedNow})
			if !errors.Is(err, ntfs.ErrRefused) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want a refusal containing %q", err, c.want)
			}
			if !ntfstest.SameFile(t, vol, snap) {
				t.Fatal("a refusal wrote to the volume")
			}
			// The other object-ID files of a healthy $O are still
			// deletable when only the target's own attribute is broken.
			if c.name == "object ID not indexed" || c.name == "malformed $OBJECT_ID" {
				other := ov.pathOfKey(lay[len(lay)-1].key)
				if other != target {
					deleteWithUs(t, vol, other, DeleteOptions{})
				}
			}
		})
	}
}

// TestDeletePowerCutObjectID cuts delete plans of object-ID files after
// write k, for every k, on fresh copies (as TestDeletePowerCut does for
// $I30): ntfs-check may report leaks only; objid-check may report only
// what the write order allows (a key being moved present twice, a block
// marked in use that nothing references, and the deleted file's object ID
// unindexed once its record is an orphan, i.e. only after its names left
// the directory); ntfs-3g must read the whole tree. Plans: an entry with
// a child in the $O root and in an INDX block (successor promotion) and
// the last entry of a $O leaf under the root (block freed, key moved
// down).
func TestDeletePowerCutObjectID(t *testing.T) {
	if testing.Short() {
		t.Skip("power-cut test skipped in -short mode")
	}
	type cut struct {
		ov     *objIDVolume
		setup  []string
		target string
		expect []string
	}
	cuts := map[string]cut{}
	sizes := []int{120} // UNBRICK_TORTURE=long (scripts/ci-ntfs-torture.sh): also the multi-block $O
	if os.Getenv("UNBRICK_TORTURE") == "long" {
		sizes = []int{120, 320}
	}
	for _, n := range sizes {
		ov := makeObjIDVolume(t, n)
		v, _ := openVolFile(t, ov.path)
		scs := objIDScenarios(t, ov, v)
		want := []string{"root entry", "leaf emptied"}
		if n == 320 {
			want = []string{"INDX node entry"}
		}
		for _, w := range want {
			sc, ok := scs[w]
			if !ok {
				t.Fatalf("%d object IDs: the $O tree has no %q case", n, w)
			}
			last := len(sc.paths) - 1
			cuts[fmt.Sprintf("%d/%s", n, w)] = cut{ov: ov, setup: sc.paths[:last], target: sc.paths[last], expect: sc.expect}
		}
	}
	for name, c := range cuts {
		t.Run(name, func(t *testing.T) {
			start := ntfstest.CopyFile(t, c.ov.path)
			for _, p := range c.setup {
				deleteWithUs(t, start, p, DeleteOptions{})
			}
			v, _ := openVolFile(t, start)
			tf, err := v.Lookup(c.target)
			if err != nil {
				t.Fatal(err)
			}
			plan, err := PlanDelete(v, c.target, DeleteOptions{Now: fixedNow})
			if err != nil {
				t.Fatal(err)
			}
			if !planSaysAll(plan, c.expect...) {
				t.Fatalf("plan does not contain %q:\n%s", c.expect, plan)
			}
			t.Logf("%d writes:\n%s", len(plan.Writes), plan)
			orphan := fmt.Sprintf("ORPHANNAME record %d ", tf.Base.Number)
			unindexed := fmt.Sprintf("OBJIDUNINDEXED record %d ", tf.Base.Number)
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
					img = start
				}
				probs := ntfstest.NTFSCheck(t, img, false)
				if bad := nonLeaks(probs); len(bad) > 0 {
					t.Fatalf("cut after write %d of %d: ntfs-check reports more than leaks:\n%s", k, len(plan.Writes), strings.Join(bad, "\n"))
				}
				isOrphan := strings.Contains(strings.Join(probs, "\n"), orphan)
				for _, p := range objIDProblems(objIDCheck(t, img)) {
					ok := strings.HasPrefix(p, "OBJIDDUP ") || strings.HasPrefix(p, "OBJIDLEAK ") ||
						(strings.HasPrefix(p, unindexed) && isOrphan)
					if !ok {
						t.Fatalf("cut after write %d of %d: objid-check: %s (orphan: %v)", k, len(plan.Writes), p, isOrphan)
					}
				}
				ntfstest.NTFS3gStatAll(t, img, "")
			}
		})
	}
}
