package replay

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/unbrick/unbrick/internal/testcorpus"
	"github.com/unbrick/unbrick/ntfs"
	"github.com/unbrick/unbrick/ntfs/edit"
	"github.com/unbrick/unbrick/ntfs/internal/mst"
	"github.com/unbrick/unbrick/ntfs/internal/ntfstest"
	"github.com/unbrick/unbrick/ntfs/logfile"
)

// Oracle tests of SetBits/ClearBitsInNonresidentBitMap on a directory's
// non-resident $I30 $BITMAP (replay_bits.go), the shape System32 or WinSxS
// have on Windows.
//
// ntfs-3g never makes that bitmap non-resident itself: with 2500 entries
// (a 40-byte bitmap), and with the directory's record filled by named
// streams first, it moved the other attributes out (non-resident or into
// extension records) and kept $BITMAP resident (tried with ntfs-3g 2022.10
// here). So the case is built by hand from a real ntfs-3g volume: a
// directory ntfs-3g filled is given a non-resident $BITMAP holding the
// same bytes in a cluster marked in use (the volume then passes ntfs-3g's
// ntfsls and the corpus ntfs-check), and ntfs-3g then adds entries to it
// through its driver, which sets bits in that non-resident bitmap: the
// real change the journal records. ntfsrecover and unbrick replay the
// same journal on copies; the results must be byte-identical and hold B's
// bitmap cluster when committed, A's when not.

// bitmapDirName names the test directory's i-th entry.
func bitmapDirName(i int) string {
	return fmt.Sprintf("C-00000291-%04d-a-rather-long-channel-file-name-for-the-bitmap-test.sys", i)
}

// dirBitmapRecord returns the MFT record number of dir and its $I30
// $BITMAP attribute as stored.
func dirBitmap(t *testing.T, img, dir string) (ntfs.FileRef, *ntfs.Attribute) {
	v, f := openImage(t, img)
	defer f.Close()
	fl, err := v.Lookup(dir)
	if err != nil {
		t.Fatal(err)
	}
	a := fl.Base.FindAttr(ntfs.AttrBitmap, "$I30")
	if a == nil {
		t.Fatalf("%s has no $I30 $BITMAP in its base record", dir)
	}
	return fl.Ref(), a
}

// makeDirBitmapNonresident rewrites dir's resident $I30 $BITMAP (the last
// attribute of its base record) as a non-resident attribute of one
// cluster holding the same bytes, in a free cluster it marks in use. It
// returns the cluster.
func makeDirBitmapNonresident(t *testing.T, img, dir string) int64 {
	v, f := openImage(t, img)
	defer f.Close()
	fl, err := v.Lookup(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := fl.Base.Number
	cs := int64(v.Boot().ClusterSize)
	// A free cluster, from the end of $Bitmap backwards.
	bf, err := v.OpenRef(ntfs.MakeRef(ntfs.RecordBitmap, 0))
	if err != nil {
		t.Fatal(err)
	}
	ra, size, err := bf.AttrReader(ntfs.AttrData, "")
	if err != nil {
		t.Fatal(err)
	}
	bm := make([]byte, size)
	if _, err := ra.ReadAt(bm, 0); err != nil {
		t.Fatal(err)
	}
	lcn := int64(-1)
	for c := v.Boot().TotalClusters() - 64; c > 0; c-- {
		if bm[c>>3]&(1<<(c&7)) == 0 {
			lcn = c
			break
		}
	}
	if lcn < 0 {
		t.Fatal("no free cluster")
	}
	bm[lcn>>3] |= 1 << (lcn & 7)
	exts, err := ra.(*ntfs.RunReader).Extents(lcn>>3&^511, 512)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(bm[lcn>>3&^511:lcn>>3&^511+512], exts[0].Offset); err != nil || len(exts) != 1 {
		t.Fatalf("write $Bitmap: %v (%d extents)", err, len(exts))
	}
	// The record, fixed up.
	rexts, err := v.RecordExtents(n)
	if err != nil || len(rexts) != 1 {
		t.Fatalf("record %d extents: %v", n, err)
	}
	raw := make([]byte, rexts[0].Length)
	if _, err := f.ReadAt(raw, rexts[0].Offset); err != nil {
		t.Fatal(err)
	}
	rec, err := ntfs.ParseRecord(append([]byte(nil), raw...), n)
	if err != nil {
		t.Fatal(err)
	}
	b := rec.Raw
	a := rec.FindAttr(ntfs.AttrBitmap, "$I30")
	if a == nil || a.NonResident {
		t.Fatalf("%s: no resident $I30 $BITMAP", dir)
	}
	end := a.Offset + int(binary.LittleEndian.Uint32(b[a.Offset+4:]))
	if binary.LittleEndian.Uint32(b[end:]) != 0xFFFFFFFF {
		t.Fatalf("%s: $BITMAP is not the last attribute of record %d", dir, n)
	}
	val := append([]byte(nil), a.Value...)
	if int64(len(val)) > cs {
		t.Fatalf("bitmap of %d bytes", len(val))
	}
	// Non-resident attribute header (ntfs-3g layout.h ATTR_RECORD):
	// 0x40 bytes, the name at 0x40, mapping pairs at 0x48.
	na := make([]byte, 0x50)
	binary.LittleEndian.PutUint32(na[0x00:], uint32(ntfs.AttrBitmap))
	binary.LittleEndian.PutUint32(na[0x04:], uint32(len(na)))
	na[0x08] = 1 // non-resident
	na[0x09] = 4 // name length
	binary.LittleEndian.PutUint16(na[0x0A:], 0x40)
	binary.LittleEndian.PutUint16(na[0x0E:], binary.LittleEndian.Uint16(b[a.Offset+0x0E:])) // instance
	// lowest VCN 0, highest VCN 0
	binary.LittleEndian.PutUint16(na[0x20:], 0x48)
	binary.LittleEndian.PutUint64(na[0x28:], uint64(cs))       // allocated
	binary.LittleEndian.PutUint64(na[0x30:], uint64(len(val))) // data size
	binary.LittleEndian.PutUint64(na[0x38:], uint64(len(val))) // initialized
	for i, c := range "$I30" {
		binary.LittleEndian.PutUint16(na[0x40+2*i:], uint16(c))
	}
	// One run: 1 cluster at lcn (header 0x41: 1 length byte, 4 offset bytes).
	na[0x48] = 0x41
	na[0x49] = 1
	binary.LittleEndian.PutUint32(na[0x4A:], uint32(lcn))
	inUse := a.Offset + len(na) + 8
	if inUse > int(binary.LittleEndian.Uint32(b[0x1C:])) {
		t.Fatalf("the non-resident $BITMAP does not fit in record %d", n)
	}
	out := append([]byte(nil), b...)
	copy(out[a.Offset:], na)
	binary.LittleEndian.PutUint32(out[a.Offset+len(na):], 0xFFFFFFFF)
	binary.LittleEndian.PutUint32(out[a.Offset+len(na)+4:], 0)
	for i := inUse; i < end+8; i++ {
		out[i] = 0
	}
	binary.LittleEndian.PutUint32(out[0x18:], uint32(inUse))
	if err := mst.ProtectInPlace(out); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(out, rexts[0].Offset); err != nil {
		t.Fatal(err)
	}
	cl := make([]byte, cs)
	copy(cl, val)
	if _, err := f.WriteAt(cl, lcn*cs); err != nil {
		t.Fatal(err)
	}
	return lcn
}

// nonresidentDirBitmapChange makes A (a directory of 40 entries whose
// $I30 $BITMAP was made non-resident by hand) and B (A after ntfs-3g added
// 80 more entries). ok is false when FUSE is unavailable.
func nonresidentDirBitmapChange(t *testing.T) (ch oracleChange, lcn int64, ok bool) {
	mkntfs := replayNeedTool(t, "mkntfs")
	dir := t.TempDir()
	fresh := filepath.Join(dir, "fresh.img")
	if err := os.WriteFile(fresh, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(fresh, 16<<20); err != nil {
		t.Fatal(err)
	}
	replayRun(t, mkntfs, "-F", "-Q", "-q", "-L", "VOLUMEAA", fresh)
	ch, ok = fuseChange(t, "prep", fresh, dir, func(m string) error {
		if err := os.Mkdir(filepath.Join(m, "d"), 0o755); err != nil {
			return err
		}
		for i := 0; i < 40; i++ {
			if err := os.WriteFile(filepath.Join(m, "d", bitmapDirName(i)), nil, 0o644); err != nil {
				return err
			}
		}
		return nil
	}, func(string) error { return nil })
	if !ok {
		return oracleChange{}, 0, false
	}
	a := filepath.Join(dir, "nrbitmap-a.img")
	replayCopy(t, ch.a, a)
	lcn = makeDirBitmapNonresident(t, a, "/d")
	ch, ok = fuseChange(t, "grow", a, dir, func(string) error { return nil }, func(m string) error {
		for i := 40; i < 120; i++ {
			if err := os.WriteFile(filepath.Join(m, "d", bitmapDirName(i)), nil, 0o644); err != nil {
				return err
			}
		}
		return nil
	})
	ch.name = "nonresident-dir-bitmap"
	return ch, lcn, ok
}

// diffDirBitmap encodes the bits of the one-cluster bitmap at lcn that
// differ between A and B as SetBits/ClearBits records (undo: the opposite
// operation on the same range) acting on open attribute key.
func diffDirBitmap(t *testing.T, a, b string, lcn, cs int64, key uint16, tx uint32) []ntfstest.LogRecord {
	read := func(p string) []byte {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		buf := make([]byte, cs)
		if _, err := f.ReadAt(buf, lcn*cs); err != nil {
			t.Fatal(err)
		}
		return buf
	}
	ba, bb := read(a), read(b)
	bit := func(x []byte, i int64) bool { return x[i>>3]&(1<<(i&7)) != 0 }
	var out []ntfstest.LogRecord
	for i := int64(0); i < cs*8; {
		if bit(ba, i) == bit(bb, i) {
			i++
			continue
		}
		j, val := i, bit(bb, i)
		for j < cs*8 && bit(ba, j) != bit(bb, j) && bit(bb, j) == val {
			j++
		}
		rng := make([]byte, 8)
		binary.LittleEndian.PutUint32(rng[0:], uint32(i))
		binary.LittleEndian.PutUint32(rng[4:], uint32(j-i))
		r := ntfstest.LogRecord{Type: logfile.LogRecordStandard, Tx: tx, Redo: logfile.OpClearBitsInNonresidentBitMap, Undo: logfile.OpSetBitsInNonresidentBitMap,
			RedoData: rng, UndoData: rng, LCNs: []int64{lcn}, VCN: 0, TargetAttr: key}
		if val {
			r.Redo, r.Undo = r.Undo, r.Redo
		}
		out = append(out, r)
		i = j
	}
	return out
}

func TestReplayOracleNonresidentDirBitmap(t *testing.T) {
	ntfsrecover := replayNeedTool(t, "ntfsrecover")
	check := ""
	if d := testcorpus.Dir(); d != "" {
		check = filepath.Join(d, "tools", "ntfs-check")
	}
	ch, lcn, ok := nonresidentDirBitmapChange(t)
	if !ok {
		if os.Getenv("CI") == "true" {
			t.Fatal("FUSE mount with ntfs-3g unavailable under CI")
		}
		t.Skip("FUSE mount with ntfs-3g unavailable")
	}
	// The hand-made A is a volume ntfs-3g and the corpus checker accept,
	// and ntfs-3g kept the bitmap non-resident at the same place in B.
	if out, err := exec.Command(replayNeedTool(t, "ntfsls"), "-p", "/d", ch.a).CombinedOutput(); err != nil || strings.Count(string(out), "C-00000291-") != 40 {
		t.Fatalf("ntfsls on the hand-made volume: %v\n%s", err, out)
	}
	if check != "" {
		if o, err := exec.Command(check, ch.a).CombinedOutput(); err != nil {
			t.Fatalf("ntfs-check on the hand-made volume: %v\n%s", err, o)
		}
	}
	ref, ba := dirBitmap(t, ch.b, "/d")
	if !ba.NonResident || !runsMap(ba.Runs, 0, []int64{lcn}) {
		t.Fatalf("ntfs-3g moved the directory bitmap (non-resident %v, runs %v)", ba.NonResident, ba.Runs)
	}
	va, fa := openImage(t, ch.a)
	cs := int64(va.Boot().ClusterSize)
	fa.Close()
	const key = 0x30
	bits := diffDirBitmap(t, ch.a, ch.b, lcn, cs, key, 0x18)
	if len(bits) == 0 {
		t.Fatal("ntfs-3g set no bit of the non-resident directory bitmap")
	}
	t.Logf("directory %s, $I30 $BITMAP at LCN %d, %d bit range(s) changed", ref, lcn, len(bits))
	open := openAttrRecord(ref, ntfs.AttrBitmap, key, 0x18)
	cases := []struct {
		name      string
		committed bool
		// undo: installed on B (the uncommitted change reached the
		// disk); the reference is `ntfsrecover -u 1`, the result must
		// hold A's bitmap.
		undo bool
		recs []ntfstest.LogRecord
	}{
		{"committed", true, false, append(append([]ntfstest.LogRecord{open}, bits...), ntfstest.Forget(0x18))},
		{"uncommitted-tail", false, false, append([]ntfstest.LogRecord{open}, bits...)},
		{"committed-across-pages", true, false, append(append(append([]ntfstest.LogRecord{open}, ntfstest.Filler(0x18, 40)...), bits...), ntfstest.Forget(0x18))},
		{"uncommitted-on-disk-undo", false, true, append([]ntfstest.LogRecord{open}, bits...)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			base := filepath.Join(dir, "base.img")
			if tc.undo {
				replayCopy(t, ch.b, base)
			} else {
				replayCopy(t, ch.a, base)
			}
			log, _ := ntfstest.WithCheckpoint(4*4096+0x40, 3, tc.recs...).Build()
			installLog(t, base, log)
			x := filepath.Join(dir, "ntfsrecover.img")
			y := filepath.Join(dir, "unbrick.img")
			replayCopy(t, base, x)
			replayCopy(t, base, y)
			args := []string{"-k", x}
			if tc.undo {
				args = []string{"-k", "-u", "1", x}
			}
			if out, err := exec.Command(ntfsrecover, args...).CombinedOutput(); err != nil {
				t.Fatalf("ntfsrecover: %v\n%s", err, out)
			}
			v, f := openImage(t, y)
			res, err := Plan(v)
			if err != nil {
				f.Close()
				t.Fatalf("Plan: %v", err)
			}
			if err := edit.Apply(f, res.Plan, edit.ApplyOptions{NoSync: true}); err != nil {
				f.Close()
				t.Fatal(err)
			}
			f.Close()
			if sx, sy := fileSHA(t, x), fileSHA(t, y); sx != sy {
				t.Errorf("images differ: ntfsrecover %s, unbrick %s", sx, sy)
				diffBytes(t, x, y)
			}
			want := ch.a
			if tc.committed {
				want = ch.b
			}
			if got := diffDirBitmap(t, want, y, lcn, cs, key, 0x18); len(got) != 0 {
				t.Errorf("replayed bitmap cluster differs from the expected image in %d range(s)", len(got))
			}
			if tc.committed && len(res.Redone) != len(bits) {
				t.Errorf("redone %d record(s), want %d", len(res.Redone), len(bits))
			}
			if tc.undo && len(res.Undone) != len(bits) {
				t.Errorf("rolled back %d record(s), want %d", len(res.Undone), len(bits))
			}
			if check != "" && !tc.committed && !tc.undo {
				// Committed, the bitmap names index blocks the journal
				// (bitmap bits only) did not add, so only the
				// uncommitted result is a whole consistent volume.
				if o, err := exec.Command(check, y).CombinedOutput(); err != nil {
					t.Errorf("ntfs-check on the replayed volume: %v\n%s", err, o)
				}
			}
		})
	}
	// Refusals on the same volume: each must fail before any write.
	refusals := []struct {
		name, want string
		recs       []ntfstest.LogRecord
	}{
		{"no-open-attribute", "not in the open attribute table", bits[:1]},
		{"wrong-cluster", "are not where attribute", func() []ntfstest.LogRecord {
			r := bits[0]
			r.LCNs = []int64{lcn - 1}
			return []ntfstest.LogRecord{open, r}
		}()},
		{"wrong-vcn", "are not where attribute", func() []ntfstest.LogRecord {
			r := bits[0]
			r.VCN = 1
			return []ntfstest.LogRecord{open, r}
		}()},
		{"not-a-bitmap", "not a $BITMAP", func() []ntfstest.LogRecord {
			// The table names the directory's $INDEX_ALLOCATION and the
			// record its first cluster.
			_, alloc := dirIndexAllocation(t, ch.a, "/d")
			r := bits[0]
			r.LCNs = []int64{alloc.Runs[0].LCN}
			return []ntfstest.LogRecord{openAttrRecord(ref, ntfs.AttrIndexAllocation, key, 0x18), r}
		}()},
	}
	for _, rc := range refusals {
		t.Run("refuse-"+rc.name, func(t *testing.T) {
			y := filepath.Join(t.TempDir(), "y.img")
			replayCopy(t, ch.a, y)
			log, _ := ntfstest.WithCheckpoint(4*4096+0x40, 3, append(rc.recs, ntfstest.Forget(0x18))...).Build()
			installLog(t, y, log)
			before := fileSHA(t, y)
			v, f := openImage(t, y)
			_, err := Plan(v)
			f.Close()
			var ue *UnsupportedLogOpError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), rc.want) {
				t.Fatalf("want a refusal mentioning %q, got %v", rc.want, err)
			}
			if fileSHA(t, y) != before {
				t.Fatal("a refused replay changed the volume")
			}
		})
	}
}

// dirIndexAllocation returns dir's reference and $I30 $INDEX_ALLOCATION.
func dirIndexAllocation(t *testing.T, img, dir string) (ntfs.FileRef, *ntfs.Attribute) {
	v, f := openImage(t, img)
	defer f.Close()
	fl, err := v.Lookup(dir)
	if err != nil {
		t.Fatal(err)
	}
	a := fl.Base.FindAttr(ntfs.AttrIndexAllocation, "$I30")
	if a == nil || len(a.Runs) == 0 || a.Runs[0].LCN < 0 {
		t.Fatalf("%s has no $I30 $INDEX_ALLOCATION", dir)
	}
	return fl.Ref(), a
}
