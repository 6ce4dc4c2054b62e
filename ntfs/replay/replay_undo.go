package replay

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/unbrick/unbrick/ntfs"
	"github.com/unbrick/unbrick/ntfs/logfile"
)

// Undo of uncommitted transactions (the roll-back Windows does after its
// redo pass), planned on the same overlay as the redo, so it goes through
// the same Plan and Apply.
//
// Sources (facts only):
//   - Linux fs/ntfs3/fslog.c log_replay: after the redo pass, every
//     transaction still active in the transaction table is rolled back, its
//     records taken newest first (from the transaction's undo-next LSN along
//     each record's undo-next LSN), each record's undo operation applied with
//     its undo data by the same do_action as the redo, but with no LSN:
//     the page's LSN is neither checked nor changed (check_lsn accepts any
//     page; the LSN is stamped only when a redo LSN is given); undo
//     operations that change nothing (Noop, CompensationLogRecord, the
//     table dumps: can_skip_action) are skipped; $MFTMirr is refreshed at
//     the end (ntfs_update_mftmirr).
//   - ntfs-3g ntfsprogs/playlog.c play_undos / play_one_undo /
//     distribute_undos (what `ntfsrecover -u` runs): the records are taken
//     newest first; an MFT record or index block is undone only when its
//     LSN is at or past the log record's (the change reached it); bitmap
//     and other raw changes always; each undo_* function applies the undo
//     data for the pairs Windows writes (UpdateResidentValue with the old
//     bytes, DeleteIndexEntryRoot/Allocation for an added entry,
//     AddIndexEntryRoot/Allocation for a deleted one, ClearBits for SetBits
//     and back, DeleteAttribute for a created attribute, CreateAttribute
//     for a deleted one, InitializeFileRecordSegment with the old image for
//     a deallocated record, the old sizes, mapping pairs, file name
//     information, sub-node VCNs, record end, index buffer end and
//     non-resident bytes); write_protected does not stamp the log record's
//     LSN outside the sync mode ("should set to some previous lsn for
//     undos") but advances the update sequence number and copies a
//     mirrored MFT record to $MFTMirr.
//
// We redo only committed transactions (as ntfsrecover's sync mode), so an
// uncommitted record whose change never reached the disk needs nothing:
// Windows would redo and then undo it, ending where the disk already is.
// A record whose change did reach the disk (judged in the forward pass,
// when the records before it have been redone: the MFT record's or index
// block's LSN, the bits of a bitmap change, the bytes of other
// non-resident data, recordReachedDisk) is rolled back after the redo pass,
// newest first, by its undo operation, applied by the same code as the
// redo of that operation (the record seen with its undo fields in its redo
// fields), without the LSN check and keeping the page's LSN, as both
// sources do.
//
// Where the sources disagree (the oracle tests show each difference is
// confined):
//   - CreateAttribute rolled back: ntfsrecover (remove_resident,
//     adjust_instance) also takes the record's next attribute instance
//     back when the attribute was the newest; ntfs3's DeleteAttribute
//     leaves it. We follow ntfs3 (Windows' restart logic).
//   - InitializeFileRecordSegment (undo Noop) rolled back: ntfs3 skips it,
//     leaving a record in use whose $MFT bitmap bit and index entry the
//     same roll-back removes; ntfsrecover clears the in-use flag. We follow
//     ntfsrecover, the one place we do, because the other result is a
//     volume chkdsk must repair (the corpus ntfs-check rejects it).
//   - WriteEndOfIndexBuffer rolled back with another length than its redo:
//     ntfsrecover fails (undo_write_index treats the block as an MFT
//     record); we do as ntfs3, index length = the undo data's end.
//
// Refused (*UnsupportedLogOpError with Undo set, naming the record's
// operation and LSN; nothing is written): an undo operation not paired
// with the redo the way Windows pairs them, a shape the redo code refuses
// for that operation, a bitmap undo range different from the redo range
// (ntfsrecover undoes the redo range, ntfs3 the undo range), a deallocated
// record whose logged old image is not a whole record (ntfsrecover then
// deletes the file names, ntfs3 copies the part), and a transaction
// holding compensation records (it was partly rolled back already: Windows
// follows the undo-next chain past the compensated records, which our
// generated logs do not carry and we do not model).

// undoView returns r seen as the change its undo makes: undo operation,
// offset and length in the redo fields and the other way round.
func undoView(r *logfile.LogRecord) *logfile.LogRecord {
	u := *r
	u.Redo, u.Undo = r.Undo, r.Redo
	u.RedoOffset, u.UndoOffset = r.UndoOffset, r.RedoOffset
	u.RedoLength, u.UndoLength = r.UndoLength, r.RedoLength
	u.UndoPass = true
	return &u
}

// needsUndo reports whether rolling r back changes anything at all
// (ntfs3 can_skip_action on the undo operation), with one exception: a
// new file record (InitializeFileRecordSegment, undo Noop).
func needsUndo(r *logfile.LogRecord) bool {
	if r.Redo == logfile.OpInitializeFileRecordSegment && r.Undo == logfile.OpNoop {
		return true
	}
	switch r.Undo {
	case logfile.OpNoop, logfile.OpCompensationLogRecord, logfile.OpForgetTransaction, logfile.OpOpenNonresidentAttribute,
		logfile.OpOpenAttributeTableDump, logfile.OpAttributeNamesDump, logfile.OpDirtyPageTableDump, logfile.OpTransactionTableDump:
		return false
	}
	return true
}

// undoRecord rolls back the uncommitted record r, whose change reached the
// disk. It reports whether anything changed (false: the old state was in
// place already).
func undoRecord(v *ntfs.Volume, ov *overlay, attrs openAttrTable, r *logfile.LogRecord, latest logfile.LSN) (bool, error) {
	refuse := func(reason string) error {
		return &UnsupportedLogOpError{Op: r.Redo, LSN: r.LSN, Undo: true,
			Reason: fmt.Sprintf("undo operation %s: %s", r.Undo, reason)}
	}
	u := undoView(r)
	var done bool
	var err error
	switch {
	case r.Redo == logfile.OpSetBitsInNonresidentBitMap && r.Undo == logfile.OpClearBitsInNonresidentBitMap,
		r.Redo == logfile.OpClearBitsInNonresidentBitMap && r.Undo == logfile.OpSetBitsInNonresidentBitMap:
		rd, ud := r.RedoData(), r.UndoData()
		if len(ud) < 8 || len(rd) < 8 || string(rd[:8]) != string(ud[:8]) {
			return false, refuse("the undo bitmap range is not the redo range (ntfsrecover undoes the redo range, ntfs3 the undo range): not implemented")
		}
		err = redoBits(v, ov, attrs, u)
		done = err == nil
	case r.Redo == logfile.OpUpdateNonresidentValue && r.Undo == logfile.OpUpdateNonresidentValue:
		if r.UndoLength == 0 {
			// No old bytes: neither source changes anything
			// (ntfsrecover undo_update_value "cannot undo", ntfs3
			// copies nothing).
			return false, nil
		}
		done, err = redoNonresidentValue(v, ov, attrs, u, latest)
	case r.Redo == logfile.OpUpdateResidentValue && r.Undo == logfile.OpUpdateResidentValue:
		done, err = redoUpdateResident(v, ov, u, latest)
	case r.Redo == logfile.OpInitializeFileRecordSegment && r.Undo == logfile.OpNoop:
		// Where the sources disagree: ntfs3 (Windows' restart logic)
		// skips a Noop undo, leaving the record in use while the roll
		// back of the same transaction frees its $MFT bitmap bit and
		// removes its index entry (a volume chkdsk would have to
		// repair; the corpus ntfs-check rejects it); ntfsrecover
		// (undo_create_file) puts the logged image back and clears the
		// in-use flag. We do as ntfsrecover, which leaves a consistent
		// volume.
		done, err = redoMFTRecordWith(v, ov, withUndoPass(r), latest, undoInitializeRecord)
	case r.Redo == logfile.OpDeallocateFileRecordSegment && r.Undo == logfile.OpInitializeFileRecordSegment:
		if !fullRecordImage(u.RedoData(), u, v.Boot().RecordSize) {
			return false, refuse("the logged old image is not a whole MFT record (the sources rebuild a partial one differently): not implemented")
		}
		done, err = redoMFTRecordWith(v, ov, u, latest, redoInitializeRecord)
	default:
		if containsOp(indxUndoPairs[r.Redo], r.Undo) && containsOp(indxUndoPairs[u.Redo], u.Undo) {
			done, err = redoIndexBlockOp(v, ov, attrs, u, latest)
			break
		}
		if containsOp(mftUndoPairs[r.Redo], r.Undo) && containsOp(mftUndoPairs[u.Redo], u.Undo) && u.Redo != logfile.OpInitializeFileRecordSegment {
			done, err = redoMFTRecordOp(v, ov, u, latest)
			break
		}
		return false, refuse("rolling back this pair is not implemented")
	}
	var ue *UnsupportedLogOpError
	if errors.As(err, &ue) {
		return false, refuse(ue.Reason)
	}
	return done, err
}

// undoUncommitted rolls back, newest first, the records of pending (in
// LSN order, each an uncommitted record whose change reached the disk).
// It returns the LSNs of the records whose roll-back changed the volume.
func undoUncommitted(v *ntfs.Volume, ov *overlay, attrs openAttrTable, lf *logfile.LogFile, pending []*logfile.LogRecord, latest logfile.LSN) ([]logfile.LSN, error) {
	if len(pending) == 0 {
		return nil, nil
	}
	rolled := map[uint32]bool{}
	for _, r := range pending {
		rolled[r.TransactionID] = true
	}
	for _, r := range lf.Records {
		if r.Type == logfile.LogRecordStandard && rolled[r.TransactionID] &&
			(r.Redo == logfile.OpCompensationLogRecord || r.Undo == logfile.OpCompensationLogRecord) {
			return nil, &UnsupportedLogOpError{Op: r.Redo, LSN: r.LSN, Undo: true,
				Reason: fmt.Sprintf("transaction %#x, which must be rolled back, holds compensation records (a partial roll-back, whose undo-next chain is not followed): not implemented", r.TransactionID)}
		}
	}
	var undone []logfile.LSN
	for i := len(pending) - 1; i >= 0; i-- {
		done, err := undoRecord(v, ov, attrs, pending[i], latest)
		if err != nil {
			return nil, err
		}
		if done {
			undone = append(undone, pending[i].LSN)
		}
	}
	return undone, nil
}

// fork returns an overlay that reads through o (copying each sector on
// first access) and whose changes do not reach o.
func (o *overlay) fork() *overlay {
	c := newOverlay(o.r, o.ss)
	c.base, c.held, c.overBudget = o, o.held, o.overBudget
	return c
}

// staleChangeOnDisk reports whether the change of the uncommitted record
// r, which the page's LSN says never reached the disk, is there all the
// same: its redo would change nothing although its undo would. Under the
// write-ahead rule a page reaches the disk with the LSN of its newest
// change, so such a volume was written without its journal (by a tool
// that ignored it); Windows would redo and then undo the record, we would
// leave the change in place, so Plan refuses it.
func staleChangeOnDisk(v *ntfs.Volume, ov *overlay, attrs openAttrTable, r *logfile.LogRecord, latest logfile.LSN) bool {
	var redo func(ov *overlay) (bool, error)
	switch {
	case r.Redo == logfile.OpUpdateResidentValue:
		if string(r.RedoData()) == string(r.UndoData()) {
			return false
		}
		redo = func(ov *overlay) (bool, error) { return redoUpdateResident(v, ov, r, latest) }
	case r.Redo == logfile.OpUpdateNonresidentValue:
		return false // judged by its bytes or its block's LSN already
	default:
		if _, ok := indxUndoPairs[r.Redo]; ok {
			redo = func(ov *overlay) (bool, error) { return redoIndexBlockOp(v, ov, attrs, r, latest) }
		} else if _, ok := mftUndoPairs[r.Redo]; ok {
			redo = func(ov *overlay) (bool, error) { return redoMFTRecordOp(v, ov, r, latest) }
		} else {
			return false
		}
	}
	done, err := redo(ov.fork())
	return err == nil && !done
}

// withUndoPass returns a copy of r marked as an undo (no LSN check or
// stamp), its fields unchanged.
func withUndoPass(r *logfile.LogRecord) *logfile.LogRecord {
	u := *r
	u.UndoPass = true
	return &u
}

// undoInitializeRecord rolls back a new file record: the logged image
// (the record as the creation left it) goes back in place and the in-use
// flag is cleared (ntfsrecover undo_create_file).
func undoInitializeRecord(b []byte, r *logfile.LogRecord) error {
	data := r.RedoData()
	target := int(r.RecordOffset) + int(r.AttrOffset)
	if target+len(data) > len(b) {
		return fmt.Errorf("a %d-byte image at offset %d runs past the record", len(data), target)
	}
	flags := binary.LittleEndian.Uint16(b[ntfs.MFTOffFlags:])
	if bytes.Equal(b[target:target+len(data)], data) && flags&ntfs.RecordInUse == 0 {
		return errNoChange
	}
	copy(b[target:], data)
	binary.LittleEndian.PutUint16(b[ntfs.MFTOffFlags:], binary.LittleEndian.Uint16(b[ntfs.MFTOffFlags:])&^ntfs.RecordInUse)
	return nil
}
