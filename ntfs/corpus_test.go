package ntfs

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/unbrick/unbrick/internal/testcorpus"
	"github.com/unbrick/unbrick/ntfs/internal/ntfstest"
)

// corpusVariants returns the names of the manifest's variants whose OS
// volume is plain NTFS (encrypted false) or BitLocker (encrypted true). The
// public corpus has 3 plain and 6 BitLocker disks; a corpus rebuilt with
// extra variants ($UNBRICK_CORPUS) is covered too.
func corpusVariants(t testing.TB, m *testcorpus.Manifest, encrypted bool) []string {
	var out []string
	for _, v := range m.Variants {
		ov, _ := v["os_volume"].(map[string]any)
		if ov == nil {
			continue
		}
		if (ov["encryption"] != "none") == encrypted {
			out = append(out, v["name"].(string))
		}
	}
	if len(out) == 0 {
		t.Fatalf("manifest lists no variant with encrypted=%v", encrypted)
	}
	return out
}

// corpusVolume is an OS volume of a corpus disk, extracted to a file of its
// own (so that ntfs-3g's tools, which want a volume, can read it too).
type corpusVolume struct {
	variant map[string]any
	path    string // the volume alone
	file    *os.File
	vol     *Volume
}

// extractVolume copies [off, off+size) of the disk at src into a sparse file.
func extractVolume(t testing.TB, src string, off, size int64) string {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	dst := filepath.Join(t.TempDir(), "volume.ntfs")
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	buf := make([]byte, 1<<20)
	for pos := int64(0); pos < size; pos += int64(len(buf)) {
		n := min(int64(len(buf)), size-pos)
		if _, err := in.ReadAt(buf[:n], off+pos); err != nil && err != io.EOF {
			t.Fatal(err)
		}
		zero := true
		for _, c := range buf[:n] {
			if c != 0 {
				zero = false
				break
			}
		}
		if !zero {
			if _, err := out.WriteAt(buf[:n], pos); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := out.Truncate(size); err != nil {
		t.Fatal(err)
	}
	return dst
}

func openPlainCorpus(t testing.TB, name string) *corpusVolume {
	t.Helper()
	m := testcorpus.LoadManifest(t)
	v := m.Variant(t, name)
	disk := testcorpus.Disk(t, name)
	off, size := ntfstest.OSVolumeGeometry(t, v)
	cv := &corpusVolume{variant: v, path: extractVolume(t, disk, off, size)}
	f, err := os.Open(cv.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	cv.file = f
	cv.vol, err = Open(f, size)
	if err != nil {
		t.Fatalf("%s: Open: %v", name, err)
	}
	return cv
}

// ntfslsNames lists a directory with ntfs-3g's ntfsls (system files too,
// long names; with dos, DOS names where a file has one).
func ntfslsNames(t *testing.T, volume, dir string, dos bool) []string {
	t.Helper()
	args := []string{"-f", "-s", "-a", "-p", dir, volume}
	if dos {
		args = []string{"-f", "-a", "-x", "-p", dir, volume}
	}
	cmd := exec.Command(ntfstest.NeedTool(t, "ntfsls"), args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ntfsls %v: %v\n%s", args, err, stderr.String())
	}
	var names []string
	for _, l := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if l != "." && l != ".." && l != "" && !(dos && strings.HasPrefix(l, "$")) {
			names = append(names, l)
		}
	}
	return names
}

func crowdstrikeFiles(t *testing.T, v map[string]any) (dir string, files []map[string]any) {
	t.Helper()
	cs := v["crowdstrike"].(map[string]any)
	for _, f := range cs["files"].([]any) {
		files = append(files, f.(map[string]any))
	}
	return cs["dir"].(string), files
}

// treesToCompare are the directories the manifest names.
func treesToCompare(t *testing.T, v map[string]any) []string {
	dir, _ := crowdstrikeFiles(t, v)
	return []string{"/", "Windows", "Windows/System32", "Windows/System32/drivers", dir, "Windows/System32/config", "Users/Public/Documents", "Program Files/CrowdStrike"}
}

// checkVolumeAgainstWitnesses runs the listing, content, time and 8.3
// checks of one corpus OS volume.
func checkVolumeAgainstWitnesses(t *testing.T, cv *corpusVolume) {
	v := cv.vol
	for _, dir := range treesToCompare(t, cv.variant) {
		ents, err := v.ReadDir(dir)
		if err != nil {
			t.Fatalf("ReadDir(%q): %v", dir, err)
		}
		var long []string
		shortOf := map[FileRef]string{}
		for _, e := range ents {
			if e.IsDOS() {
				shortOf[e.Ref] = e.Name
			} else {
				long = append(long, e.Name)
			}
		}
		// ntfsls lists in storage order (root node, then blocks by
		// position); ours is collation order: compare as sets.
		want := ntfslsNames(t, cv.path, "/"+dir, false)
		sort.Strings(want)
		long = sortedCopy(long)
		if strings.Join(long, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: ReadDir(%q): %d names, ntfsls %d; first difference: %s", cv.variant["name"], dir, len(long), len(want), firstDiff(long, want))
		}
		// ntfsls -x prints the DOS name of files that have one.
		var withDOS []string
		for _, e := range ents {
			if e.IsDOS() {
				continue
			}
			if strings.HasPrefix(e.Name, "$") {
				continue
			}
			if s, ok := shortOf[e.Ref]; ok {
				withDOS = append(withDOS, s)
			} else {
				withDOS = append(withDOS, e.Name)
			}
		}
		wantDOS := ntfslsNames(t, cv.path, "/"+dir, true)
		sort.Strings(withDOS)
		sort.Strings(wantDOS)
		if strings.Join(withDOS, "\n") != strings.Join(wantDOS, "\n") {
			t.Errorf("%s: DOS names of %q differ from ntfsls -x: %s", cv.variant["name"], dir, firstDiff(withDOS, wantDOS))
		}
	}
	csDir, files := crowdstrikeFiles(t, cv.variant)
	for _, mf := range files {
		name := mf["name"].(string)
		p := csDir + "/" + name
		r, err := v.Open(p)
		if err != nil {
			t.Errorf("Open(%q): %v", p, err)
			continue
		}
		h := sha256.New()
		if _, err := io.Copy(h, r); err != nil {
			t.Errorf("read %q: %v", p, err)
			continue
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != mf["sha256"] {
			t.Errorf("%q: sha256 %s, manifest %s", p, got, mf["sha256"])
		}
		fi, err := v.Stat(strings.ReplaceAll(strings.ToUpper(p), "/", `\`))
		if err != nil {
			t.Errorf("Stat(upper-case, backslashes %q): %v", p, err)
			continue
		}
		if fi.Size != int64(mf["size"].(float64)) {
			t.Errorf("%q: size %d, manifest %v", p, fi.Size, mf["size"])
		}
		if got, want := fi.SI.Modified, uint64(mf["mtime_ntfs"].(float64)); got != want {
			t.Errorf("%q: SI mtime %d, manifest %d", p, got, want)
		}
		if got := fi.ModTime().UTC().Format("2006-01-02T15:04:05Z"); got != mf["mtime_utc"] {
			t.Errorf("%q: mtime %s, manifest %s", p, got, mf["mtime_utc"])
		}
		if got := fi.Ref.Record(); got != uint64(mf["mft_record"].(float64)) {
			t.Errorf("%q: MFT record %d, manifest %v", p, got, mf["mft_record"])
		}
		if dos, ok := mf["dos_name"].(string); ok {
			if fi.ShortName() != dos {
				t.Errorf("%q: short name %q, manifest %q", p, fi.ShortName(), dos)
			}
			byShort, err := v.Stat(csDir + "/" + strings.ToLower(dos))
			if err != nil {
				t.Errorf("Stat by 8.3 name %q: %v", dos, err)
			} else if byShort.Ref != fi.Ref {
				t.Errorf("8.3 name %q leads to %v, long name to %v", dos, byShort.Ref, fi.Ref)
			}
		}
	}
}

// checkIndexPlacement compares where LookupEntry finds the 291 file's
// entries (node, level, position) with the placement build.sh recorded
// from its own walk of the raw index (bigdir variants only).
func checkIndexPlacement(t *testing.T, cv *corpusVolume) {
	cs := cv.variant["crowdstrike"].(map[string]any)
	pl, ok := cs["index_placement"].(map[string]any)
	if !ok {
		return
	}
	for _, ea := range pl["entries_291"].([]any) {
		e := ea.(map[string]any)
		_, hit, err := cv.vol.LookupEntry(pl["dir"].(string) + "/" + e["name"].(string))
		if err != nil {
			t.Errorf("LookupEntry(%v): %v", e["name"], err)
			continue
		}
		node := "$INDEX_ROOT"
		if hit.Node.VCN >= 0 {
			node = "INDX block VCN " + strconv.FormatInt(hit.Node.VCN, 10)
		}
		pos, named := 0, 0
		for i := range hit.Node.Entries {
			if hit.Node.Entries[i].IsEnd() {
				continue
			}
			named++
			if &hit.Node.Entries[i] == hit.Entry {
				pos = named
			}
		}
		nodeType := "leaf"
		if hit.Node.HasChildren() {
			nodeType = "internal"
		}
		got := fmt.Sprintf("%s level %d %s %d/%d %s", node, len(hit.Path)-1, nodeType, pos, named, hit.Entry.FileName.Namespace)
		want := fmt.Sprintf("%s level %v %s %v/%v %s", e["node"], e["level"], e["node_type"], e["position_in_node"], e["entries_in_node"], map[string]string{"WIN32": "Win32", "DOS": "DOS", "POSIX": "POSIX", "WIN32_AND_DOS": "Win32+DOS"}[e["namespace"].(string)])
		if got != want {
			t.Errorf("%v: found at %s; build.sh says %s", e["name"], got, want)
		} else {
			t.Logf("%v: found by descent at %s, as build.sh recorded", e["name"], got)
		}
	}
}

func firstDiff(a, b []string) string {
	for i := 0; i < len(a) || i < len(b); i++ {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			return "#" + strconv.Itoa(i) + ": ours " + strconv.Quote(x) + ", theirs " + strconv.Quote(y)
		}
	}
	return "none"
}

func TestCorpusPlainVolumes(t *testing.T) {
	for _, name := range corpusVariants(t, testcorpus.LoadManifest(t), false) {
		t.Run(name, func(t *testing.T) {
			cv := openPlainCorpus(t, name)
			checkVolumeAgainstWitnesses(t, cv)
			checkIndexPlacement(t, cv)
			ov := cv.variant["os_volume"].(map[string]any)["ntfs"].(map[string]any)
			info := cv.vol.Info()
			if info.Label != ov["label"] {
				t.Errorf("label %q, manifest %q", info.Label, ov["label"])
			}
			if info.Dirty() != ov["dirty"].(bool) {
				t.Errorf("dirty %v, manifest %v", info.Dirty(), ov["dirty"])
			}
			if info.Major != 3 || info.Minor != 1 {
				t.Errorf("version %d.%d, want 3.1", info.Major, info.Minor)
			}
		})
	}
}
