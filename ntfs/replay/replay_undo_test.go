package replay

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/unbrick/unbrick/ntfs/internal/ntfstest"
	"github.com/unbrick/unbrick/ntfs/logfile"
)

// TestReplayUndoRefusals: roll-backs Plan does not do are refused
// with the record's operation and LSN, and nothing is written. Each case
// is a real ntfs-3g change that reached the disk (the after image, its
// records stamped with the log's newest LSN), logged as one uncommitted
// transaction, with one record altered.
func TestReplayUndoRefusals(t *testing.T) {
	chs := mftChanges(t, "create", "delete")
	create, _, _ := encodeVolumeChange(t, chs[0], 0x18)
	del, _, _ := encodeVolumeChange(t, chs[1], 0x18)
	alter := func(recs []ntfstest.LogRecord, op logfile.LogOp, fn func(*ntfstest.LogRecord)) []ntfstest.LogRecord {
		out := append([]ntfstest.LogRecord(nil), recs...)
		for i := range out {
			if out[i].Redo == op {
				fn(&out[i])
				return out
			}
		}
		t.Fatalf("no %s record", op)
		return nil
	}
	cases := []struct {
		name   string
		ch     oracleChange
		recs   []ntfstest.LogRecord
		op     logfile.LogOp
		reason string
	}{
		{"bitmap undo range differs from the redo range", chs[0], alter(create, logfile.OpSetBitsInNonresidentBitMap, func(r *ntfstest.LogRecord) {
			r.UndoData = clone(r.UndoData)
			r.UndoData[0]++
		}), logfile.OpSetBitsInNonresidentBitMap, "undo bitmap range is not the redo range"},
		{"partial old image of a deallocated record", chs[1], alter(del, logfile.OpDeallocateFileRecordSegment, func(r *ntfstest.LogRecord) {
			r.UndoData = clone(r.UndoData[:0x30])
		}), logfile.OpDeallocateFileRecordSegment, "not a whole MFT record"},
		{"a partly rolled back transaction", chs[0], append(append([]ntfstest.LogRecord(nil), create...),
			ntfstest.LogRecord{Type: logfile.LogRecordStandard, Tx: 0x18, Redo: logfile.OpCompensationLogRecord, Undo: logfile.OpNoop}),
			logfile.OpCompensationLogRecord, "compensation records"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "v.img")
			replayCopy(t, tc.ch.b, p)
			log, _ := ntfstest.WithCheckpoint(4*4096+0x40, 3, tc.recs...).Build() // no ForgetTransaction
			installLog(t, p, log)
			stampChangeLSNs(t, p, tc.recs)
			before := fileSHA(t, p)
			_, err := planReadOnly(t, p)
			var ue *UnsupportedLogOpError
			if !errors.As(err, &ue) || !ue.Undo || ue.Op != tc.op || ue.LSN == 0 || !strings.Contains(err.Error(), tc.reason) ||
				!strings.Contains(err.Error(), "cannot undo "+tc.op.String()) {
				t.Fatalf("want an undo refusal of %s (%q), got %v", tc.op, tc.reason, err)
			}
			if fileSHA(t, p) != before {
				t.Fatal("a refused replay changed the volume")
			}
			t.Log(err)
		})
	}
	// Unaltered, the same journals roll back (the oracle tests compare
	// the result with ntfsrecover -u).
	for i, recs := range [][]ntfstest.LogRecord{create, del} {
		p := filepath.Join(t.TempDir(), "v.img")
		replayCopy(t, chs[i].b, p)
		log, _ := ntfstest.WithCheckpoint(4*4096+0x40, 3, recs...).Build()
		installLog(t, p, log)
		stampChangeLSNs(t, p, recs)
		res, err := planReadOnly(t, p)
		if err != nil {
			t.Fatalf("%s: %v", chs[i].name, err)
		}
		if len(res.Undone) == 0 || len(res.Redone) != 0 {
			t.Fatalf("%s: undone %v, redone %v", chs[i].name, res.Undone, res.Redone)
		}
		if !strings.Contains(res.Summary(), "rolled back") {
			t.Errorf("summary %q does not say what was rolled back", res.Summary())
		}
	}
}

// TestOverlayFork: a fork sees its base's staged bytes, and its own
// writes stay out of the base and out of the base's plan.
func TestOverlayFork(t *testing.T) {
	disk := make([]byte, 4096)
	for i := range disk {
		disk[i] = byte(i)
	}
	base := newOverlay(bytesReaderAt(disk), 512)
	if err := base.write(600, []byte{0xAA, 0xBB}); err != nil {
		t.Fatal(err)
	}
	c := base.fork()
	got, err := c.read(600, 2)
	if err != nil || got[0] != 0xAA || got[1] != 0xBB {
		t.Fatalf("fork reads %x, %v; want the base's staged aabb", got, err)
	}
	if err := c.write(600, []byte{1, 2}); err != nil {
		t.Fatal(err)
	}
	if err := c.write(2000, []byte{9}); err != nil {
		t.Fatal(err)
	}
	if b, _ := base.read(600, 2); b[0] != 0xAA || b[1] != 0xBB {
		t.Fatalf("the fork's write reached the base: %x", b)
	}
	if b, _ := base.read(2000, 1); b[0] != disk[2000] {
		t.Fatalf("the fork's write reached the base: %x", b)
	}
	if p := base.plan(); len(p.Writes) != 1 || p.Writes[0].Offset != 512 {
		t.Fatalf("base plan %+v, want the one sector it changed", p.Writes)
	}
}

type bytesReaderAt []byte

func (b bytesReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > int64(len(b)) {
		return 0, errors.New("out of range")
	}
	return copy(p, b[off:]), nil
}
