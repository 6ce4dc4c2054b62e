package ntfstest

// Test harness for the write side: corpus volumes, and the independent
// witnesses a delete is checked against (none of them is our code):
//   - ../shared/corpus/tools/ntfs-check   cross-structure consistency checker
//   - ../shared/corpus/tools/ntfs-semdump layout-independent semantic dump
//   - ntfs-3g (FUSE): mount, stat every name incl. DOS names, its own rm
//   - ../shared/corpus/verify             whole-disk check against the manifest
// Tests that need root, FUSE or ntfs-3g skip without them, and fail under
// CI=true (CI must run them).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/unbrick/unbrick/internal/testcorpus"
)

// CorpusDisk is a decompressed corpus disk with the OS volume's position.
type CorpusDisk struct {
	Variant  string
	Path     string // whole-disk image (writable temp copy)
	VolOff   int64
	VolSize  int64
	Manifest map[string]any
}

// ManifestVariant returns the corpus manifest's entry for variant.
func ManifestVariant(t testing.TB, variant string) map[string]any {
	t.Helper()
	m := testcorpus.LoadManifest(t)
	for _, v := range m.Variants {
		if v["name"] == variant {
			return v
		}
	}
	t.Fatalf("variant %s not in the corpus manifest", variant)
	return nil
}

// LoadCorpusDisk decompresses a corpus disk and finds its OS volume.
func LoadCorpusDisk(t testing.TB, variant string) *CorpusDisk {
	t.Helper()
	v := ManifestVariant(t, variant)
	osv, _ := v["os_volume"].(map[string]any)
	if osv == nil {
		t.Fatalf("variant %s: no os_volume in manifest", variant)
	}
	off, _ := osv["offset_bytes"].(float64)
	size, _ := osv["size_bytes"].(float64)
	return &CorpusDisk{Variant: variant, Path: testcorpus.Disk(t, variant), VolOff: int64(off), VolSize: int64(size), Manifest: v}
}

// Encrypted reports whether the OS volume is BitLocker-encrypted.
func (d *CorpusDisk) Encrypted() bool {
	osv, _ := d.Manifest["os_volume"].(map[string]any)
	return osv["encryption"] != "none"
}

// ExtractVolume copies the OS volume of a plain disk into its own image
// file (sparse) and returns its path.
func (d *CorpusDisk) ExtractVolume(t testing.TB) string {
	t.Helper()
	if d.Encrypted() {
		t.Fatalf("%s: OS volume is BitLocker-encrypted; extract through bitlocker.Volume", d.Variant)
	}
	dst := filepath.Join(t.TempDir(), d.Variant+"-os.img")
	if err := CopyRange(d.Path, d.VolOff, d.VolSize, dst); err != nil {
		t.Fatal(err)
	}
	return dst
}

// PutVolume writes a volume image back into the disk at the OS volume.
func (d *CorpusDisk) PutVolume(t testing.TB, vol string) {
	t.Helper()
	src, err := os.ReadFile(vol)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(src)) != d.VolSize {
		t.Fatalf("volume image is %d bytes, OS volume %d", len(src), d.VolSize)
	}
	f, err := os.OpenFile(d.Path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(src, d.VolOff); err != nil {
		t.Fatal(err)
	}
}

// CopyRange copies size bytes of src from offset off into a new file dst
// (sparse: zero blocks are skipped).
func CopyRange(src string, off, size int64, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	zero := make([]byte, 4096)
	for pos := int64(0); pos < size; {
		n := int64(len(buf))
		if size-pos < n {
			n = size - pos
		}
		if _, err := in.ReadAt(buf[:n], off+pos); err != nil && !errors.Is(err, io.EOF) {
			out.Close()
			return err
		}
		for i := int64(0); i < n; i += 4096 {
			e := min(i+4096, n)
			if !bytes.Equal(buf[i:e], zero[:e-i]) {
				if _, err := out.WriteAt(buf[i:e], pos+i); err != nil {
					out.Close()
					return err
				}
			}
		}
		pos += n
	}
	if err := out.Truncate(size); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// CopyFile copies src into the test's temporary directory and returns the
// copy's path.
func CopyFile(t testing.TB, src string) string {
	t.Helper()
	st, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	if err := CopyRange(src, 0, st.Size(), dst); err != nil {
		t.Fatal(err)
	}
	return dst
}

// FileRW opens an image for reading and writing.
func FileRW(t testing.TB, path string) *os.File {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// RequireTool skips (or fails under CI) when an external program is absent.
func RequireTool(t testing.TB, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			SkipOrFail(t, "%s not installed", n)
		}
	}
}

// SkipOrFail skips the test, or fails it when CI is set (CI must run it).
func SkipOrFail(t testing.TB, format string, a ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("CI: "+format, a...)
	}
	t.Skipf(format, a...)
}

// RequireFUSE skips unless ntfs-3g can mount here (root, /dev/fuse).
func RequireFUSE(t testing.TB) {
	t.Helper()
	RequireTool(t, "ntfs-3g", "fusermount")
	if os.Geteuid() != 0 {
		SkipOrFail(t, "ntfs-3g mounts need root")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		SkipOrFail(t, "/dev/fuse missing")
	}
}

// RunTool runs an external program with a timeout and returns its
// combined output.
func RunTool(t testing.TB, timeout time.Duration, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		return out.String(), fmt.Errorf("%s timed out after %v", name, timeout)
	}
	return out.String(), err
}

// NTFSCheck runs the corpus's independent cross-structure checker on a
// volume image and returns its problem lines (nil = clean).
func NTFSCheck(t testing.TB, vol string, allowDirty bool) []string {
	t.Helper()
	RequireTool(t, "python3")
	args := []string{testcorpus.Path(t, "tools/ntfs-check.py")}
	if allowDirty {
		args = append(args, "--allow-dirty")
	}
	out, err := RunTool(t, 2*time.Minute, "python3", append(args, vol)...)
	var probs []string
	for _, l := range strings.Split(out, "\n") {
		if l == "" || strings.HasPrefix(l, "note:") || strings.HasSuffix(l, "problem(s)") {
			continue
		}
		probs = append(probs, l)
	}
	if err != nil && len(probs) == 0 {
		t.Fatalf("ntfs-check failed without problem lines: %v\n%s", err, out)
	}
	if err == nil && len(probs) > 0 {
		t.Fatalf("ntfs-check exit 0 but printed: %s", out)
	}
	return probs
}

// RequireCheckClean fails the test when ntfs-check finds a problem on vol
// (when says at which step).
func RequireCheckClean(t testing.TB, vol string, allowDirty bool, when string) {
	t.Helper()
	if p := NTFSCheck(t, vol, allowDirty); len(p) > 0 {
		t.Fatalf("ntfs-check %s: %d problem(s):\n%s", when, len(p), strings.Join(p, "\n"))
	}
}

// Semdump runs ntfs-semdump on a volume image.
func Semdump(t testing.TB, vol string) string {
	t.Helper()
	RequireTool(t, "python3")
	out, err := RunTool(t, 2*time.Minute, "python3", testcorpus.Path(t, "tools/ntfs-semdump.py"), vol)
	if err != nil {
		t.Fatalf("ntfs-semdump: %v\n%s", err, out)
	}
	return out
}

// DiffLines returns a short unified-ish diff of two texts.
func DiffLines(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	inB := map[string]int{}
	for _, l := range bl {
		inB[l]++
	}
	inA := map[string]int{}
	for _, l := range al {
		inA[l]++
	}
	var out []string
	for _, l := range al {
		if inB[l] == 0 {
			out = append(out, "- "+l)
		}
	}
	for _, l := range bl {
		if inA[l] == 0 {
			out = append(out, "+ "+l)
		}
	}
	if len(out) > 40 {
		out = append(out[:40], "...")
	}
	return strings.Join(out, "\n")
}

// NTFS3gMount mounts a volume image with ntfs-3g in the foreground
// (no_detach) and returns the mount point and a function that unmounts it,
// waits for ntfs-3g to exit (so that everything reached the image) and
// returns ntfs-3g's log.
func NTFS3gMount(t testing.TB, vol string, opts string) (string, func() string) {
	t.Helper()
	RequireFUSE(t)
	mnt := t.TempDir()
	o := "no_detach"
	if opts != "" {
		o += "," + opts
	}
	cmd := exec.Command("ntfs-3g", "-o", o, vol, mnt)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.Now().Add(20 * time.Second)
	for !IsMountPoint(mnt) {
		select {
		case err := <-done:
			t.Fatalf("ntfs-3g -o %s exited before mounting: %v\n%s", o, err, log.String())
		default:
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("ntfs-3g did not mount within 20s\n%s", log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	unmounted := false
	umount := func() string {
		if unmounted {
			return log.String()
		}
		unmounted = true
		for i := 0; i < 100; i++ {
			if err := exec.Command("fusermount", "-u", mnt).Run(); err == nil || !IsMountPoint(mnt) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Errorf("ntfs-3g did not exit after unmount")
		}
		return log.String()
	}
	t.Cleanup(func() { umount() })
	return mnt, umount
}

// NTFS3gBadLog lists the ntfs-3g log lines that reveal on-disk damage.
var NTFS3gBadLog = []string{"Incomplete multi-sector", "Corrupt", "corrupt", "wrong SeqNo", "does not match", "Empty index block",
	"Input/output error", "Failed to", "inconsistent"}

// CheckNTFS3gLog fails the test when ntfs-3g's log (of step when) has a
// line NTFS3gBadLog lists.
func CheckNTFS3gLog(t testing.TB, log, when string) {
	t.Helper()
	for _, bad := range NTFS3gBadLog {
		if strings.Contains(log, bad) {
			t.Fatalf("ntfs-3g %s logged %q:\n%s", when, bad, log)
		}
	}
}

// NTFS3gStatAll mounts read-only and stats every name of the tree, DOS
// names included (read through the system.ntfs_dos_name attribute), reads
// the files of dir (a path inside the volume, may be "") and returns their
// SHA-like content map. Any error fails the test.
func NTFS3gStatAll(t testing.TB, vol string, dir string) map[string][]byte {
	t.Helper()
	c, ghosts := NTFS3gStatAllGhosts(t, vol, dir, false)
	if len(ghosts) > 0 {
		t.Fatalf("ntfs-3g lists names it cannot find: %v", ghosts)
	}
	return c
}

// NTFS3gStatAllGhosts is ntfs3gStatAll that, with allowGhosts, collects
// (instead of failing on) names the directory listing returns but a lookup
// does not find (ENOENT): ntfs-3g lists a directory by scanning every index
// block its $I30 $BITMAP marks in use, so a leaked block shows its stale
// names. Any other error still fails.
func NTFS3gStatAllGhosts(t testing.TB, vol string, dir string, allowGhosts bool) (map[string][]byte, []string) {
	t.Helper()
	var ghosts []string
	mnt, umount := NTFS3gMount(t, vol, "ro")
	contents := map[string][]byte{}
	var errs []string
	n := 0
	err := filepath.WalkDir(mnt, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if allowGhosts && errors.Is(err, fs.ErrNotExist) {
				ghosts = append(ghosts, p)
				return nil
			}
			errs = append(errs, err.Error())
			return nil
		}
		n++
		if _, err := os.Lstat(p); err != nil {
			if allowGhosts && errors.Is(err, fs.ErrNotExist) {
				ghosts = append(ghosts, p)
				return nil
			}
			errs = append(errs, err.Error())
		}
		if p == mnt {
			return nil
		}
		buf := make([]byte, 64)
		if k, err := Getxattr(p, "system.ntfs_dos_name", buf); err == nil && k > 0 {
			dos := filepath.Join(filepath.Dir(p), string(buf[:k]))
			if _, err := os.Lstat(dos); err != nil {
				errs = append(errs, "DOS name: "+err.Error())
			}
		}
		rel, _ := filepath.Rel(mnt, p)
		if dir != "" && !d.IsDir() && filepath.Dir(filepath.ToSlash(rel)) == dir {
			b, err := os.ReadFile(p)
			if err != nil {
				errs = append(errs, err.Error())
			}
			contents[rel] = b
		}
		return nil
	})
	log := umount()
	if err != nil {
		errs = append(errs, err.Error())
	}
	if len(errs) > 0 {
		t.Fatalf("ntfs-3g stat-everything: %d error(s), first: %s\n%s", len(errs), errs[0], log)
	}
	CheckNTFS3gLog(t, log, "read-only mount")
	if n < 2 {
		t.Fatalf("ntfs-3g mount shows only %d entries", n)
	}
	return contents, ghosts
}

// NTFS3gRemove deletes paths (relative, '/'-separated) with ntfs-3g itself:
// the reference implementation for differential tests.
func NTFS3gRemove(t testing.TB, vol string, paths ...string) {
	t.Helper()
	mnt, umount := NTFS3gMount(t, vol, "")
	for _, p := range paths {
		if err := os.Remove(filepath.Join(mnt, filepath.FromSlash(p))); err != nil {
			umount()
			t.Fatalf("ntfs-3g rm %s: %v", p, err)
		}
	}
	log := umount()
	CheckNTFS3gLog(t, log, "rm")
}

// VerifyDisk runs ../shared/corpus/verify on a whole disk image.
func VerifyDisk(t testing.TB, disk, variant, expect string, extra ...string) string {
	t.Helper()
	RequireFUSE(t)
	RequireTool(t, "bash", "mmls", "fls", "ntfsfix")
	args := append([]string{testcorpus.Path(t, "verify"), disk, variant, "--expect", expect}, extra...)
	out, err := RunTool(t, 5*time.Minute, "bash", args...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	last := lines[len(lines)-1]
	if err != nil || !strings.HasPrefix(last, "verify: PASS") {
		t.Fatalf("verify %s --expect %s: %v\n%s", variant, expect, err, out)
	}
	return last
}

// sha-free equality of two files' bytes, for "nothing was written" checks.
func SameFile(t testing.TB, a, b string) bool {
	t.Helper()
	x, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Equal(x, y)
}

// CrowdStrikeDir is where the corpus disks keep the faulty channel files.
const CrowdStrikeDir = "Windows/System32/drivers/CrowdStrike"

// FaultyFiles returns the names expected_after_fix.gone lists.
func FaultyFiles(t testing.TB, d *CorpusDisk) []string {
	t.Helper()
	exp, _ := d.Manifest["expected_after_fix"].(map[string]any)
	var out []string
	for _, g := range exp["gone"].([]any) {
		out = append(out, g.(string))
	}
	return out
}
