package replay

import (
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/unbrick/unbrick/ntfs/edit"
	"github.com/unbrick/unbrick/ntfs/internal/ntfstest"
	"github.com/unbrick/unbrick/ntfs/logfile"
)

// TestReplaySetNewAttributeSizesOrder: a SetNewAttributeSizes whose valid
// data length differs from the file size, the one case where ntfsrecover
// and ntfs3 read the redo data differently (replay_nonresident.go). We take
// the ntfs3 reading; the test shows the two results differ exactly in the
// data and initialized size fields, that ours holds the sizes as logged
// (allocated, valid, file), and that the corpus ntfs-check accepts it.
func TestReplaySetNewAttributeSizesOrder(t *testing.T) {
	ntfsrecover := replayNeedTool(t, "ntfsrecover")
	ch := mftChanges(t, "extend")[0]
	change, _, _ := encodeVolumeChange(t, ch, 0x18)
	var sizes *ntfstest.LogRecord
	for i := range change {
		if change[i].Redo == logfile.OpSetNewAttributeSizes {
			sizes = &change[i]
		}
	}
	if sizes == nil {
		t.Fatal("the extend change has no SetNewAttributeSizes record")
	}
	// Valid data only up to the old size (as after an extension whose new
	// clusters are not written yet).
	alloc := binary.LittleEndian.Uint64(sizes.RedoData[0:])
	size := binary.LittleEndian.Uint64(sizes.RedoData[16:])
	valid := binary.LittleEndian.Uint64(sizes.UndoData[16:])
	if valid >= size {
		t.Fatalf("old size %d is not below the new size %d", valid, size)
	}
	binary.LittleEndian.PutUint64(sizes.RedoData[8:], valid)

	dir := t.TempDir()
	base := filepath.Join(dir, "base.img")
	replayCopy(t, ch.a, base)
	log, _ := ntfstest.WithCheckpoint(4*4096+0x40, 3, append(change, ntfstest.Forget(0x18))...).Build()
	installLog(t, base, log)
	x, y := filepath.Join(dir, "ntfsrecover.img"), filepath.Join(dir, "unbrick.img")
	replayCopy(t, base, x)
	replayCopy(t, base, y)
	if out, err := exec.Command(ntfsrecover, "-k", x).CombinedOutput(); err != nil {
		t.Fatalf("ntfsrecover: %v\n%s", err, out)
	}
	v, f := openImage(t, y)
	res, err := Plan(v)
	if err != nil {
		f.Close()
		t.Fatal(err)
	}
	if err := edit.Apply(f, res.Plan, edit.ApplyOptions{NoSync: true}); err != nil {
		f.Close()
		t.Fatal(err)
	}
	f.Close()

	attrAtRec := func(img string) (int64, []byte) {
		v, f := openImage(t, img)
		defer f.Close()
		cs := int64(v.Boot().ClusterSize)
		at := sizes.LCNs[0]*cs + int64(sizes.ClusterIdx)*512
		rec, ok := rawMFTRecord(t, v, uint64((sizes.VCN*cs+int64(sizes.ClusterIdx)*512)/int64(v.Boot().RecordSize)))
		if !ok {
			t.Fatalf("%s: record is not valid", img)
		}
		return at, rec[int(sizes.RecOff):]
	}
	at, ours := attrAtRec(y)
	_, theirs := attrAtRec(x)
	get := func(a []byte, o int) uint64 { return binary.LittleEndian.Uint64(a[o:]) }
	if get(ours, 0x28) != alloc || get(ours, 0x30) != size || get(ours, 0x38) != valid {
		t.Errorf("ours: allocated %d data %d initialized %d; logged allocated %d file size %d valid %d",
			get(ours, 0x28), get(ours, 0x30), get(ours, 0x38), alloc, size, valid)
	}
	if get(theirs, 0x30) != valid || get(theirs, 0x38) != size {
		t.Errorf("ntfsrecover: data %d initialized %d; expected the on-disk-order copy (data %d, initialized %d)",
			get(theirs, 0x30), get(theirs, 0x38), valid, size)
	}
	// Nothing else differs (the two size fields of that one record).
	field := at + int64(sizes.RecOff) + 0x30
	if !diffOnlyIn(t, x, y, [][2]int64{{field, field + 16}}) {
		diffBytes(t, x, y)
		t.Error("the images differ outside the data and initialized size fields")
	}
	if check := replayCheckTool(); check != "" {
		if o, err := exec.Command(check, y).CombinedOutput(); err != nil {
			t.Errorf("ntfs-check on our result: %v\n%s", err, o)
		}
	} else if os.Getenv("CI") == "true" {
		t.Error("the corpus ntfs-check is required under CI")
	}
}
