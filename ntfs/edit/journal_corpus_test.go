package edit

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/unbrick/unbrick/ntfs"
	"github.com/unbrick/unbrick/ntfs/internal/ntfstest"
)

const faulty = ntfstest.CrowdStrikeDir + "/C-00000291-00000000-00000032.sys"

// writeRestartPages puts two restart pages at the start of $LogFile of a
// volume image (the corpus journals are empty: mkntfs makes them 0xFF).
func writeRestartPages(t *testing.T, vol string, p0, p1 []byte) {
	t.Helper()
	v, f := openVolFile(t, vol)
	lf, err := v.OpenRef(ntfs.MakeRef(ntfs.RecordLogFile, 0))
	if err != nil {
		t.Fatal(err)
	}
	ra, _, err := lf.AttrReader(ntfs.AttrData, "")
	if err != nil {
		t.Fatal(err)
	}
	exts, err := ra.(*ntfs.RunReader).Extents(0, 8192)
	if err != nil {
		t.Fatal(err)
	}
	buf := append(append([]byte(nil), p0...), p1...)
	pos := 0
	for _, e := range exts {
		if _, err := f.WriteAt(buf[pos:pos+e.Length], e.Offset); err != nil {
			t.Fatal(err)
		}
		pos += e.Length
	}
}

// ntfs3gRWAttempt tries a read-write ntfs-3g mount (norecover, so that
// ntfs-3g itself changes nothing) and returns whether it mounted and its log.
func ntfs3gRWAttempt(t *testing.T, vol string) (bool, string) {
	t.Helper()
	ntfstest.RequireFUSE(t)
	mnt := t.TempDir()
	out, err := exec.Command("ntfs-3g", "-o", "norecover,no_def_opts", vol, mnt).CombinedOutput()
	if err != nil {
		return false, string(out)
	}
	ro := false
	if mi, e := os.ReadFile("/proc/self/mountinfo"); e == nil {
		for _, l := range strings.Split(string(mi), "\n") {
			if strings.Contains(l, " "+mnt+" ") && strings.Contains(strings.Fields(l)[5], "ro") {
				ro = true
			}
		}
	}
	exec.Command("fusermount", "-u", mnt).Run()
	return !ro && !strings.Contains(string(out), "read-only"), string(out)
}

// TestJournalPolicies writes unclean version 1.1 and version 2.0 restart
// pages into copies of the plain corpus volume. ntfs-3g is the witness that
// the synthetic journals mean what our parser says (it refuses a
// read-write mount with "unclean file system" / "Metadata kept in Windows
// cache"). PlanDelete must refuse by default writing nothing, and with
// --unclean=reset empty the journal, set the dirty flag (in $MFT and
// $MFTMirr), delete the file; then ntfs-3g mounts read-write and ntfs-check
// --allow-dirty finds nothing.
func TestJournalPolicies(t *testing.T) {
	d := ntfstest.LoadCorpusDisk(t, "win10-plain-ntfs")
	base := d.ExtractVolume(t)
	ntfstest.RequireFUSE(t)
	cases := []struct {
		name, version string
		p0, p1        []byte
		ntfs3gSays    string
	}{
		{"v1.1 unclean", "1.1", ntfstest.BuildRestartPage(ntfstest.RestartSpec{Major: 1, Minor: 1, InUse: true, LSN: 0x1000}),
			ntfstest.BuildRestartPage(ntfstest.RestartSpec{Major: 1, Minor: 1, InUse: true, LSN: 0x0fff}), "unclean file system"},
		{"v2.0", "2.0", ntfstest.BuildRestartPage(ntfstest.RestartSpec{Major: 2, Minor: 0, InUse: true, LSN: 0x2000}),
			ntfstest.BuildRestartPage(ntfstest.RestartSpec{Major: 2, Minor: 0, InUse: true, LSN: 0x2001}), "Metadata kept in Windows cache"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			vol := ntfstest.CopyFile(t, base)
			writeRestartPages(t, vol, c.p0, c.p1)
			if ok, log := ntfs3gRWAttempt(t, vol); ok || !strings.Contains(log, c.ntfs3gSays) {
				t.Fatalf("ntfs-3g does not see the synthetic journal as %s (mounted rw %v):\n%s", c.name, ok, log)
			}
			v, _ := openVolFile(t, vol)
			js, err := v.JournalState()
			if err != nil {
				t.Fatal(err)
			}
			if js.Clean || js.JournalVersion != c.version {
				t.Fatalf("JournalState: clean %v version %q", js.Clean, js.JournalVersion)
			}
			snapshot := ntfstest.CopyFile(t, vol)
			_, err = PlanDelete(v, faulty, DeleteOptions{})
			if !errors.Is(err, ntfs.ErrRefused) || !strings.Contains(err.Error(), "--unclean=reset") {
				t.Fatalf("default policy: err = %v, want a refusal naming --unclean=reset", err)
			}
			if !ntfstest.SameFile(t, vol, snapshot) {
				t.Fatal("refusal wrote to the volume")
			}
			plan := deleteWithUs(t, vol, faulty, DeleteOptions{Unclean: ntfs.UncleanReset})
			if !strings.Contains(strings.Join(plan.Notes, " "), "journal ($LogFile) emptied") || !planSays(plan, "dirty flag set") ||
				!planSays(plan, "$MFTMirr copy") || !planSays(plan, "$LogFile emptied") {
				t.Fatalf("reset plan lacks the reset steps:\n%s", plan)
			}
			v2, _ := openVolFile(t, vol)
			js2, err := v2.JournalState()
			if err != nil || !js2.Clean || !js2.LogFile.Empty || !js2.Dirty {
				t.Fatalf("after reset: %+v %v", js2, err)
			}
			ntfstest.RequireCheckClean(t, vol, true, "after reset + delete")
			if p := ntfstest.NTFSCheck(t, vol, false); len(p) != 1 || !strings.HasPrefix(p[0], "DIRTY") {
				t.Fatalf("without --allow-dirty ntfs-check should report only the dirty flag: %v", p)
			}
			if ok, log := ntfs3gRWAttempt(t, vol); !ok {
				t.Fatalf("ntfs-3g does not mount read-write after the reset:\n%s", log)
			}
			ntfstest.NTFS3gStatAll(t, vol, ntfstest.CrowdStrikeDir)
			// The whole disk, checked by the corpus verifier (a reset
			// journal and a newly set dirty flag are expected).
			d.PutVolume(t, vol)
			t.Log(ntfstest.VerifyDisk(t, d.Path, d.Variant, "fixed", "--allow-dirty", "--allow-journal-change"))
		})
	}
}

// TestHibernationPolicies: ntfs-3g creates hiberfil.sys with a "HIBR"
// header (and refuses a read-write mount: the witness); PlanDelete refuses
// by default and with --hibernated=discard zeroes the header and deletes;
// ntfs-3g then mounts read-write.
func TestHibernationPolicies(t *testing.T) {
	d := ntfstest.LoadCorpusDisk(t, "win10-plain-ntfs")
	vol := d.ExtractVolume(t)
	ntfstest.RequireFUSE(t)
	mnt, umount := ntfstest.NTFS3gMount(t, vol, "")
	hdr := append([]byte("HIBR"), bytes.Repeat([]byte{0x5A}, 64*1024-4)...)
	if err := os.WriteFile(filepath.Join(mnt, "hiberfil.sys"), hdr, 0o644); err != nil {
		t.Fatal(err)
	}
	umount()
	if ok, log := ntfs3gRWAttempt(t, vol); ok || !strings.Contains(log, "hibernated") {
		t.Fatalf("ntfs-3g does not see a hibernated Windows (rw %v):\n%s", ok, log)
	}
	v, _ := openVolFile(t, vol)
	js, err := v.JournalState()
	if err != nil {
		t.Fatal(err)
	}
	if !js.Hibernation.Live() || js.Hibernation.State != ntfs.HiberLive || js.Hibernation.Signature != "HIBR" {
		t.Fatalf("hibernation state %+v", js.Hibernation)
	}
	snapshot := ntfstest.CopyFile(t, vol)
	if _, err := PlanDelete(v, faulty, DeleteOptions{}); !errors.Is(err, ntfs.ErrRefused) || !strings.Contains(err.Error(), "--hibernated=discard") {
		t.Fatalf("default: err = %v", err)
	}
	if !ntfstest.SameFile(t, vol, snapshot) {
		t.Fatal("refusal wrote to the volume")
	}
	plan := deleteWithUs(t, vol, faulty, DeleteOptions{Hibernated: ntfs.HibernatedDiscard})
	if !strings.Contains(strings.Join(plan.Notes, " "), "session and its unsaved work are lost") || !planSays(plan, "hiberfil.sys header zeroed") {
		t.Fatalf("discard plan:\n%s", plan)
	}
	v2, _ := openVolFile(t, vol)
	js2, err := v2.JournalState()
	if err != nil || js2.Hibernation.State != ntfs.HiberNone {
		t.Fatalf("after discard: %+v %v", js2, err)
	}
	ntfstest.RequireCheckClean(t, vol, false, "after discard + delete")
	if ok, log := ntfs3gRWAttempt(t, vol); !ok {
		t.Fatalf("ntfs-3g still refuses read-write:\n%s", log)
	}
}

// TestDeleteRefusals: a hard link, a symbolic link (reparse point) (both
// made by ntfs-3g), a directory, a system file and a stale $MFTMirr are
// refused, writing nothing. A file with an object ID (ntfs-3g made it too)
// is not refused: its $ObjId entry goes with it (delete_objid_test.go).
func TestDeleteRefusals(t *testing.T) {
	d := ntfstest.LoadCorpusDisk(t, "win10-plain-ntfs")
	vol := d.ExtractVolume(t)
	ntfstest.RequireFUSE(t)
	mnt, umount := ntfstest.NTFS3gMount(t, vol, "")
	dir := filepath.Join(mnt, filepath.FromSlash(ntfstest.CrowdStrikeDir))
	must := func(err error) {
		if err != nil {
			umount()
			t.Fatal(err)
		}
	}
	must(os.Link(filepath.Join(dir, "C-00000290-00000000-00000015.sys"), filepath.Join(dir, "hardlink.sys")))
	must(os.WriteFile(filepath.Join(dir, "symlink.sys"), nil, 0o644))
	if err := ntfstest.Setxattr(filepath.Join(dir, "symlink.sys"), "system.ntfs_reparse_data", delTestSymlinkReparse("csagent.sys")); err != nil {
		umount()
		t.Fatalf("ntfs-3g would not store a reparse point: %v", err)
	}
	must(os.WriteFile(filepath.Join(dir, "objid.sys"), []byte("x"), 0o644))
	oid := bytes.Repeat([]byte{0x11}, 16)
	must(ntfstest.Setxattr(filepath.Join(dir, "objid.sys"), "system.ntfs_object_id", oid))
	log := umount()
	ntfstest.CheckNTFS3gLog(t, log, "setup")
	ntfstest.RequireCheckClean(t, vol, false, "after ntfs-3g made the refusal cases")

	cases := map[string]string{
		ntfstest.CrowdStrikeDir + "/hardlink.sys":                     "hard links",
		ntfstest.CrowdStrikeDir + "/C-00000290-00000000-00000015.sys": "hard links",
		ntfstest.CrowdStrikeDir + "/symlink.sys":                      "reparse point",
		ntfstest.CrowdStrikeDir:                                       "directory",
		"$MFT":                                                        "system file",
		"Windows/System32/config":                                     "directory",
	}
	v, _ := openVolFile(t, vol)
	snapshot := ntfstest.CopyFile(t, vol)
	for path, want := range cases {
		_, err := PlanDelete(v, path, DeleteOptions{})
		if !errors.Is(err, ntfs.ErrRefused) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want a refusal about %q", path, err, want)
		}
	}
	if f, err := v.Lookup(ntfstest.CrowdStrikeDir + "/objid.sys"); err != nil || f.FindAttr(ntfs.AttrObjectID, "") == nil {
		t.Fatalf("ntfs-3g did not store the object ID of objid.sys (%v)", err)
	}
	withObjID := ntfstest.CopyFile(t, vol)
	deleteWithUs(t, withObjID, ntfstest.CrowdStrikeDir+"/objid.sys", DeleteOptions{})
	ntfstest.RequireCheckClean(t, withObjID, false, "after deleting the object-ID file")
	if p := objIDProblems(objIDCheck(t, withObjID)); len(p) > 0 {
		t.Fatalf("objid-check after deleting the object-ID file:\n%s", strings.Join(p, "\n"))
	}
	// Stale mirror: change one byte of record 3's copy in $MFTMirr.
	mir := v.Boot().MFTMirrLCN*int64(v.Boot().ClusterSize) + 3*int64(v.Boot().RecordSize) + 100
	_, f := openVolFile(t, vol)
	b := []byte{0}
	f.ReadAt(b, mir)
	b[0] ^= 0xFF
	f.WriteAt(b, mir)
	stale := ntfstest.CopyFile(t, vol)
	if _, err := PlanDelete(v, faulty, DeleteOptions{}); !errors.Is(err, ntfs.ErrRefused) || !strings.Contains(err.Error(), "$MFTMirr") {
		t.Errorf("stale mirror: err = %v", err)
	}
	if ok, log := ntfs3gRWAttempt(t, stale); ok || !strings.Contains(log, "$MFTMirr does not match") {
		t.Errorf("ntfs-3g does not see the stale mirror:\n%s", log)
	}
	b[0] ^= 0xFF
	f.WriteAt(b, mir)
	if !ntfstest.SameFile(t, vol, snapshot) {
		t.Fatal("a refusal wrote to the volume")
	}
	if _, err := PlanDelete(v, ntfstest.CrowdStrikeDir+"/no-such-file.sys", DeleteOptions{}); !errors.Is(err, ntfs.ErrNotFound) {
		t.Errorf("missing file: %v", err)
	}
}

// delTestSymlinkReparse builds an IO_REPARSE_TAG_SYMLINK (relative) reparse
// buffer: tag, data length, reserved, then substitute and print name
// offsets/lengths, flags (1 = relative) and the UTF-16 names.
func delTestSymlinkReparse(target string) []byte {
	u := unitsToBytes(delTestUTF16(target))
	data := make([]byte, 12+2*len(u))
	le := func(b []byte, off int, v uint16) { b[off], b[off+1] = byte(v), byte(v>>8) }
	le(data, 0, 0)
	le(data, 2, uint16(len(u)))
	le(data, 4, uint16(len(u)))
	le(data, 6, uint16(len(u)))
	data[8] = 1
	copy(data[12:], u)
	copy(data[12+len(u):], u)
	b := make([]byte, 8+len(data))
	b[0], b[1], b[2], b[3] = 0x0C, 0x00, 0x00, 0xA0
	le(b, 4, uint16(len(data)))
	copy(b[8:], data)
	return b
}

func delTestUTF16(s string) []uint16 {
	var out []uint16
	for _, r := range s {
		out = append(out, uint16(r))
	}
	return out
}
