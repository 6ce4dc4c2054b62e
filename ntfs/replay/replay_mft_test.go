package replay

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/unbrick/unbrick/ntfs"
	"github.com/unbrick/unbrick/ntfs/internal/ntfstest"
	"github.com/unbrick/unbrick/ntfs/logfile"
)

// zeroInitializedRecords overwrites, on the volume at img, every MFT record
// the change initialises with zeros: a record never used before, whose
// fixups do not hold.
func zeroInitializedRecords(t *testing.T, img string, change []ntfstest.LogRecord) {
	v, f := openImage(t, img)
	defer f.Close()
	for _, c := range change {
		if c.Redo != logfile.OpInitializeFileRecordSegment {
			continue
		}
		at := c.LCNs[0]*int64(v.Boot().ClusterSize) + int64(c.ClusterIdx)*512
		if _, err := f.WriteAt(make([]byte, v.Boot().RecordSize), at); err != nil {
			t.Fatal(err)
		}
	}
}

// TestReplayOracleFreshRecord: InitializeFileRecordSegment onto a record
// that never held a FILE record (ntfsrecover starts from zeros, as we do).
func TestReplayOracleFreshRecord(t *testing.T) {
	ntfsrecover := replayNeedTool(t, "ntfsrecover")
	ch := mftChanges(t, "create")[0]
	change, changed, _ := encodeVolumeChange(t, ch, 0x18)
	tc := oracleCase{name: "fresh-record", committed: true, prepare: zeroInitializedRecords,
		journal: func(c []ntfstest.LogRecord) *ntfstest.LogGen {
			return ntfstest.WithCheckpoint(4*4096+0x40, 3, append(c, ntfstest.Forget(0x18))...)
		}}
	oracleRun(t, ntfsrecover, replayCheckTool(), ch, tc, change, changed)
}

// TestReplayMFTRefusals: committed MFT-record operations that cannot be
// redone safely stop the replay before any write, naming the operation and
// its LSN.
func TestReplayMFTRefusals(t *testing.T) {
	ch := mftChanges(t, "create")[0] // Initialize, UpdateResidentValue, AddIndexEntryRoot, SetBits
	change, _, _ := encodeVolumeChange(t, ch, 0x18)
	find := func(op logfile.LogOp) ntfstest.LogRecord {
		for _, c := range change {
			if c.Redo == op {
				return c
			}
		}
		t.Fatalf("the create change has no %s record", op)
		return ntfstest.LogRecord{}
	}
	add, init := find(logfile.OpAddIndexEntryRoot), find(logfile.OpInitializeFileRecordSegment)
	cases := []struct {
		name    string
		rec     func() ntfstest.LogRecord
		prepare func(t *testing.T, img string, change []ntfstest.LogRecord)
		reason  string
	}{
		{"wrong undo pairing", func() ntfstest.LogRecord { c := add; c.Undo = logfile.OpNoop; return c }, nil, "undo operation Noop"},
		{"index entry outside the root", func() ntfstest.LogRecord { c := add; c.AttrOff = 8; return c }, nil, "not inside the root's index entries"},
		{"not an index root", func() ntfstest.LogRecord { c := add; c.RecOff = 0x38; return c }, nil, "not a resident $INDEX_ROOT"},
		{"record end write changing the length", func() ntfstest.LogRecord {
			c := add
			c.Redo, c.Undo, c.UndoData = logfile.OpWriteEndOfFileRecordSegment, logfile.OpWriteEndOfFileRecordSegment, c.RedoData[:8]
			return c
		}, nil, "changes the record's length"},
		{"deleted attribute differs from the log", func() ntfstest.LogRecord {
			c := init
			// the file's first attribute ($STANDARD_INFORMATION) as undo
			// data, with one byte changed
			img := c.RedoData
			off := le16(img, 0x14)
			attr := clone(img[off : off+le32(img, off+4)])
			attr[0x20] ^= 0xFF
			c.Redo, c.Undo, c.RedoData, c.UndoData, c.RecOff = logfile.OpDeleteAttribute, logfile.OpCreateAttribute, nil, attr, uint16(off)
			return c
		}, nil, "not the one the log deletes"},
		{"partial image on a never-used record", func() ntfstest.LogRecord {
			c := init
			c.RedoData = c.RedoData[:0x30]
			return c
		}, zeroInitializedRecords, "not a valid FILE record"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "v.img")
			replayCopy(t, ch.a, p)
			bad := tc.rec()
			recs := []ntfstest.LogRecord{bad, ntfstest.Forget(0x18)}
			at := 0
			if bad.Redo == logfile.OpDeleteAttribute {
				// the new file's record must exist for the delete
				recs, at = []ntfstest.LogRecord{init, bad, ntfstest.Forget(0x18)}, 1
			}
			log, lsns := ntfstest.WithCheckpoint(4*4096+0x40, 3, recs...).Build()
			installLog(t, p, log)
			if tc.prepare != nil {
				tc.prepare(t, p, []ntfstest.LogRecord{init})
			}
			before := fileSHA(t, p)
			_, err := planReadOnly(t, p)
			var ue *UnsupportedLogOpError
			if !errors.As(err, &ue) || ue.Op != bad.Redo || !strings.Contains(err.Error(), tc.reason) || !strings.Contains(err.Error(), bad.Redo.String()) {
				t.Fatalf("want a refusal of %s (%s), got %v", bad.Redo, tc.reason, err)
			}
			if ue.LSN != lsns[at+1] { // lsns[0] is the checkpoint
				t.Errorf("refusal names LSN %#x, the record is at %#x", uint64(ue.LSN), uint64(lsns[at+1]))
			}
			if fileSHA(t, p) != before {
				t.Fatal("a refused replay changed the volume")
			}
		})
	}
}

// TestReplayOracleWriteEnd: a same-length WriteEndOfFileRecordSegment
// rewriting a file's last attribute ($DATA, new content of the same size)
// through the record's end marker, against ntfsrecover.
func TestReplayOracleWriteEnd(t *testing.T) {
	ntfsrecover := replayNeedTool(t, "ntfsrecover")
	ch := mftChanges(t, "overwrite")[0]
	change, changed, _ := encodeVolumeChange(t, ch, 0x18)
	va, fa := openImage(t, ch.a)
	defer fa.Close()
	vb, fb := openImage(t, ch.b)
	defer fb.Close()
	n := 0
	for i, c := range change {
		if c.Redo != logfile.OpUpdateResidentValue {
			continue
		}
		rec := uint64((c.VCN*int64(va.Boot().ClusterSize) + int64(c.ClusterIdx)*512) / int64(va.Boot().RecordSize))
		a, _ := rawMFTRecord(t, va, rec)
		b, _ := rawMFTRecord(t, vb, rec)
		off := int(c.RecOff)
		if binary.LittleEndian.Uint32(a[off:]) != uint32(ntfs.AttrData) {
			continue
		}
		ua, ub := le32(a, 0x18), le32(b, 0x18)
		if ua != ub {
			t.Fatalf("record %d: bytes in use %d -> %d", rec, ua, ub)
		}
		change[i] = mftRecordOp(va, rec, 0x18, logfile.OpWriteEndOfFileRecordSegment, logfile.OpWriteEndOfFileRecordSegment, off, 0,
			clone(b[off:ub]), clone(a[off:ua]))
		n++
	}
	if n != 1 {
		t.Fatalf("%d $DATA value updates in the overwrite change, want 1", n)
	}
	for _, tc := range oracleCases {
		if tc.name == "committed" || tc.name == "uncommitted-tail" || tc.name == "already-on-disk" {
			t.Run(tc.name, func(t *testing.T) { oracleRun(t, ntfsrecover, replayCheckTool(), ch, tc, change, changed) })
		}
	}
}

// TestReplayIndexBlockRefusals: index-block operations whose clusters are
// not the index block the log names stop the replay before any write.
func TestReplayIndexBlockRefusals(t *testing.T) {
	ch := mftChanges(t, "root-create")[0]
	change, _, _ := encodeVolumeChange(t, ch, 0x18)
	var add ntfstest.LogRecord
	for _, c := range change {
		if c.Redo == logfile.OpAddIndexEntryAllocation {
			add = c
		}
	}
	if add.Redo == 0 {
		t.Fatal("the root-create change has no AddIndexEntryAllocation")
	}
	v, f := openImage(t, ch.a)
	cs := int64(v.Boot().ClusterSize)
	block := make([]byte, v.Boot().IndexBlockSize)
	if _, err := f.ReadAt(block, add.LCNs[0]*cs); err != nil {
		t.Fatal(err)
	}
	// a free cluster: the last one whose $Bitmap bit is clear
	ov := newOverlay(f, int64(v.Boot().BytesPerSector))
	free := int64(-1)
	for lcn := v.Boot().TotalClusters() - 2; lcn > 0 && free < 0; lcn-- {
		if used, err := clusterInUse(v, ov, lcn); err == nil && !used {
			free = lcn
		}
	}
	f.Close()
	if free < 0 {
		t.Fatal("no free cluster")
	}
	cases := []struct {
		name    string
		mutate  func(c *ntfstest.LogRecord)
		prepare func(t *testing.T, img string)
		reason  string
	}{
		{"wrong VCN", func(c *ntfstest.LogRecord) { c.VCN++ }, nil, "the log names VCN"},
		{"not an index block", func(c *ntfstest.LogRecord) { c.LCNs = []int64{v.Boot().MFTLCN} }, nil, "no valid INDX block"},
		{"index block copy on a free cluster", func(c *ntfstest.LogRecord) { c.LCNs = []int64{free} }, func(t *testing.T, img string) {
			w, err := os.OpenFile(img, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			if _, err := w.WriteAt(block, free*cs); err != nil {
				t.Fatal(err)
			}
		}, "free in $Bitmap"},
		{"wrong undo pairing", func(c *ntfstest.LogRecord) { c.Undo = logfile.OpNoop }, nil, "undo operation Noop"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "v.img")
			replayCopy(t, ch.a, p)
			bad := add
			bad.LCNs = append([]int64(nil), add.LCNs...)
			tc.mutate(&bad)
			log, lsns := ntfstest.WithCheckpoint(4*4096+0x40, 3, bad, ntfstest.Forget(0x18)).Build()
			installLog(t, p, log)
			if tc.prepare != nil {
				tc.prepare(t, p)
			}
			before := fileSHA(t, p)
			_, err := planReadOnly(t, p)
			var ue *UnsupportedLogOpError
			if !errors.As(err, &ue) || ue.Op != logfile.OpAddIndexEntryAllocation || ue.LSN != lsns[1] || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("want a refusal of AddIndexEntryAllocation at %#x (%s), got %v", uint64(lsns[1]), tc.reason, err)
			}
			if fileSHA(t, p) != before {
				t.Fatal("a refused replay changed the volume")
			}
		})
	}
}
