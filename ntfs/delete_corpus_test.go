package ntfs

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

const csDir = "Windows/System32/drivers/CrowdStrike"

// fixedNow keeps planned parent times deterministic.
func fixedNow() time.Time { return time.Date(2024, 7, 19, 6, 0, 0, 0, time.UTC) }

// openVolFile opens a volume image read-write as an ntfs.Volume.
func openVolFile(t testing.TB, path string) (*Volume, *os.File) {
	t.Helper()
	f := fileRW(t, path)
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	v, err := Open(f, st.Size())
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
	plan, err := v.PlanDelete(path, opts)
	if err != nil {
		t.Fatalf("plan delete %s: %v", path, err)
	}
	if err := Apply(f, plan, ApplyOptions{NoSync: true}); err != nil {
		t.Fatalf("apply delete %s: %v", path, err)
	}
	return plan
}

// faultyFiles returns the names expected_after_fix.gone lists.
func faultyFiles(t testing.TB, d *corpusDisk) []string {
	t.Helper()
	exp, _ := d.Manifest["expected_after_fix"].(map[string]any)
	var out []string
	for _, g := range exp["gone"].([]any) {
		out = append(out, g.(string))
	}
	return out
}

// TestDeleteCorpusPlainAgainstNTFS3g deletes the faulty file from the
// plain corpus volume with our code and, on a second copy, with ntfs-3g;
// both results must be clean for ntfs-check and semantically identical for
// ntfs-semdump; ntfs-3g must read the whole tree of ours.
func TestDeleteCorpusPlainAgainstNTFS3g(t *testing.T) {
	d := loadCorpusDisk(t, "win10-plain-ntfs")
	base := d.extractVolume(t)
	requireCheckClean(t, base, false, "before the delete")
	ours := copyFile(t, base)
	ref := copyFile(t, base)
	gone := faultyFiles(t, d)
	for _, g := range gone {
		plan := deleteWithUs(t, ours, csDir+"/"+g, DeleteOptions{})
		t.Logf("plan for %s:\n%s", g, plan)
	}
	requireCheckClean(t, ours, false, "after our delete")
	requireFUSE(t)
	var refPaths []string
	for _, g := range gone {
		refPaths = append(refPaths, csDir+"/"+g)
	}
	ntfs3gRemove(t, ref, refPaths...)
	requireCheckClean(t, ref, false, "after ntfs-3g's delete")
	a, b := semdump(t, ours), semdump(t, ref)
	if a != b {
		t.Fatalf("ntfs-semdump differs between our delete and ntfs-3g's:\n%s", diffLines(b, a))
	}
	ntfs3gStatAll(t, ours, csDir)
}

// TestDeleteCorpusVerifyFixed deletes the faulty files from the dirty
// plain corpus disk through the library (the flag must stay set and be
// noted) and runs the corpus verifier. cmd/unbrick's
// TestNTFSRmCorpusVerifyFixed does every disk through the CLI.
func TestDeleteCorpusVerifyFixed(t *testing.T) {
	for _, variant := range []string{"win10-plain-dirty"} {
		t.Run(variant, func(t *testing.T) {
			d := loadCorpusDisk(t, variant)
			vol := d.extractVolume(t)
			dirty := strings.Contains(variant, "dirty")
			requireCheckClean(t, vol, dirty, "before")
			for _, g := range faultyFiles(t, d) {
				plan := deleteWithUs(t, vol, csDir+"/"+g, DeleteOptions{})
				if dirty && !strings.Contains(strings.Join(plan.Notes, " "), "dirty flag was already set") {
					t.Errorf("dirty volume: plan notes %q do not say the flag stays set", plan.Notes)
				}
			}
			requireCheckClean(t, vol, dirty, "after")
			d.putVolume(t, vol)
			t.Log(verifyDisk(t, d.Path, variant, "fixed"))
		})
	}
}

// TestDeleteUndoByBeforeImages: the plan's before-images alone restore the
// volume bit for bit (what an undo journal relies on), and re-applying a
// plan to a volume it no longer matches is refused without writing.
func TestDeleteUndoByBeforeImages(t *testing.T) {
	d := loadCorpusDisk(t, "win10-plain-ntfs")
	vol := d.extractVolume(t)
	orig := copyFile(t, vol)
	plan := deleteWithUs(t, vol, faulty, DeleteOptions{})
	if sameFile(t, vol, orig) {
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
	if !sameFile(t, vol, orig) {
		t.Fatal("before-images did not restore the volume bit for bit")
	}
}
