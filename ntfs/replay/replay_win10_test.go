package replay

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/unbrick/unbrick/ntfs"
	"github.com/unbrick/unbrick/ntfs/edit"
	"github.com/unbrick/unbrick/ntfs/internal/mst"
	"github.com/unbrick/unbrick/ntfs/internal/ntfstest"
	"github.com/unbrick/unbrick/ntfs/logfile"
)

// UpdateRecordDataRoot/Allocation are backed by ntfs3's do_action alone
// (ntfsrecover refuses them), so these tests use ntfs-3g-made bytes as the
// expected result: the $SII view index of $Secure on a volume where ntfs-3g
// added a security descriptor. The "before" image is that volume with the
// data of one $SII entry changed; the log carries ntfs-3g's data as redo;
// the replayed record must be ntfs-3g's record again.

// siiRootEntry returns the fixed-up $Secure record of v, the offset of its
// $SII $INDEX_ROOT attribute and the offset (in the record) of its first
// view entry that is not the end entry.
func siiRootEntry(t *testing.T, v *ntfs.Volume) ([]byte, int, int) {
	b, ok := rawMFTRecord(t, v, ntfs.RecordSecure)
	if !ok {
		t.Fatal("$Secure is not a FILE record")
	}
	for _, a := range rawAttrs(b) {
		if a.typ != uint32(ntfs.AttrIndexRoot) || b[a.off+9] != 4 || string(b[a.off+le16(b, a.off+10):a.off+le16(b, a.off+10)+8]) != "$\x00S\x00I\x00I\x00" {
			continue
		}
		hdr := a.off + le16(b, a.off+0x14) + 16
		p := hdr + le32(b, hdr)
		if le16(b, p+12)&2 != 0 {
			t.Fatal("$SII root has no entry")
		}
		return b, a.off, p
	}
	t.Fatal("no $SII index root in $Secure")
	return nil, 0, 0
}

func TestReplayUpdateRecordDataRoot(t *testing.T) {
	ch := nrValueChanges(t, "sds")[0]
	vb, fb := openImage(t, ch.b)
	want, attrOff, entry := siiRootEntry(t, vb)
	cs, rs := int64(vb.Boot().ClusterSize), int64(vb.Boot().RecordSize)
	recAt := vb.Boot().MFTLCN*cs + ntfs.RecordSecure*rs
	fb.Close()
	do := entry + le16(want, entry)
	dl := le16(want, entry+2)
	newData := clone(want[do : do+dl])
	oldData := clone(newData)
	binary.LittleEndian.PutUint32(oldData[len(oldData)-4:], 0x7777) // the length field of the $SDS entry
	// the before image: ntfs-3g's volume with the entry's old data
	p := filepath.Join(t.TempDir(), "v.img")
	replayCopy(t, ch.b, p)
	before := clone(want)
	copy(before[do:], oldData)
	if err := mst.ProtectInPlace(before); err != nil {
		t.Fatal(err)
	}
	w, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteAt(before, recAt); err != nil {
		t.Fatal(err)
	}
	w.Close()
	rec := mftRecordOp(vb, ntfs.RecordSecure, 0x18, logfile.OpUpdateRecordDataRoot, logfile.OpUpdateRecordDataRoot, attrOff, entry-attrOff, newData, oldData)
	run := func(t *testing.T, img string, r ntfstest.LogRecord) (*ReplayResult, error) {
		log, _ := ntfstest.WithCheckpoint(4*4096+0x40, 3, r, ntfstest.Forget(0x18)).Build()
		installLog(t, img, log)
		v, f := openImage(t, img)
		defer f.Close()
		res, err := Plan(v)
		if err != nil {
			return nil, err
		}
		return res, edit.Apply(f, res.Plan, edit.ApplyOptions{NoSync: true})
	}
	t.Run("redo", func(t *testing.T) {
		img := filepath.Join(t.TempDir(), "v.img")
		replayCopy(t, p, img)
		res, err := run(t, img, rec)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Redone) != 1 {
			t.Fatalf("redone %v, want the one record", res.Redone)
		}
		v, f := openImage(t, img)
		defer f.Close()
		got, ok := rawMFTRecord(t, v, ntfs.RecordSecure)
		if !ok {
			t.Fatal("$Secure is no longer a FILE record")
		}
		u := le16(got, 4)
		if !bytes.Equal(got[0x10:u], want[0x10:u]) || !bytes.Equal(got[u+2:le32(got, 0x18)], want[u+2:le32(want, 0x18)]) {
			t.Fatal("the replayed $Secure record is not ntfs-3g's")
		}
		if _, err := ntfs.ParseRecord(append([]byte(nil), mustRead(t, img, recAt, int(rs))...), ntfs.RecordSecure); err != nil {
			t.Fatalf("the replayed record does not parse: %v", err)
		}
		if check := replayCheckTool(); check != "" {
			if out, err := exec.Command(check, img).CombinedOutput(); err != nil {
				t.Fatalf("ntfs-check: %v\n%s", err, out)
			}
		}
	})
	refuse := func(name string, r ntfstest.LogRecord, reason string) {
		t.Run(name, func(t *testing.T) {
			img := filepath.Join(t.TempDir(), "v.img")
			replayCopy(t, p, img)
			log, _ := ntfstest.WithCheckpoint(4*4096+0x40, 3, r, ntfstest.Forget(0x18)).Build()
			installLog(t, img, log)
			sum := fileSHA(t, img)
			_, err := planReadOnly(t, img)
			var ue *UnsupportedLogOpError
			if !errors.As(err, &ue) || ue.Op != logfile.OpUpdateRecordDataRoot || !strings.Contains(err.Error(), reason) {
				t.Fatalf("want a refusal (%s), got %v", reason, err)
			}
			if fileSHA(t, img) != sum {
				t.Fatal("a refused replay changed the volume")
			}
		})
	}
	other := rec
	other.UndoData = bytes.Repeat([]byte{0xEE}, len(oldData))
	refuse("data on disk neither old nor new", other, "neither the logged old nor new value")
	long := rec
	long.RedoData = make([]byte, dl+8)
	long.UndoData = nil
	refuse("data past the entry's data", long, "do not fit the entry's data")
	key := rec
	key.AttrOff += 8
	refuse("not an entry", key, "is not an index entry")
}

func mustRead(t *testing.T, p string, off int64, n int) []byte {
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRedoUpdateRecordDataBlock: the same operation on a view entry in an
// INDX block (synthetic block; no ntfs-3g change here grows a view index
// past its root).
func TestRedoUpdateRecordDataBlock(t *testing.T) {
	b := make([]byte, 4096)
	copy(b, "INDX")
	binary.LittleEndian.PutUint16(b[4:], 0x28)
	binary.LittleEndian.PutUint16(b[6:], 9)
	binary.LittleEndian.PutUint32(b[0x18:], 0x28)
	// one $SII-like entry: data at 0x14, 20 bytes; key 4 bytes
	e := b[0x40:]
	binary.LittleEndian.PutUint16(e[0:], 0x14)
	binary.LittleEndian.PutUint16(e[2:], 0x14)
	binary.LittleEndian.PutUint16(e[8:], 0x28)
	binary.LittleEndian.PutUint16(e[10:], 4)
	end := b[0x68:]
	binary.LittleEndian.PutUint16(end[8:], 0x10)
	binary.LittleEndian.PutUint32(end[12:], 2)
	binary.LittleEndian.PutUint32(b[0x1C:], 0x78-0x18)
	binary.LittleEndian.PutUint32(b[0x20:], 4096-0x18)
	data := bytes.Repeat([]byte{0xAB}, 0x14)
	r := logRecordWith(logfile.OpUpdateRecordDataAllocation, 0, 0x40, data, make([]byte, 0x14))
	if err := redoUpdateRecordDataBlock(b, r); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b[0x54:0x68], data) {
		t.Fatal("the entry's data was not replaced")
	}
	if err := redoUpdateRecordDataBlock(b, r); !errors.Is(err, errNoChange) {
		t.Fatalf("again: %v, want no change", err)
	}
	if err := redoUpdateRecordDataBlock(b, logRecordWith(logfile.OpUpdateRecordDataAllocation, 0, 0x68, data, nil)); err == nil {
		t.Fatal("an update of the end entry was accepted")
	}
	if err := checkIndexBlock(b, 4096); err != nil {
		t.Fatal(err)
	}
}
