package edit

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/unbrick/unbrick/ntfs"
	"github.com/unbrick/unbrick/ntfs/internal/ntfstest"
)

// fixedNow keeps planned parent times deterministic.
func fixedNow() time.Time { return time.Date(2024, 7, 19, 6, 0, 0, 0, time.UTC) }

// openVolFile opens a volume image read-write as an ntfs.Volume.
func openVolFile(t testing.TB, path string) (*ntfs.Volume, *os.File) {
	t.Helper()
	f := ntfstest.FileRW(t, path)
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	v, err := ntfs.Open(f, st.Size())
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	return v, f
}

// deleteWithUs plans and applies the deletion of path on a volume image.
func deleteWithUs(t testing.TB, vol, path string, opts DeleteOptions) *Plan {
	t.Helper()
	v, f := openVolFile(t, vol)
	if opts.Now == nil {
		opts.Now = fixedNow
	}
	plan, err := PlanDelete(v, path, opts)
	if err != nil {
		t.Fatalf("plan delete %s: %v", path, err)
	}
	if err := Apply(f, plan, ApplyOptions{NoSync: true}); err != nil {
		t.Fatalf("apply delete %s: %v", path, err)
	}
	return plan
}

// TestDeleteCorpusPlainAgainstNTFS3g deletes the faulty file from the
// plain corpus volume with our code and, on a second copy, with ntfs-3g;
// both results must be clean for ntfs-check and semantically identical for
// ntfs-semdump; ntfs-3g must read the whole tree of ours.
func TestDeleteCorpusPlainAgainstNTFS3g(t *testing.T) {
	d := ntfstest.LoadCorpusDisk(t, "win10-plain-ntfs")
	base := d.ExtractVolume(t)
	ntfstest.RequireCheckClean(t, base, false, "before the delete")
	ours := ntfstest.CopyFile(t, base)
	ref := ntfstest.CopyFile(t, base)
	gone := ntfstest.FaultyFiles(t, d)
	for _, g := range gone {
		plan := deleteWithUs(t, ours, ntfstest.CrowdStrikeDir+"/"+g, DeleteOptions{})
		t.Logf("plan for %s:\n%s", g, plan)
	}
	ntfstest.RequireCheckClean(t, ours, false, "after our delete")
	ntfstest.RequireFUSE(t)
	var refPaths []string
	for _, g := range gone {
		refPaths = append(refPaths, ntfstest.CrowdStrikeDir+"/"+g)
	}
	ntfstest.NTFS3gRemove(t, ref, refPaths...)
	ntfstest.RequireCheckClean(t, ref, false, "after ntfs-3g's delete")
	a, b := ntfstest.Semdump(t, ours), ntfstest.Semdump(t, ref)
	if a != b {
		t.Fatalf("ntfs-semdump differs between our delete and ntfs-3g's:\n%s", ntfstest.DiffLines(b, a))
	}
	ntfstest.NTFS3gStatAll(t, ours, ntfstest.CrowdStrikeDir)
}

// TestDeleteCorpusVerifyFixed deletes the faulty files from the dirty
// plain corpus disk through the library (the flag must stay set and be
// noted) and runs the corpus verifier. cmd/unbrick's
// TestNTFSRmCorpusVerifyFixed does every disk through the CLI.
func TestDeleteCorpusVerifyFixed(t *testing.T) {
	for _, variant := range []string{"win10-plain-dirty"} {
		t.Run(variant, func(t *testing.T) {
			d := ntfstest.LoadCorpusDisk(t, variant)
			vol := d.ExtractVolume(t)
			dirty := strings.Contains(variant, "dirty")
			ntfstest.RequireCheckClean(t, vol, dirty, "before")
			for _, g := range ntfstest.FaultyFiles(t, d) {
				plan := deleteWithUs(t, vol, ntfstest.CrowdStrikeDir+"/"+g, DeleteOptions{})
				if dirty && !strings.Contains(strings.Join(plan.Notes, " "), "dirty flag was already set") {
					t.Errorf("dirty volume: plan notes %q do not say the flag stays set", plan.Notes)
				}
			}
			ntfstest.RequireCheckClean(t, vol, dirty, "after")
			d.PutVolume(t, vol)
			t.Log(ntfstest.VerifyDisk(t, d.Path, variant, "fixed"))
		})
	}
}

// TestDeleteUndoByBeforeImages: the plan's before-images alone restore the
// volume bit for bit (what an undo journal relies on), and re-applying a
// plan to a volume it no longer matches is refused without writing.
func TestDeleteUndoByBeforeImages(t *testing.T) {
	d := ntfstest.LoadCorpusDisk(t, "win10-plain-ntfs")
	vol := d.ExtractVolume(t)
	orig := ntfstest.CopyFile(t, vol)
	plan := deleteWithUs(t, vol, faulty, DeleteOptions{})
	if ntfstest.SameFile(t, vol, orig) {
		t.Fatal("the delete changed nothing")
	}
	_, f := openVolFile(t, vol)
	var dc *DiskChangedError
	if err := Apply(f, plan, ApplyOptions{NoSync: true}); !errors.As(err, &dc) {
		t.Fatalf("re-applying a plan: %v, want DiskChangedError", err)
	}
	if err := Apply(f, inverse(plan), ApplyOptions{NoSync: true}); err != nil {
		t.Fatal(err)
	}
	if !ntfstest.SameFile(t, vol, orig) {
		t.Fatal("before-images did not restore the volume bit for bit")
	}
}
