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

// makeGeometryVolume formats a 64 MiB sparse file with mkntfs (extra
// options select sector and cluster size) and lets ntfs-3g create a
// directory "d" with n files, every 4th with an 8.3 name.
func makeGeometryVolume(t *testing.T, n int, mkfsArgs ...string) string {
	t.Helper()
	ntfstest.RequireTool(t, "mkntfs")
	ntfstest.RequireFUSE(t)
	vol := filepath.Join(t.TempDir(), "geo.img")
	f, err := os.Create(vol)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(64 << 20)
	f.Close()
	args := append([]string{"-F", "-Q", "-L", "geo"}, mkfsArgs...)
	if out, err := exec.Command("mkntfs", append(args, vol)...).CombinedOutput(); err != nil {
		t.Fatalf("mkntfs %v: %v\n%s", mkfsArgs, err, out)
	}
	mnt, umount := ntfstest.NTFS3gMount(t, vol, "")
	dir := filepath.Join(mnt, "d")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		p := filepath.Join(dir, fmt.Sprintf("file-with-a-long-name-%04d.data", i))
		if err := os.WriteFile(p, make([]byte, 700*(i%7)), 0o644); err != nil {
			t.Fatal(err)
		}
		if i%4 == 0 {
			if err := ntfstest.Setxattr(p, "system.ntfs_dos_name", []byte(fmt.Sprintf("F%06d.DAT", i))); err != nil {
				umount()
				t.Fatalf("set DOS name: %v", err)
			}
		}
	}
	// A fragmented file (several runs, several $Bitmap ranges to free):
	// holes are made by filling the volume and deleting every other file,
	// then the file must be built from the holes.
	for i := 0; i < 30; i++ {
		os.WriteFile(filepath.Join(mnt, fmt.Sprintf("hole-%02d.bin", i)), make([]byte, 65536), 0o644)
	}
	if fill, err := os.Create(filepath.Join(mnt, "filler.bin")); err == nil {
		buf := make([]byte, 1<<20)
		for {
			if _, err := fill.Write(buf); err != nil {
				break
			}
		}
		fill.Close()
	}
	for i := 0; i < 30; i += 2 {
		os.Remove(filepath.Join(mnt, fmt.Sprintf("hole-%02d.bin", i)))
	}
	if err := os.WriteFile(filepath.Join(dir, "fragmented.bin"), make([]byte, 5*65536), 0o644); err != nil {
		t.Fatalf("write fragmented.bin: %v", err)
	}
	umount()
	ntfstest.RequireCheckClean(t, vol, false, "fresh volume")
	return vol
}

// TestDeleteGeometries repeats the differential test against ntfs-3g on
// volumes with other geometries: 4096-byte sectors (and 4 KiB MFT
// records), 512-byte clusters (index blocks of 8 clusters), 64 KiB
// clusters (index blocks smaller than a cluster: child VCNs count 512-byte
// units). Every write must be aligned to the volume's sector size.
func TestDeleteGeometries(t *testing.T) {
	if testing.Short() {
		t.Skip("mkntfs volumes skipped in -short mode")
	}
	fragmented := 0
	for name, args := range map[string][]string{
		"4096-byte sectors": {"-s", "4096"},
		"512-byte clusters": {"-c", "512"},
		"64 KiB clusters":   {"-c", "65536"},
	} {
		t.Run(name, func(t *testing.T) {
			base := makeGeometryVolume(t, 260, args...)
			v, _ := openVolFile(t, base)
			lay := indexLayout(t, v, "d")
			var internal string
			for _, e := range lay {
				if e.internal && e.ns != ntfs.NamespaceDOS && !e.dir {
					internal = e.name
					break
				}
			}
			paths := []string{"d/file-with-a-long-name-0000.data", "d/F000008.DAT", "d/file-with-a-long-name-0259.data", "d/fragmented.bin"}
			if f, err := v.Lookup("d/fragmented.bin"); err != nil {
				t.Fatal(err)
			} else if runs := len(f.FindAttr(ntfs.AttrData, "").Runs); runs >= 2 {
				fragmented++
			} else {
				t.Logf("ntfs-3g allocated fragmented.bin in %d run(s) on this geometry", runs)
			}
			if internal != "" {
				paths = append(paths, "d/"+internal)
			}
			paths = append(paths, smallestLeafFiles(t, v, "d", lay)...)
			seen := map[string]bool{}
			var uniq []string
			for _, p := range paths {
				fi, err := v.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				if !seen[fi.Name()] {
					seen[fi.Name()] = true
					uniq = append(uniq, "d/"+fi.Name())
				}
			}
			ours, ref := ntfstest.CopyFile(t, base), ntfstest.CopyFile(t, base)
			ss := int64(v.Boot().BytesPerSector)
			for _, p := range uniq {
				plan := deleteWithUs(t, ours, p, DeleteOptions{})
				for _, w := range plan.Writes {
					if w.Offset%ss != 0 || int64(len(w.After))%ss != 0 {
						t.Fatalf("%s: write %q at %#x+%d not aligned to %d-byte sectors", p, w.What, w.Offset, len(w.After), ss)
					}
				}
				ntfstest.RequireCheckClean(t, ours, false, "after deleting "+p)
			}
			ntfstest.NTFS3gRemove(t, ref, uniq...)
			if a, b := ntfstest.Semdump(t, ours), ntfstest.Semdump(t, ref); a != b {
				t.Fatalf("ntfs-semdump differs (- ntfs-3g, + ours):\n%s", ntfstest.DiffLines(b, a))
			}
			ntfstest.NTFS3gStatAll(t, ours, "d")
		})
	}
	if fragmented == 0 && !t.Failed() {
		t.Fatal("no geometry produced a fragmented file: the multi-run $Bitmap free is untested")
	}
}
