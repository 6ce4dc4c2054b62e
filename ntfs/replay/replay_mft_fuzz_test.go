package replay

import (
	"encoding/binary"
	"testing"

	"github.com/unbrick/unbrick/ntfs"
	"github.com/unbrick/unbrick/ntfs/internal/mst"
	"github.com/unbrick/unbrick/ntfs/logfile"
)

// mftFuzzSeed is the seed MFT record of the MFT-record fuzz targets: a
// 1024-byte FILE record (next attribute id nextID) holding one resident
// $STANDARD_INFORMATION-sized attribute and the end marker, and a small
// resident $DATA attribute to create or insert.
func mftFuzzSeed(nextID uint16) (rec, attr []byte) {
	rec = make([]byte, 1024)
	copy(rec, "FILE")
	binary.LittleEndian.PutUint16(rec[0x14:], 0x38)
	binary.LittleEndian.PutUint32(rec[0x18:], 0x38+0x60+8)
	binary.LittleEndian.PutUint32(rec[0x1C:], 1024)
	binary.LittleEndian.PutUint16(rec[0x28:], nextID)
	a := rec[0x38:]
	binary.LittleEndian.PutUint32(a[0:], 0x10)
	binary.LittleEndian.PutUint32(a[4:], 0x60)
	binary.LittleEndian.PutUint32(a[0x10:], 0x48)
	binary.LittleEndian.PutUint16(a[0x14:], 0x18)
	binary.LittleEndian.PutUint32(rec[0x38+0x60:], 0xFFFFFFFF)
	attr = make([]byte, 0x18+8)
	binary.LittleEndian.PutUint32(attr[0:], 0x80)
	binary.LittleEndian.PutUint32(attr[4:], uint32(len(attr)))
	binary.LittleEndian.PutUint16(attr[0x0E:], 2)
	binary.LittleEndian.PutUint16(attr[0x14:], 0x18)
	binary.LittleEndian.PutUint32(attr[0x10:], 8)
	return rec, attr
}

// FuzzRedoMFTRecordOps runs every MFT-record redo on arbitrary record bytes
// and log data: errors are fine, panics are not, and a change that
// succeeds must leave bytes in use inside the record.
func FuzzRedoMFTRecordOps(f *testing.F) {
	rec, attr := mftFuzzSeed(2)
	for op := logfile.OpInitializeFileRecordSegment; op <= logfile.OpUpdateFileNameRoot; op++ {
		f.Add(rec, uint16(op), uint16(0x98), uint16(0), attr, attr)
		f.Add(rec, uint16(op), uint16(0x38), uint16(0x18), attr[:8], attr[:16])
		f.Add(rec, uint16(op), uint16(0x38), uint16(0x30), attr[:8], attr[8:16])
	}
	funcs := map[logfile.LogOp]func([]byte, *logfile.LogRecord) error{
		logfile.OpInitializeFileRecordSegment: redoInitializeRecord,
		logfile.OpDeallocateFileRecordSegment: func(b []byte, _ *logfile.LogRecord) error { return redoDeallocateRecord(b) },
		logfile.OpCreateAttribute:             redoCreateAttribute,
		logfile.OpDeleteAttribute:             redoDeleteAttribute,
		logfile.OpWriteEndOfFileRecordSegment: redoWriteEndOfRecord,
		logfile.OpAddIndexEntryRoot:           redoAddIndexEntryRoot,
		logfile.OpDeleteIndexEntryRoot:        redoDeleteIndexEntryRoot,
		logfile.OpUpdateResidentValue:         redoResizeResident,
		logfile.OpUpdateMappingPairs:          redoUpdateMappingPairs,
		logfile.OpSetNewAttributeSizes:        redoSetNewAttributeSizes,
		logfile.OpUpdateFileNameRoot:          redoUpdateFileNameRoot,
		logfile.OpSetIndexEntryVcnRoot:        redoSetIndexEntryVcnRoot,
		logfile.OpZeroEndOfFileRecord:         redoZeroEndOfRecord,
		logfile.OpUpdateRecordDataRoot:        redoUpdateRecordDataRoot,
	}
	f.Add(rec, uint16(logfile.OpZeroEndOfFileRecord), uint16(0xA0), uint16(0), make([]byte, 1024-0xA0), []byte(nil))
	f.Add(rec, uint16(logfile.OpUpdateRecordDataRoot), uint16(0x38), uint16(0x20), attr[:8], attr[8:16])
	f.Fuzz(func(t *testing.T, record []byte, op, recOff, attrOff uint16, redo, undo []byte) {
		fn := funcs[logfile.LogOp(op)]
		if fn == nil || len(redo) > 4096 || len(undo) > 4096 {
			return
		}
		b := make([]byte, 1024)
		copy(b, record)
		cd := append(append([]byte(nil), redo...), undo...)
		r := &logfile.LogRecord{Redo: logfile.LogOp(op), RecordOffset: recOff, AttrOffset: attrOff, ClientData: cd,
			RedoOffset: 0, RedoLength: uint16(len(redo)), UndoOffset: uint16(len(redo)), UndoLength: uint16(len(undo))}
		if err := fn(b, r); err == nil {
			_ = checkMFTRecordShape(b)
		}
	})
}

// FuzzRedoIndexBlockOps runs the index-block redo on arbitrary block bytes
// and log data: errors are fine, panics are not.
func FuzzRedoIndexBlockOps(f *testing.F) {
	blk := make([]byte, 4096)
	copy(blk, "INDX")
	binary.LittleEndian.PutUint32(blk[0x18:], 0x28)
	binary.LittleEndian.PutUint32(blk[0x1C:], 0x28+0x10)
	binary.LittleEndian.PutUint32(blk[0x20:], 4096-0x18)
	binary.LittleEndian.PutUint16(blk[0x40+8:], 0x10)
	binary.LittleEndian.PutUint32(blk[0x40+12:], 2)
	entry := make([]byte, 0x60)
	binary.LittleEndian.PutUint16(entry[8:], 0x60)
	binary.LittleEndian.PutUint16(entry[10:], 0x44)
	// a whole block image as UpdateNonresidentValue logs a new block
	img := append([]byte(nil), blk...)
	binary.LittleEndian.PutUint16(img[4:], 0x28)
	binary.LittleEndian.PutUint16(img[6:], 9)
	binary.LittleEndian.PutUint32(img[0x18:], 0x40-0x18)
	vcnEntry := make([]byte, 0x18)
	binary.LittleEndian.PutUint16(vcnEntry[8:], 0x18)
	binary.LittleEndian.PutUint32(vcnEntry[12:], 3)
	for op := logfile.OpUpdateNonresidentValue; op <= logfile.OpUpdateFileNameAllocation; op++ {
		f.Add(blk, uint16(op), uint16(0), uint16(0x40), entry, entry)
		f.Add(blk, uint16(op), uint16(0), uint16(0x40), entry[:0x38], entry[0x18:0x50])
		f.Add(img, uint16(op), uint16(0), uint16(0x40), vcnEntry[0x10:], vcnEntry)
	}
	f.Add(make([]byte, 4096), uint16(logfile.OpUpdateNonresidentValue), uint16(0), uint16(0), img[:0x58], []byte(nil))
	f.Add(img, uint16(logfile.OpUpdateNonresidentValue), uint16(0x40), uint16(0), entry, entry)
	funcs := map[logfile.LogOp]func([]byte, *logfile.LogRecord) error{
		logfile.OpAddIndexEntryAllocation:    redoAddIndexEntryBlock,
		logfile.OpDeleteIndexEntryAllocation: redoDeleteIndexEntryBlock,
		logfile.OpUpdateFileNameAllocation:   redoUpdateFileNameBlock,
		logfile.OpWriteEndOfIndexBuffer:      redoWriteEndOfIndexBlock,
		logfile.OpSetIndexEntryVcnAllocation: redoSetIndexEntryVcnBlock,
		logfile.OpUpdateRecordDataAllocation: redoUpdateRecordDataBlock,
	}
	f.Add(blk, uint16(logfile.OpUpdateRecordDataAllocation), uint16(0), uint16(0x40), entry[:0x14], entry[:0x14])
	f.Fuzz(func(t *testing.T, block []byte, op, recOff, attrOff uint16, redo, undo []byte) {
		if len(redo) > 8192 || len(undo) > 8192 {
			return
		}
		b := make([]byte, 4096)
		copy(b, block)
		cd := append(append([]byte(nil), redo...), undo...)
		r := &logfile.LogRecord{Redo: logfile.LogOp(op), RecordOffset: recOff, AttrOffset: attrOff, ClientData: cd, LSN: 0x1000,
			RedoLength: uint16(len(redo)), UndoOffset: uint16(len(redo)), UndoLength: uint16(len(undo))}
		if logfile.LogOp(op) == logfile.OpUpdateNonresidentValue {
			// the block as on disk (with fixups) and the value written
			// into it: a result must be a consistent, protectable block
			if nb, err := indexBlockValue(b, r, r.RedoData(), 0, 0x2000); err == nil {
				if err := checkIndexBlock(nb, len(nb)); err != nil {
					t.Fatalf("indexBlockValue returned an inconsistent block: %v", err)
				}
				if err := mst.ProtectInPlace(nb); err != nil {
					t.Fatalf("indexBlockValue returned a block that cannot be protected: %v", err)
				}
			}
			return
		}
		fn := funcs[logfile.LogOp(op)]
		if fn == nil {
			return
		}
		if err := fn(b, r); err == nil {
			_ = checkIndexEntries(b, indxHdrOff)
		}
	})
}

// FuzzOpenAttrEntry decodes arbitrary OpenNonresidentAttribute redo and
// undo data into the open attribute table: no panic.
func FuzzOpenAttrEntry(f *testing.F) {
	e := make([]byte, 0x2C)
	binary.LittleEndian.PutUint64(e[0x08:], uint64(ntfs.MakeRef(9, 9)))
	binary.LittleEndian.PutUint32(e[0x1C:], uint32(ntfs.AttrData))
	f.Add(e, []byte("$\x00S\x00D\x00S\x00"))
	f.Add(e[:0x28], []byte(nil))
	f.Fuzz(func(t *testing.T, redo, undo []byte) {
		if len(redo) > 4096 || len(undo) > 4096 {
			return
		}
		cd := append(append([]byte(nil), redo...), undo...)
		r := &logfile.LogRecord{Type: logfile.LogRecordStandard, Redo: logfile.OpOpenNonresidentAttribute, ClientData: cd, TargetAttr: 0x18,
			RedoLength: uint16(len(redo)), UndoOffset: uint16(len(redo)), UndoLength: uint16(len(undo))}
		tab := openAttrTable{}
		tab.note(r)
		if a, ok := tab[0x18]; ok && len(redo) != 0x28 && len(redo) != 0x2C {
			t.Fatalf("an entry of %d bytes was accepted: %+v", len(redo), a)
		}
	})
}
