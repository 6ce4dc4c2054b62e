package edit

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/unbrick/unbrick/ntfs"
	"github.com/unbrick/unbrick/ntfs/internal/ntfstest"
)

// benchVolume formats a sparse file of size bytes with mkntfs -Q and, through
// ntfs-3g, creates the same tree on it: a CrowdStrike-like directory with
// 300 files (a 3-block index) and the 40 KiB target.
func benchVolume(b *testing.B, size int64) string {
	b.Helper()
	ntfstest.RequireTool(b, "mkntfs")
	ntfstest.RequireFUSE(b)
	vol := filepath.Join(b.TempDir(), fmt.Sprintf("bench-%d.img", size))
	f, err := os.Create(vol)
	if err != nil {
		b.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		b.Fatal(err)
	}
	f.Close()
	if out, err := exec.Command("mkntfs", "-F", "-Q", "-L", "bench", vol).CombinedOutput(); err != nil {
		b.Fatalf("mkntfs: %v\n%s", err, out)
	}
	mnt, umount := ntfstest.NTFS3gMount(b, vol, "")
	dir := filepath.Join(mnt, "Windows", "System32", "drivers", "CrowdStrike")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 300; i++ {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("C-%08d-00000000-00000001.sys", i)), make([]byte, 2000), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	data := make([]byte, 40960)
	for i := range data {
		data[i] = byte(i * 7)
	}
	if err := os.WriteFile(filepath.Join(dir, "C-00000291-00000000-00000032.sys"), data, 0o644); err != nil {
		b.Fatal(err)
	}
	umount()
	return vol
}

// inverse returns the plan that undoes p (writes reversed, before and
// after swapped).
func inverse(p *Plan) *Plan {
	q := &Plan{SectorSize: p.SectorSize}
	for i := len(p.Writes) - 1; i >= 0; i-- {
		w := p.Writes[i]
		q.Writes = append(q.Writes, Write{Offset: w.Offset, Before: w.After, After: w.Before, What: "undo " + w.What})
	}
	return q
}

// BenchmarkDeleteVolumeSize measures open + plan + apply of the delete on
// the same tree on a 64 MiB and on a 1 TiB (sparse) volume. The cost must
// not grow with the volume (target: 1 TiB / 64 MiB <= 1.2).
func BenchmarkDeleteVolumeSize(b *testing.B) {
	for _, size := range []int64{64 << 20, 1 << 40} {
		b.Run(fmt.Sprintf("%dMiB", size>>20), func(b *testing.B) {
			vol := benchVolume(b, size)
			f, err := os.OpenFile(vol, os.O_RDWR, 0)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			const target = "Windows/System32/drivers/CrowdStrike/C-00000291-00000000-00000032.sys"
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				v, err := ntfs.Open(f, size)
				if err != nil {
					b.Fatal(err)
				}
				plan, err := PlanDelete(v, target, DeleteOptions{Now: fixedNow})
				if err != nil {
					b.Fatal(err)
				}
				if err := Apply(f, plan, ApplyOptions{NoSync: true}); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := Apply(f, inverse(plan), ApplyOptions{NoSync: true}); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}
