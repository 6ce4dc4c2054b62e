package edit

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/unbrick/unbrick/internal/regf"
	"github.com/unbrick/unbrick/ntfs"
	"github.com/unbrick/unbrick/ntfs/internal/ntfstest"
)

const systemHive = "Windows/System32/config/SYSTEM"

// ntfscatFile reads a file of a volume image with ntfs-3g's ntfscat (the
// independent reader).
func ntfscatFile(t *testing.T, vol, path string) []byte {
	t.Helper()
	out, err := exec.Command("ntfscat", "-f", vol, path).Output()
	if err != nil {
		t.Fatalf("ntfscat %s: %v", path, err)
	}
	return out
}

func readAllFile(t *testing.T, v *ntfs.Volume, path string) []byte {
	t.Helper()
	r, err := v.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestOverwriteSystemHiveCorpus disables CSAgent in the plain corpus
// volume's SYSTEM hive through the NTFS write path: internal/regf plans the
// hive bytes, PlanOverwrite maps them through the file's run list, Apply
// writes them. ntfs-3g then reads the hive with exactly those bytes
// changed, hivex reads Start = 4, and the volume checks clean.
func TestOverwriteSystemHiveCorpus(t *testing.T) {
	ntfstest.RequireTool(t, "ntfscat", "hivexget")
	d := ntfstest.LoadCorpusDisk(t, "win10-plain-ntfs")
	vol := d.ExtractVolume(t)
	v, f := openVolFile(t, vol)
	hive := readAllFile(t, v, systemHive)
	if !bytes.Equal(hive, ntfscatFile(t, vol, systemHive)) {
		t.Fatal("our reader and ntfscat disagree on the hive before the change")
	}
	rp, err := regf.PlanDisableService(hive, "CSAgent")
	if err != nil {
		t.Fatal(err)
	}
	var fws []FileWrite
	for _, w := range rp.Writes() {
		fws = append(fws, FileWrite{Offset: w.Offset, Before: w.Before, After: w.After})
	}
	if len(fws) != 1 {
		t.Fatalf("regf plan: %s", rp)
	}
	plan, err := PlanOverwrite(v, systemHive, fws, OverwriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Writes) != 1 || len(plan.Writes[0].After) != plan.SectorSize || plan.Writes[0].ChangedBytes() != 1 {
		t.Fatalf("plan:\n%s", plan)
	}
	if err := Apply(f, plan, ApplyOptions{NoSync: true}); err != nil {
		t.Fatal(err)
	}
	want := bytes.Clone(hive)
	if err := regf.Apply(want, rp); err != nil {
		t.Fatal(err)
	}
	got := ntfscatFile(t, vol, systemHive)
	if !bytes.Equal(got, want) {
		t.Fatal("ntfs-3g reads a hive other than the planned one")
	}
	if err := regf.Verify(got, "CSAgent"); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "SYSTEM")
	if err := os.WriteFile(p, got, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("hivexget", p, `ControlSet001\Services\CSAgent`, "Start").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "4" {
		t.Fatalf("hivexget: %v %q", err, out)
	}
	ntfstest.RequireCheckClean(t, vol, false, "after the overwrite")

	// The same plan again: the file no longer holds the before-image.
	v2, _ := openVolFile(t, vol)
	if _, err := PlanOverwrite(v2, systemHive, fws, OverwriteOptions{}); !errors.As(err, new(*FileChangedError)) {
		t.Fatalf("second plan: %v, want *FileChangedError", err)
	}
}

// residentFile finds a file with a non-empty resident $DATA on v.
func residentFile(t *testing.T, v *ntfs.Volume) string {
	t.Helper()
	for _, dir := range []string{"", "Windows", "Windows/System32", "Windows/System32/config", "Windows/System32/drivers", ntfstest.CrowdStrikeDir} {
		ents, err := v.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if e.IsDOS() || strings.HasPrefix(e.Name, "$") {
				continue
			}
			p := strings.TrimPrefix(dir+"/"+e.Name, "/")
			f, err := v.Lookup(p)
			if err != nil || f.IsDir() {
				continue
			}
			if a := f.FindAttr(ntfs.AttrData, ""); a != nil && !a.NonResident && len(a.Value) >= 8 {
				return p
			}
		}
	}
	return ""
}

// TestOverwriteResident: a resident stream's bytes are changed in its MFT
// record; ntfs-3g reads the new bytes and the volume checks clean.
func TestOverwriteResident(t *testing.T) {
	ntfstest.RequireTool(t, "ntfscat")
	d := ntfstest.LoadCorpusDisk(t, "win10-plain-ntfs")
	vol := d.ExtractVolume(t)
	v, f := openVolFile(t, vol)
	path := residentFile(t, v)
	if path == "" {
		t.Fatal("the corpus volume has no file with resident data in the directories searched")
	}
	t.Logf("resident file: %s", path)
	old := readAllFile(t, v, path)
	after := []byte{0xde, 0xad, 0xbe, 0xef}
	if bytes.Equal(old[2:6], after) {
		after[0] ^= 0xff
	}
	plan, err := PlanOverwrite(v, path, []FileWrite{{Offset: 2, Before: old[2:6], After: after}}, OverwriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan.String(), "resident data overwritten") {
		t.Fatalf("plan:\n%s", plan)
	}
	if err := Apply(f, plan, ApplyOptions{NoSync: true}); err != nil {
		t.Fatal(err)
	}
	want := bytes.Clone(old)
	copy(want[2:], after)
	if got := ntfscatFile(t, vol, path); !bytes.Equal(got, want) {
		t.Fatalf("%s: ntfs-3g reads % x, want % x", path, got, want)
	}
	ntfstest.RequireCheckClean(t, vol, false, "after the resident overwrite")
}

// TestOverwriteRefusals: nothing is planned for writes outside the stream,
// wrong before-images, overlapping writes, or a directory.
func TestOverwriteRefusals(t *testing.T) {
	d := ntfstest.LoadCorpusDisk(t, "win10-plain-ntfs")
	vol := d.ExtractVolume(t)
	v, _ := openVolFile(t, vol)
	hive := readAllFile(t, v, systemHive)
	n := int64(len(hive))
	four := func(off int64) FileWrite {
		return FileWrite{Offset: off, Before: bytes.Clone(hive[off : off+4]), After: []byte{4, 0, 0, 0}}
	}
	cases := []struct {
		name  string
		path  string
		ws    []FileWrite
		check func(error) bool
	}{
		{"past end", systemHive, []FileWrite{{Offset: n - 2, Before: []byte{0, 0, 0, 0}, After: []byte{1, 1, 1, 1}}}, func(err error) bool { return errors.As(err, new(*ntfs.RefusedError)) }},
		{"before differs", systemHive, []FileWrite{{Offset: 0, Before: []byte("regX"), After: []byte("regY")}}, func(err error) bool { return errors.As(err, new(*FileChangedError)) }},
		{"overlap", systemHive, []FileWrite{four(4096), four(4098)}, func(err error) bool { return err != nil && strings.Contains(err.Error(), "overlap") }},
		{"length mismatch", systemHive, []FileWrite{{Offset: 0, Before: []byte("regf"), After: []byte("re")}}, func(err error) bool { return err != nil }},
		{"directory", "Windows/System32", []FileWrite{four(0)}, func(err error) bool { return errors.Is(err, ntfs.ErrIsDirectory) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := PlanOverwrite(v, c.path, c.ws, OverwriteOptions{})
			if !c.check(err) {
				t.Fatalf("err %v (plan %v)", err, p)
			}
		})
	}
}
