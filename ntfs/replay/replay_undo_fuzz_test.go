package replay

import (
	"encoding/binary"
	"testing"

	"github.com/unbrick/unbrick/ntfs/logfile"
)

// undoMFTFunc is the MFT-record change the undo pass runs for r (with r
// seen through undoView, or as is for a new file record), nil when the
// pair is not rolled back that way.
func undoMFTFunc(r *logfile.LogRecord) (func([]byte, *logfile.LogRecord) error, *logfile.LogRecord) {
	if r.Redo == logfile.OpInitializeFileRecordSegment && r.Undo == logfile.OpNoop {
		return undoInitializeRecord, withUndoPass(r)
	}
	u := undoView(r)
	fn := mftChange(u.Redo)
	if fn == nil || !needsUndo(r) {
		return nil, nil
	}
	if !containsOp(mftUndoPairs[r.Redo], r.Undo) || !containsOp(mftUndoPairs[u.Redo], u.Undo) {
		return nil, nil
	}
	return fn, u
}

// FuzzUndoMFTRecordOps runs the roll-back of every MFT-record operation
// pair (the undo operation with the undo data, through undoView) on
// arbitrary record bytes and log data: errors are fine, panics are not.
func FuzzUndoMFTRecordOps(f *testing.F) {
	rec, attr := mftFuzzSeed(3)
	for redo, undos := range mftUndoPairs {
		for _, undo := range undos {
			f.Add(rec, uint16(redo), uint16(undo), uint16(0x98), uint16(0), attr, []byte(nil))
			f.Add(rec, uint16(redo), uint16(undo), uint16(0x98), uint16(0), []byte(nil), attr)
			f.Add(rec, uint16(redo), uint16(undo), uint16(0x38), uint16(0x18), attr[:8], attr[8:16])
			f.Add(rec, uint16(redo), uint16(undo), uint16(0), uint16(0), rec[:0xA0], rec[:0xA0])
		}
	}
	f.Fuzz(func(t *testing.T, record []byte, redoOp, undoOp, recOff, attrOff uint16, redo, undo []byte) {
		if len(redo) > 4096 || len(undo) > 4096 {
			return
		}
		b := make([]byte, 1024)
		copy(b, record)
		cd := append(append([]byte(nil), redo...), undo...)
		r := &logfile.LogRecord{Redo: logfile.LogOp(redoOp), Undo: logfile.LogOp(undoOp), RecordOffset: recOff, AttrOffset: attrOff, ClientData: cd,
			RedoLength: uint16(len(redo)), UndoOffset: uint16(len(redo)), UndoLength: uint16(len(undo))}
		fn, u := undoMFTFunc(r)
		if fn == nil {
			return
		}
		if err := fn(b, u); err == nil {
			_ = checkMFTRecordShape(b)
		}
	})
}

// FuzzUndoIndexBlockOps runs the roll-back of the index-block operation
// pairs, and of a partial UpdateNonresidentValue of an index block (no LSN
// check in an undo), on arbitrary block bytes and log data.
func FuzzUndoIndexBlockOps(f *testing.F) {
	blk := make([]byte, 4096)
	copy(blk, "INDX")
	binary.LittleEndian.PutUint16(blk[4:], 0x28)
	binary.LittleEndian.PutUint16(blk[6:], 9)
	binary.LittleEndian.PutUint32(blk[0x18:], 0x28)
	binary.LittleEndian.PutUint32(blk[0x1C:], 0x28+0x10)
	binary.LittleEndian.PutUint32(blk[0x20:], 4096-0x18)
	binary.LittleEndian.PutUint16(blk[0x40+8:], 0x10)
	binary.LittleEndian.PutUint32(blk[0x40+12:], 2)
	entry := make([]byte, 0x60)
	binary.LittleEndian.PutUint16(entry[8:], 0x60)
	binary.LittleEndian.PutUint16(entry[10:], 0x44)
	for redo, undos := range indxUndoPairs {
		for _, undo := range undos {
			f.Add(blk, uint16(redo), uint16(undo), uint16(0x40), entry, entry)
			f.Add(blk, uint16(redo), uint16(undo), uint16(0x40), []byte(nil), entry)
		}
	}
	f.Add(blk, uint16(logfile.OpUpdateNonresidentValue), uint16(logfile.OpUpdateNonresidentValue), uint16(0x40), entry[:0x10], entry[:0x10])
	funcs := map[logfile.LogOp]func([]byte, *logfile.LogRecord) error{
		logfile.OpAddIndexEntryAllocation:    redoAddIndexEntryBlock,
		logfile.OpDeleteIndexEntryAllocation: redoDeleteIndexEntryBlock,
		logfile.OpUpdateFileNameAllocation:   redoUpdateFileNameBlock,
		logfile.OpWriteEndOfIndexBuffer:      redoWriteEndOfIndexBlock,
		logfile.OpSetIndexEntryVcnAllocation: redoSetIndexEntryVcnBlock,
		logfile.OpUpdateRecordDataAllocation: redoUpdateRecordDataBlock,
	}
	f.Fuzz(func(t *testing.T, block []byte, redoOp, undoOp, attrOff uint16, redo, undo []byte) {
		if len(redo) > 8192 || len(undo) > 8192 {
			return
		}
		b := make([]byte, 4096)
		copy(b, block)
		cd := append(append([]byte(nil), redo...), undo...)
		r := &logfile.LogRecord{Redo: logfile.LogOp(redoOp), Undo: logfile.LogOp(undoOp), AttrOffset: attrOff, ClientData: cd, LSN: 0x1000,
			RedoLength: uint16(len(redo)), UndoOffset: uint16(len(redo)), UndoLength: uint16(len(undo))}
		u := undoView(r)
		if r.Redo == logfile.OpUpdateNonresidentValue && r.Undo == logfile.OpUpdateNonresidentValue {
			u.RecordOffset, u.AttrOffset = attrOff, 0
			if nb, err := indexBlockValue(b, u, u.RedoData(), 0, 0x2000); err == nil {
				if err := checkIndexBlock(nb, len(nb)); err != nil {
					t.Fatalf("indexBlockValue returned an inconsistent block: %v", err)
				}
			}
			return
		}
		if !containsOp(indxUndoPairs[r.Redo], r.Undo) || !containsOp(indxUndoPairs[u.Redo], u.Undo) {
			return
		}
		if fn := funcs[u.Redo]; fn != nil {
			if err := fn(b, u); err == nil {
				_ = checkIndexEntries(b, indxHdrOff)
			}
		}
	})
}
