package edit

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/unbrick/unbrick/ntfs/internal/ntfstest"
)

// TestDeleteAttributeListFile: a file whose attributes overflow its MFT
// record (ntfs-3g stores user.* extended attributes as named $DATA
// streams; 40 of them plus a non-resident stream give an $ATTRIBUTE_LIST
// and extension records) is deleted by us and by ntfs-3g: ntfs-check
// clean, ntfs-semdump identical (base and extension records freed with the
// same sequence numbers, same bitmaps); and every power cut leaves only
// leaks.
func TestDeleteAttributeListFile(t *testing.T) {
	d := ntfstest.LoadCorpusDisk(t, "win10-plain-ntfs")
	base := d.ExtractVolume(t)
	ntfstest.RequireFUSE(t)
	mnt, umount := ntfstest.NTFS3gMount(t, base, "")
	p := filepath.Join(mnt, filepath.FromSlash(ntfstest.CrowdStrikeDir), "attrlist.sys")
	if err := os.WriteFile(p, bytes.Repeat([]byte{7}, 20000), 0o644); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 40; i++ {
		if err := ntfstest.Setxattr(p, fmt.Sprintf("user.s%02d", i), bytes.Repeat([]byte{'x'}, 100+i)); err != nil {
			umount()
			t.Fatal(err)
		}
	}
	if err := ntfstest.Setxattr(p, "user.big", bytes.Repeat([]byte{'y'}, 9000)); err != nil {
		umount()
		t.Fatal(err)
	}
	umount()
	ntfstest.RequireCheckClean(t, base, false, "with the attribute-list file")
	v, _ := openVolFile(t, base)
	f, err := v.Lookup(ntfstest.CrowdStrikeDir + "/attrlist.sys")
	if err != nil {
		t.Fatal(err)
	}
	if f.AttrList == nil || len(f.Extensions) == 0 {
		t.Fatalf("ntfs-3g made no attribute list (%d extension records)", len(f.Extensions))
	}
	target := ntfstest.CrowdStrikeDir + "/attrlist.sys"
	ours, ref := ntfstest.CopyFile(t, base), ntfstest.CopyFile(t, base)
	plan := deleteWithUs(t, ours, target, DeleteOptions{})
	if !planSays(plan, "extension record of") {
		t.Fatalf("plan frees no extension record:\n%s", plan)
	}
	ntfstest.RequireCheckClean(t, ours, false, "after our delete")
	ntfstest.NTFS3gRemove(t, ref, target)
	if a, b := ntfstest.Semdump(t, ours), ntfstest.Semdump(t, ref); a != b {
		t.Fatalf("ntfs-semdump differs (- ntfs-3g, + ours):\n%s", ntfstest.DiffLines(b, a))
	}
	for k := 1; k < len(plan.Writes); k++ {
		img := ntfstest.CopyFile(t, base)
		_, f := openVolFile(t, img)
		if err := Apply(f, plan, ApplyOptions{StopAfter: k, NoSync: true}); err != ErrStopped {
			t.Fatalf("k=%d: %v", k, err)
		}
		if bad := nonLeaks(ntfstest.NTFSCheck(t, img, false)); len(bad) > 0 {
			t.Fatalf("cut after write %d (%s): %v", k, plan.Writes[k-1].What, bad)
		}
	}
}
