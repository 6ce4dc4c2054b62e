package replay

import (
	"encoding/binary"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/unbrick/unbrick/ntfs"
	"github.com/unbrick/unbrick/ntfs/internal/ntfstest"
	"github.com/unbrick/unbrick/ntfs/logfile"
)

// TestReplayNonresidentValueRefusals: UpdateNonresidentValue records whose
// target cannot be resolved and checked, or whose shape the sources
// disagree on, stop the replay before any write, naming the operation and
// the LSN.
func TestReplayNonresidentValueRefusals(t *testing.T) {
	chs := nrValueChanges(t, "dir-grow", "sds")
	grow, sds := chs[0], chs[1]
	growRecs, _, _ := encodeVolumeChangeWith(t, grow.oracleChange, 0x18, indexEntries)
	sdsRecs, _, _ := encodeVolumeChangeWith(t, sds.oracleChange, 0x18, indexEntries)
	v, f := openImage(t, grow.a)
	lf, err := v.OpenRef(ntfs.MakeRef(ntfs.RecordLogFile, 0))
	if err != nil {
		t.Fatal(err)
	}
	ra, _, err := lf.AttrReader(ntfs.AttrData, "")
	if err != nil {
		t.Fatal(err)
	}
	logLCN, _ := ra.(*ntfs.RunReader).LCN(0)
	f.Close()
	first := func(recs []ntfstest.LogRecord, op logfile.LogOp) int {
		for i, r := range recs {
			if r.Redo == op {
				return i
			}
		}
		t.Fatalf("no %s record", op)
		return -1
	}
	cases := []struct {
		name   string
		ch     nrValueChange
		recs   []ntfstest.LogRecord
		mutate func(recs []ntfstest.LogRecord, unv int) []ntfstest.LogRecord
		reason string
	}{
		{"no open attribute", grow, growRecs, func(recs []ntfstest.LogRecord, unv int) []ntfstest.LogRecord {
			return append(recs[:unv-1:unv-1], recs[unv:]...) // drop the OpenNonresidentAttribute record
		}, "not in the open attribute table"},
		{"attribute offset", grow, growRecs, func(recs []ntfstest.LogRecord, unv int) []ntfstest.LogRecord {
			recs[unv].AttrOff = 8
			return recs
		}, "attribute offset 8"},
		{"clusters elsewhere", grow, growRecs, func(recs []ntfstest.LogRecord, unv int) []ntfstest.LogRecord {
			recs[unv].LCNs = []int64{recs[unv].LCNs[0] + 1}
			return recs
		}, "are not where attribute"},
		{"target is $LogFile", grow, growRecs, func(recs []ntfstest.LogRecord, unv int) []ntfstest.LogRecord {
			recs[unv-1] = openAttrRecord(ntfs.MakeRef(ntfs.RecordLogFile, ntfs.RecordLogFile), ntfs.AttrData, recs[unv].TargetAttr, 0x18)
			recs[unv].LCNs, recs[unv].VCN = []int64{logLCN}, 0
			return recs
		}, "$LogFile"},
		{"no redo data", grow, growRecs, func(recs []ntfstest.LogRecord, unv int) []ntfstest.LogRecord {
			recs[unv].RedoData = nil
			return recs
		}, "no redo data"},
		{"partial write where no block is", grow, growRecs, func(recs []ntfstest.LogRecord, unv int) []ntfstest.LogRecord {
			recs[unv].RecOff = 0x40
			recs[unv].RedoData = recs[unv].RedoData[0x40:0x80]
			return recs
		}, "for a partial write"},
		{"image of another VCN", grow, growRecs, func(recs []ntfstest.LogRecord, unv int) []ntfstest.LogRecord {
			img := clone(recs[unv].RedoData)
			binary.LittleEndian.PutUint64(img[0x10:], 7)
			recs[unv].RedoData = img
			return recs
		}, "the logged index block is VCN 7"},
		{"inconsistent image", grow, growRecs, func(recs []ntfstest.LogRecord, unv int) []ntfstest.LogRecord {
			img := clone(recs[unv].RedoData)
			binary.LittleEndian.PutUint32(img[0x1C:], uint32(len(img)-0x18-8))
			recs[unv].RedoData = img
			return recs
		}, "would be inconsistent"},
		{"wrong undo pairing", grow, growRecs, func(recs []ntfstest.LogRecord, unv int) []ntfstest.LogRecord {
			recs[unv].Undo = logfile.OpDeleteAttribute
			return recs
		}, "undo operation DeleteAttribute"},
		{"cluster index outside an index block", sds, sdsRecs, func(recs []ntfstest.LogRecord, unv int) []ntfstest.LogRecord {
			recs[unv].ClusterIdx = 1
			return recs
		}, "cluster index 1 outside an index block"},
		{"data flagged as an index block", sds, sdsRecs, func(recs []ntfstest.LogRecord, unv int) []ntfstest.LogRecord {
			recs[unv].AttrFlags = attrFlagActsOnINDX
			return recs
		}, "not an index allocation"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			recs := append([]ntfstest.LogRecord(nil), tc.recs...)
			unv := first(recs, logfile.OpUpdateNonresidentValue)
			recs = tc.mutate(recs, unv)
			at := first(recs, logfile.OpUpdateNonresidentValue)
			p := filepath.Join(t.TempDir(), "v.img")
			replayCopy(t, tc.ch.a, p)
			log, lsns := ntfstest.WithCheckpoint(4*4096+0x40, 3, append(recs, ntfstest.Forget(0x18))...).Build()
			installLog(t, p, log)
			before := fileSHA(t, p)
			_, err := planReadOnly(t, p)
			var ue *UnsupportedLogOpError
			if !errors.As(err, &ue) || ue.Op != logfile.OpUpdateNonresidentValue || ue.LSN != lsns[at+1] || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("want a refusal of UpdateNonresidentValue at %#x (%s), got %v", uint64(lsns[at+1]), tc.reason, err)
			}
			if fileSHA(t, p) != before {
				t.Fatal("a refused replay changed the volume")
			}
		})
	}
}

// indexTestBlock is a fixed-up 4096-byte INDX block holding entries
// (each a length; the last gets the end flag) after a 0x28-byte header.
func indexTestBlock(sub bool, lengths ...int) []byte {
	b := make([]byte, 4096)
	copy(b, "INDX")
	binary.LittleEndian.PutUint16(b[4:], 0x28)
	binary.LittleEndian.PutUint16(b[6:], 9)
	p := 0x40
	for i, l := range lengths {
		binary.LittleEndian.PutUint16(b[p+8:], uint16(l))
		flags := uint32(0)
		if sub {
			flags |= 1
			binary.LittleEndian.PutUint64(b[p+l-8:], uint64(10+i))
		}
		if i == len(lengths)-1 {
			flags |= 2
		} else {
			binary.LittleEndian.PutUint16(b[p+10:], uint16(l-0x10-8))
			b[p] = byte(i + 1)
		}
		binary.LittleEndian.PutUint32(b[p+12:], flags)
		p += l
	}
	binary.LittleEndian.PutUint32(b[0x18:], 0x28)
	binary.LittleEndian.PutUint32(b[0x1C:], uint32(p-0x18))
	binary.LittleEndian.PutUint32(b[0x20:], 4096-0x18)
	return b
}

func logRecordWith(redo logfile.LogOp, recOff, attrOff int, data, undo []byte) *logfile.LogRecord {
	cd := append(append([]byte(nil), data...), undo...)
	return &logfile.LogRecord{Redo: redo, Undo: redo, RecordOffset: uint16(recOff), AttrOffset: uint16(attrOff), ClientData: cd,
		RedoLength: uint16(len(data)), UndoOffset: uint16(len(data)), UndoLength: uint16(len(undo))}
}

// TestRedoWriteEndOfIndexBlock: the entries from the attribute offset are
// replaced and the index length follows; shapes the sources disagree on
// are refused.
func TestRedoWriteEndOfIndexBlock(t *testing.T) {
	b := indexTestBlock(false, 0x60, 0x60, 0x10)
	// cut the block after its first entry: a new end entry at 0xA0
	end := make([]byte, 0x10)
	binary.LittleEndian.PutUint16(end[8:], 0x10)
	binary.LittleEndian.PutUint32(end[12:], 2)
	r := logRecordWith(logfile.OpWriteEndOfIndexBuffer, 0, 0xA0, end, b[0xA0:0x110])
	if err := redoWriteEndOfIndexBlock(b, r); err != nil {
		t.Fatal(err)
	}
	if got := binary.LittleEndian.Uint32(b[0x1C:]); got != 0xB0-0x18 {
		t.Fatalf("index length %#x, want %#x", got, 0xB0-0x18)
	}
	if err := checkIndexBlock(b, 4096); err != nil {
		t.Fatalf("the cut block: %v", err)
	}
	if err := redoWriteEndOfIndexBlock(b, r); !errors.Is(err, errNoChange) {
		t.Fatalf("redoing it again: %v, want no change", err)
	}
	// the entries in place but another index length: refused
	binary.LittleEndian.PutUint32(b[0x1C:], 0x200)
	if err := redoWriteEndOfIndexBlock(b, r); err == nil || !strings.Contains(err.Error(), "sources disagree") {
		t.Fatalf("got %v, want a refusal", err)
	}
	// not at an entry
	c := indexTestBlock(false, 0x60, 0x60, 0x10)
	if err := redoWriteEndOfIndexBlock(c, logRecordWith(logfile.OpWriteEndOfIndexBuffer, 0, 0xA8, end, nil)); err == nil {
		t.Fatal("a write in the middle of an entry was accepted")
	}
	// past the allocated size
	if err := redoWriteEndOfIndexBlock(c, logRecordWith(logfile.OpWriteEndOfIndexBuffer, 0, 0xA0, make([]byte, 4096-0xA0+8), nil)); err == nil {
		t.Fatal("a write past the allocated size was accepted")
	}
}

// TestRedoSetIndexEntryVcn: the sub-node VCN at the entry's end changes;
// an entry without a sub-node, and (root) a VCN on disk that is neither
// the logged old nor new one, are refused.
func TestRedoSetIndexEntryVcn(t *testing.T) {
	b := indexTestBlock(true, 0x68, 0x18)
	newVCN := make([]byte, 8)
	binary.LittleEndian.PutUint64(newVCN, 42)
	if err := redoSetIndexEntryVcnBlock(b, logRecordWith(logfile.OpSetIndexEntryVcnAllocation, 0, 0xA8, newVCN, nil)); err != nil {
		t.Fatal(err)
	}
	if got := binary.LittleEndian.Uint64(b[0xA8+0x18-8:]); got != 42 {
		t.Fatalf("VCN %d, want 42", got)
	}
	if err := redoSetIndexEntryVcnBlock(b, logRecordWith(logfile.OpSetIndexEntryVcnAllocation, 0, 0xA8, newVCN, nil)); !errors.Is(err, errNoChange) {
		t.Fatalf("again: %v, want no change", err)
	}
	leaf := indexTestBlock(false, 0x60, 0x10)
	if err := redoSetIndexEntryVcnBlock(leaf, logRecordWith(logfile.OpSetIndexEntryVcnAllocation, 0, 0x40, newVCN, nil)); err == nil || !strings.Contains(err.Error(), "no sub-node") {
		t.Fatalf("got %v, want a refusal (no sub-node)", err)
	}
	// the root form checks the old value
	old := make([]byte, 8)
	binary.LittleEndian.PutUint64(old, 7)
	if err := setEntryVCN(b, 0x40, 0x40+0x80, newVCN, old, true); err == nil || !strings.Contains(err.Error(), "neither") {
		t.Fatalf("got %v, want a refusal (VCN on disk is neither old nor new)", err)
	}
	binary.LittleEndian.PutUint64(old, 10)
	if err := setEntryVCN(b, 0x40, 0x40+0x80, newVCN, old, true); err != nil {
		t.Fatal(err)
	}
}

// TestReplayIndexOpChecksOpenAttribute: an index-block operation whose
// target attribute the open attribute table names must be that
// directory's $INDEX_ALLOCATION at the logged clusters.
func TestReplayIndexOpChecksOpenAttribute(t *testing.T) {
	ch := nrValueChanges(t, "dir-block-delete")[0]
	recs, _, _ := encodeVolumeChangeWith(t, ch.oracleChange, 0x18, indexWriteEnd)
	we := -1
	for i, r := range recs {
		if r.Redo == logfile.OpWriteEndOfIndexBuffer && i > 0 && recs[i-1].Redo == logfile.OpOpenNonresidentAttribute {
			we = i
			break
		}
	}
	if we < 0 {
		t.Fatal("no WriteEndOfIndexBuffer after an OpenNonresidentAttribute record")
	}
	for _, tc := range []struct {
		name   string
		open   ntfstest.LogRecord
		reason string
	}{
		{"another file's stream", openAttrRecord(ntfs.MakeRef(ntfs.RecordSecure, ntfs.RecordSecure), ntfs.AttrData, recs[we].TargetAttr, 0x18), "are not where attribute"},
		{"a record past the end of $MFT", openAttrRecord(ntfs.MakeRef(5000, 1), ntfs.AttrIndexAllocation, recs[we].TargetAttr, 0x18), "past the end of $MFT"},
		{"a stale sequence number", openAttrRecord(ntfs.MakeRef(ntfs.RecordRoot, 77), ntfs.AttrIndexAllocation, recs[we].TargetAttr, 0x18), "not in use with that sequence number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := append([]ntfstest.LogRecord(nil), recs...)
			bad[we-1] = tc.open
			p := filepath.Join(t.TempDir(), "v.img")
			replayCopy(t, ch.a, p)
			log, lsns := ntfstest.WithCheckpoint(4*4096+0x40, 3, append(bad, ntfstest.Forget(0x18))...).Build()
			installLog(t, p, log)
			sum := fileSHA(t, p)
			_, err := planReadOnly(t, p)
			var ue *UnsupportedLogOpError
			if !errors.As(err, &ue) || ue.Op != logfile.OpWriteEndOfIndexBuffer || ue.LSN != lsns[we+1] || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("want a refusal of WriteEndOfIndexBuffer at %#x (%s), got %v", uint64(lsns[we+1]), tc.reason, err)
			}
			if fileSHA(t, p) != sum {
				t.Fatal("a refused replay changed the volume")
			}
		})
	}
}

// TestReplayUncommittedNonresidentValueOnDisk: an uncommitted change of
// $SDS whose new bytes are already on disk would need undo: refused; the
// same change not yet on disk is simply not redone.
func TestReplayUncommittedNonresidentValueOnDisk(t *testing.T) {
	ch := nrValueChanges(t, "sds")[0]
	recs, _, _ := encodeVolumeChangeWith(t, ch.oracleChange, 0x18, indexEntries)
	for _, tc := range []struct {
		name, img string
		refuse    bool
	}{{"on disk", ch.b, true}, {"not on disk", ch.a, false}} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "v.img")
			replayCopy(t, tc.img, p)
			log, _ := ntfstest.WithCheckpoint(4*4096+0x40, 3, recs...).Build() // no ForgetTransaction
			installLog(t, p, log)
			sum := fileSHA(t, p)
			res, err := planReadOnly(t, p)
			var ue *UnsupportedLogOpError
			switch {
			case tc.refuse && (!errors.As(err, &ue) || !ue.Undo || !strings.Contains(err.Error(), "predates the log record")):
				// The after image ntfs-3g wrote carries no LSN of
				// the log: its changes are there with older LSNs.
				t.Fatalf("want an undo refusal (change on disk under an older page LSN), got %v", err)
			case !tc.refuse && err != nil:
				t.Fatal(err)
			case !tc.refuse && len(res.Redone) != 0:
				t.Fatalf("uncommitted records redone: %v", res.Redone)
			}
			if fileSHA(t, p) != sum {
				t.Fatal("planning changed the volume")
			}
		})
	}
}

// TestReplayGrownMFTRefusals: a file record past the end of $MFT is
// redone only where the log's own (redone) growth of $MFT puts it.
func TestReplayGrownMFTRefusals(t *testing.T) {
	ch := nrValueChanges(t, "mft-grow")[0]
	recs, _, _ := encodeVolumeChangeWith(t, ch.oracleChange, 0x18, indexEntries)
	v, f := openImage(t, ch.a)
	nrecs, rs, cs := v.MFTRecords(), int64(v.Boot().RecordSize), int64(v.Boot().ClusterSize)
	f.Close()
	past := -1
	for i, r := range recs {
		if r.Redo == logfile.OpInitializeFileRecordSegment && uint64((r.VCN*cs+int64(r.ClusterIdx)*512)/rs) >= nrecs {
			past = i
			break
		}
	}
	if past < 0 {
		t.Fatal("the change creates no record past the end of $MFT")
	}
	for _, tc := range []struct {
		name   string
		mutate func([]ntfstest.LogRecord) []ntfstest.LogRecord
		reason string
	}{
		{"no growth in the log", func(rs []ntfstest.LogRecord) []ntfstest.LogRecord {
			var out []ntfstest.LogRecord
			for _, r := range rs {
				if (r.Redo == logfile.OpUpdateMappingPairs || r.Redo == logfile.OpSetNewAttributeSizes) && r.VCN == 0 && r.ClusterIdx == 0 {
					continue // $MFT's own record
				}
				out = append(out, r)
			}
			return out
		}, "does not reach it"},
		{"another cluster", func(rs []ntfstest.LogRecord) []ntfstest.LogRecord {
			rs[past].LCNs = []int64{rs[past].LCNs[0] + 7}
			return rs
		}, "not where $MFT's run list puts it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := tc.mutate(append([]ntfstest.LogRecord(nil), recs...))
			p := filepath.Join(t.TempDir(), "v.img")
			replayCopy(t, ch.a, p)
			log, _ := ntfstest.WithCheckpoint(4*4096+0x40, 3, append(bad, ntfstest.Forget(0x18))...).Build()
			installLog(t, p, log)
			sum := fileSHA(t, p)
			_, err := planReadOnly(t, p)
			var ue *UnsupportedLogOpError
			if !errors.As(err, &ue) || ue.Op != logfile.OpInitializeFileRecordSegment || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("want a refusal of InitializeFileRecordSegment (%s), got %v", tc.reason, err)
			}
			if fileSHA(t, p) != sum {
				t.Fatal("a refused replay changed the volume")
			}
		})
	}
}
