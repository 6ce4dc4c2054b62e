package edit

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/unbrick/unbrick/ntfs"
	"github.com/unbrick/unbrick/ntfs/internal/ntfstest"
)

// $MFTMirr on volumes with large clusters: the mirror holds a cluster's
// worth of records when mkntfs made it, 4 when Windows did; Windows keeps
// only records 0-3 in step.

// makeClusterVolume formats a sparse file of size bytes with mkntfs -c cs
// and lets ntfs-3g create a file in the root directory (so that a delete
// rewrites record 5, which ntfs-3g compares with its mirror copy when the
// mirror holds it), one with an 8.3 name in "d" and a 3 MiB file.
func makeClusterVolume(t *testing.T, cs int, size int64) string {
	t.Helper()
	ntfstest.RequireTool(t, "mkntfs")
	ntfstest.RequireFUSE(t)
	vol := filepath.Join(t.TempDir(), fmt.Sprintf("c%d.img", cs))
	f, err := os.Create(vol)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(size)
	f.Close()
	if out, err := exec.Command("mkntfs", "-F", "-Q", "-L", "clusters", "-c", fmt.Sprint(cs), vol).CombinedOutput(); err != nil {
		t.Fatalf("mkntfs -c %d: %v\n%s", cs, err, out)
	}
	mnt, umount := ntfstest.NTFS3gMount(t, vol, "")
	must := func(err error) {
		t.Helper()
		if err != nil {
			umount()
			t.Fatal(err)
		}
	}
	must(os.Mkdir(filepath.Join(mnt, "d"), 0o755))
	must(os.WriteFile(filepath.Join(mnt, "root.bin"), []byte("in the root directory\n"), 0o644))
	must(os.WriteFile(filepath.Join(mnt, "d", "a-long-file-name.data"), make([]byte, 5000), 0o644))
	must(ntfstest.Setxattr(filepath.Join(mnt, "d", "a-long-file-name.data"), "system.ntfs_dos_name", []byte("ALONGF~1.DAT")))
	must(os.WriteFile(filepath.Join(mnt, "d", "big.bin"), make([]byte, 3<<20), 0o644))
	must(os.WriteFile(filepath.Join(mnt, "d", "stays.txt"), []byte("neighbour\n"), 0o644))
	ntfstest.CheckNTFS3gLog(t, umount(), "making the volume")
	return vol
}

// TestDeleteClusterSizes deletes files on mkntfs volumes with clusters
// from 4 KiB to 2 MiB (mkntfs gives $MFTMirr one cluster, so it holds
// from 4 to 2048 records). Every delete must be allowed, ntfs-check must
// pass, ntfs-semdump must equal ntfs-3g's own delete, and ntfs-3g (which
// compares up to 16 mirrored records when it mounts) must mount the result
// and read everything: the plan keeps every record the mirror holds in
// step, record 5 included.
func TestDeleteClusterSizes(t *testing.T) {
	if testing.Short() {
		t.Skip("mkntfs volumes skipped in -short mode")
	}
	sizes := []int{4096, 2 << 20} // UNBRICK_TORTURE=long (scripts/ci-ntfs-torture.sh): every size
	if os.Getenv("UNBRICK_TORTURE") == "long" {
		sizes = []int{4096, 16384, 65536, 262144, 1 << 20, 2 << 20}
	}
	for _, cs := range sizes {
		t.Run(fmt.Sprintf("%dK", cs>>10), func(t *testing.T) {
			base := makeClusterVolume(t, cs, 512<<20)
			v, _ := openVolFile(t, base)
			rs := v.Boot().RecordSize
			if want := max(4, cs/rs); v.MirrorRecords() != want {
				t.Fatalf("$MFTMirr holds %d records, want %d (mkntfs: one cluster)", v.MirrorRecords(), want)
			}
			paths := []string{"root.bin", "d/ALONGF~1.DAT", "d/big.bin"}
			ours, ref := ntfstest.CopyFile(t, base), ntfstest.CopyFile(t, base)
			mirror5 := false
			for _, p := range paths {
				plan := deleteWithUs(t, ours, p, DeleteOptions{})
				mirror5 = mirror5 || planSaysAll(plan, "MFT record 5", "$MFTMirr copy")
			}
			if mirror5 != (v.MirrorRecords() > 5) {
				t.Fatalf("record 5's mirror copy written: %v, but the mirror holds %d records", mirror5, v.MirrorRecords())
			}
			ntfstest.RequireCheckClean(t, ours, false, "after our deletes")
			ntfstest.NTFS3gRemove(t, ref, "root.bin", "d/a-long-file-name.data", "d/big.bin")
			if a, b := ntfstest.Semdump(t, ours), ntfstest.Semdump(t, ref); a != b {
				t.Fatalf("ntfs-semdump differs (- ntfs-3g, + ours):\n%s", ntfstest.DiffLines(b, a))
			}
			ntfstest.NTFS3gStatAll(t, ours, "d")
		})
	}
}

// flipByte inverts one byte of a file.
func flipByte(t *testing.T, path string, at int64) {
	t.Helper()
	f := ntfstest.FileRW(t, path)
	b := []byte{0}
	if _, err := f.ReadAt(b, at); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xFF
	if _, err := f.WriteAt(b, at); err != nil {
		t.Fatal(err)
	}
}

// TestDeleteMirrorStalePastRecord3: on a volume whose mirror holds 64
// records (64 KiB clusters), a stale copy of record 5 does not stop a
// delete (Windows keeps only records 0-3 in step), a stale copy of record 2
// does, writing nothing. ntfs-3g, which compares 16 records, is the
// witness that the copy really is stale, and that deleting a file of the
// root directory (record 5 rewritten, mirror copy included) puts it back
// in step.
func TestDeleteMirrorStalePastRecord3(t *testing.T) {
	if testing.Short() {
		t.Skip("mkntfs volumes skipped in -short mode")
	}
	base := makeClusterVolume(t, 65536, 256<<20)
	v, _ := openVolFile(t, base)
	if v.MirrorRecords() <= 5 {
		t.Fatalf("the mirror holds %d records; the test needs more than 5", v.MirrorRecords())
	}
	rs := int64(v.Boot().RecordSize)
	mir := v.Boot().MFTMirrLCN * int64(v.Boot().ClusterSize)

	t.Run("record 5 stale: allowed", func(t *testing.T) {
		vol := ntfstest.CopyFile(t, base)
		flipByte(t, vol, mir+5*rs+100)
		if ok, log := ntfs3gRWAttempt(t, vol); ok || !strings.Contains(log, "$MFTMirr does not match $MFT (record 5)") {
			t.Fatalf("ntfs-3g does not see record 5's copy as stale:\n%s", log)
		}
		deleteWithUs(t, vol, "d/big.bin", DeleteOptions{})
		ntfstest.RequireCheckClean(t, vol, false, "after the delete")
		deleteWithUs(t, vol, "root.bin", DeleteOptions{})
		ntfstest.RequireCheckClean(t, vol, false, "after deleting from the root directory")
		ntfstest.NTFS3gStatAll(t, vol, "d")
	})
	t.Run("record 2 stale: refused", func(t *testing.T) {
		vol := ntfstest.CopyFile(t, base)
		flipByte(t, vol, mir+2*rs+100)
		snap := ntfstest.CopyFile(t, vol)
		v, _ := openVolFile(t, vol)
		_, err := PlanDelete(v, "d/big.bin", DeleteOptions{})
		if !errors.Is(err, ntfs.ErrRefused) || !strings.Contains(err.Error(), "$MFTMirr does not match $MFT (record 2)") {
			t.Fatalf("err = %v, want a refusal for record 2's mirror copy", err)
		}
		if !ntfstest.SameFile(t, vol, snap) {
			t.Fatal("a refusal wrote to the volume")
		}
	})
}

// TestDeleteMirrorWindowsLayout gives a 2 MiB-cluster volume the mirror
// Windows makes ($MFTMirr's $DATA 4 records long in a 2 MiB cluster) and
// leaves the rest of that cluster stale, records 5 and 24 included (as on
// an untouched Windows-formatted volume). The delete must be allowed, must
// not write the mirror cluster past record 3, and ntfs-3g (which then
// compares only the 4 records the mirror's data holds) must mount the
// result. The old rule (one cluster's worth of records) refused it.
func TestDeleteMirrorWindowsLayout(t *testing.T) {
	if testing.Short() {
		t.Skip("mkntfs volumes skipped in -short mode")
	}
	vol := makeClusterVolume(t, 2<<20, 512<<20)
	{
		v, f := openVolFile(t, vol)
		p := newPlanner(v)
		ri, err := p.rec(ntfs.RecordMFTMirr)
		if err != nil {
			t.Fatal(err)
		}
		off, err := ri.findAttr(ntfs.AttrData, "", -1)
		if err != nil {
			t.Fatal(err)
		}
		size := uint64(4 * v.Boot().RecordSize)
		binary.LittleEndian.PutUint64(ri.buf[off+48:], size) // data size
		binary.LittleEndian.PutUint64(ri.buf[off+56:], size) // initialized size
		if err := p.commitRecordImage(ri, "test: $MFTMirr data is 4 records"); err != nil {
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
	v, _ := openVolFile(t, vol)
	if v.MirrorRecords() != 4 {
		t.Fatalf("the mirror holds %d records, want 4", v.MirrorRecords())
	}
	rs := int64(v.Boot().RecordSize)
	mir := v.Boot().MFTMirrLCN * int64(v.Boot().ClusterSize)
	for _, n := range []int64{5, 24, 30} {
		flipByte(t, vol, mir+n*rs+100)
	}
	ntfstest.RequireCheckClean(t, vol, false, "Windows-like mirror")
	for _, p := range []string{"root.bin", "d/a-long-file-name.data", "d/big.bin"} {
		plan := deleteWithUs(t, vol, p, DeleteOptions{})
		for _, w := range plan.Writes {
			if w.Offset+int64(len(w.After)) > mir+4*rs && w.Offset < mir+int64(v.Boot().ClusterSize) {
				t.Fatalf("%s: write %q at %#x lies in the mirror cluster past record 3", p, w.What, w.Offset)
			}
		}
	}
	ntfstest.RequireCheckClean(t, vol, false, "after the deletes")
	ntfstest.NTFS3gStatAll(t, vol, "d")
}
