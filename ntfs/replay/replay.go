package replay

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/unbrick/unbrick/ntfs"
	"github.com/unbrick/unbrick/ntfs/edit"
	"github.com/unbrick/unbrick/ntfs/internal/mst"
	"github.com/unbrick/unbrick/ntfs/logfile"
)

// Journal replay (redo of committed transactions), planned as an ordinary
// write Plan so that it goes through Apply, the package's one write path.
//
// What is redone, and how, follows the independent oracle the tests use,
// ntfs-3g's ntfsrecover (ntfsprogs/ntfsrecover.c, playlog.c; facts only):
//   - records from the client's oldest LSN to the end of the log, of
//     committed transactions (ForgetTransaction seen) or of no transaction;
//   - a record acting on an MFT record is skipped when the record's LSN is
//     already at or past the log record's LSN (its change reached the disk)
//     but not past the newest LSN of the log (a stale LSN left by a tool
//     that reset the log);
//   - the MFT record is found through the log record's LCN list, cluster
//     index (512-byte units) and target VCN; we additionally check that this
//     place is where $MFT's run list puts that record (for a record the
//     log's own $MFT growth added, the run list as redone so far), and
//     refuse otherwise;
//   - after a change the MFT record's LSN is set to the log record's LSN and
//     its update sequence number is advanced, and a record inside the
//     $MFTMirr range is also written to the mirror (the whole cluster, as
//     ntfsrecover does);
//   - finally both restart pages are rewritten as a version 1.1 journal with
//     no client in use and the clean flag set (ntfsrecover reset_logfile:
//     header, 0x30-byte restart area and client record kept, the rest of the
//     page zero, update sequence number one past the old page's).
//
// Uncommitted transactions: their records are not redone. Windows would
// redo them and then undo them; when their changes never reached the disk
// both end at the same state. A record whose change did reach the disk
// (judged by the MFT record's or index block's LSN, by the bits for bitmap
// changes, and by the bytes for other non-resident data) is rolled back
// after the redo pass, newest first, by its undo operation and undo data,
// on the same overlay (replay_undo.go: sources, pairs, what is refused).
// A record whose undo operation is Noop, such as a new index block, needs
// no undo (Windows' undo pass skips it); a new file record is the
// exception (replay_undo.go). A change found on disk under a page LSN
// older than its uncommitted log record (a volume written without its
// journal) is refused: Windows would redo and undo it, the write-ahead
// rule says it cannot be there.
//
// Operation types redone: UpdateResidentValue (same length; a size change
// of a whole resident value in replay_mft.go); SetBitsInNonresidentBitMap
// and ClearBitsInNonresidentBitMap on $Bitmap, $MFT's $BITMAP or a
// non-resident $BITMAP the open attribute table names, such as a large
// directory's $I30 bitmap (replay_bits.go); InitializeFileRecordSegment,
// DeallocateFileRecordSegment, CreateAttribute, DeleteAttribute,
// WriteEndOfFileRecordSegment (same length), AddIndexEntryRoot,
// DeleteIndexEntryRoot, UpdateFileNameRoot, SetIndexEntryVcnRoot
// (replay_mft.go); UpdateMappingPairs and SetNewAttributeSizes
// (replay_nonresident.go); AddIndexEntryAllocation,
// DeleteIndexEntryAllocation, UpdateFileNameAllocation,
// WriteEndOfIndexBuffer and SetIndexEntryVcnAllocation (replay_indx.go);
// UpdateNonresidentValue on index blocks (a whole new block or part of
// one) and on other non-resident data such as $Secure's $SDS, its target
// found through the open attribute table (replay_nrvalue.go,
// replay_attrs.go); the Windows 10 operations ZeroEndOfFileRecord,
// UpdateRecordDataRoot and UpdateRecordDataAllocation (replay_win10.go;
// the last two are backed by ntfs3 alone, ntfsrecover refuses them).
// Operations that change nothing on disk (Noop, ForgetTransaction,
// OpenNonresidentAttribute, which only feeds the open attribute table, and
// the table dumps) are accepted. Every other operation, and every shape of
// a supported one that is not implemented, makes Plan fail with
// *UnsupportedLogOpError (naming the operation and the LSN) before
// anything is written.
//
// Where ntfsrecover and Linux ntfs3 disagree we follow ntfs3 (fslog.c
// mirrors the structures and restart passes of Windows' NTFS, while
// ntfsrecover reconstructs them), and the tests show the difference is
// confined:
//   - DeallocateFileRecordSegment advances the sequence number (ntfs3, and
//     every NTFS writer freeing a record); ntfsrecover does not;
//   - SetNewAttributeSizes redo data is allocated, valid data (initialized),
//     file size (ntfs3 NEW_ATTRIBUTE_SIZES); ntfsrecover copies it in
//     on-disk order (allocated, data, initialized). Same result when the
//     two sizes are equal;
//   - UpdateNonresidentValue on an index block: ntfsrecover checks the
//     block's LSN and stamps the log record's, ntfs3 does neither; we do
//     as ntfsrecover (so that later records on the block see the change),
//     ntfs3's block would keep the LSN the logged image carries;
//   - shapes where the two compute different records (a resident value
//     shrinking by a non-multiple of 8, part of a value changing size,
//     WriteEndOfFileRecordSegment changing the record's length, mapping
//     pairs not running to the attribute's end) are refused.
// Bytes past a record's end marker or inside attribute padding are moved
// as ntfsrecover moves them, so that results stay byte-identical.

// Not done yet (for the next session; facts from ntfsrecover playlog.c and
// Linux ntfs3 fslog.c do_action):
//   - Windows redoes every record from the dirty page table's oldest LSN,
//     committed or not, then undoes the open transactions following each
//     one's undo-next chain; we redo only committed ones and roll back the
//     uncommitted changes found on disk, newest first. A transaction
//     holding compensation records (partly rolled back before the crash)
//     is refused when it needs a roll-back, and so are the roll-back
//     shapes the redo code refuses (e.g. a resident value shrinking by a
//     non-multiple of 8).
//   - UpdateNonresidentValue shapes the two sources place differently
//     (attribute offset not 0; outside index blocks a cluster index not 0;
//     no redo data), or on $MFT, $MFTMirr or $LogFile, are refused; so is
//     one whose target attribute no table dump or OpenNonresidentAttribute
//     record names (the attribute itself may be in an extension record the
//     file's $ATTRIBUTE_LIST names). The open attribute entry is read in ntfs3's layout
//     (ntfsrecover reads its fields 8 bytes further on); a Windows log
//     read wrongly is refused, never misapplied, because the attribute must
//     map the logged VCN to the logged clusters.
//   - the remaining Windows 10 operations UpdateRelativeDataIndex and
//     UpdateRelativeDataAllocation (0x23, 0x24: neither source implements
//     them) are refused.
//   - MFT operations are checked against $MFT's run list; bitmap
//     operations against $Bitmap's and $MFT:$BITMAP's run lists, else the
//     open attribute table (a $BITMAP attribute only); the index-block and
//     non-resident value operations use the open attribute table.
//   - an MFT record past the end of $MFT as the volume was opened is
//     accepted when the replay has grown $MFT (its record 0's $DATA, as
//     redone so far, holds it); $MFT data runs kept in an extension record
//     of $MFT are not followed there, such a record is refused.
//   - a log page size different from the system page size is refused
//     (*ReplayRefusedError): ntfs3 rejects such a log and ntfsrecover
//     rewrites its restart pages at the log page size, so no reference
//     replays it the way the on-disk layout says.
//   - a checkpoint record whose NTFS restart area major version is 1 looks
//     like a CompensationLogRecord to ntfsrecover, which then moves the
//     client oldest LSN it writes back; we keep the oldest LSN.

// UnsupportedLogOpError reports a committed log record Plan cannot
// redo. Nothing was written.
type UnsupportedLogOpError struct {
	Op     logfile.LogOp
	LSN    logfile.LSN
	Reason string
	// Undo: the record belongs to an uncommitted transaction whose change
	// would have to be rolled back.
	Undo bool
}

func (e *UnsupportedLogOpError) Error() string {
	verb := "redo"
	if e.Undo {
		verb = "undo"
	}
	return fmt.Sprintf("journal replay: cannot %s %s (log record %#x): %s; nothing was written",
		verb, e.Op, uint64(e.LSN), e.Reason)
}

// ReplayRefusedError reports a journal Plan will not replay (a
// damaged log, one too big to replay in memory). Nothing was written.
type ReplayRefusedError struct {
	Reason string
	// Err, when set, is the typed cause (*logfile.TooLargeError).
	Err error
}

func (e *ReplayRefusedError) Error() string {
	return "journal replay refused: " + e.Reason + "; nothing was written"
}

// Unwrap returns the typed cause, if any.
func (e *ReplayRefusedError) Unwrap() error { return e.Err }

// MaxOverlayBytes bounds the memory a replay plan holds for the volume's
// sectors: each sector it reads or changes is kept twice, as on disk and
// as replayed, until the plan is made. A journal whose replay would need
// more (it reads or changes more than 128 MiB of the volume) is refused
// with *ReplayRefusedError, nothing written. With logfile.MaxLogFileSize
// it bounds what a replay takes.
const MaxOverlayBytes = 256 << 20

// maxOverlayBytes is the limit in force: MaxOverlayBytes, lowered by the
// package's tests.
var maxOverlayBytes int64 = MaxOverlayBytes

// replaySupported reports whether Plan can redo op.
func replaySupported(op logfile.LogOp) bool {
	switch op {
	case logfile.OpNoop, logfile.OpForgetTransaction, logfile.OpOpenNonresidentAttribute, logfile.OpOpenAttributeTableDump,
		logfile.OpAttributeNamesDump, logfile.OpDirtyPageTableDump, logfile.OpTransactionTableDump,
		logfile.OpUpdateResidentValue, logfile.OpSetBitsInNonresidentBitMap, logfile.OpClearBitsInNonresidentBitMap,
		logfile.OpUpdateNonresidentValue:
		return true
	}
	_, mft := mftUndoPairs[op]
	_, indx := indxUndoPairs[op]
	return mft || indx
}

// ReplayResult describes a planned replay.
type ReplayResult struct {
	Plan     *edit.Plan
	Analysis *logfile.JournalAnalysis
	Redone   []logfile.LSN // records whose change is in the plan
	Skipped  []logfile.LSN // committed records already on disk
	// Undone: uncommitted records whose change had reached the disk and
	// whose roll-back is in the plan, newest first.
	Undone []logfile.LSN
}

// Plan plans the redo of the committed transactions in the volume's
// $LogFile and the clean restart pages that follow. It reads only.
func Plan(v *ntfs.Volume) (*ReplayResult, error) {
	a, err := AnalyzeJournal(v)
	if err != nil {
		var tl *logfile.TooLargeError
		if errors.As(err, &tl) {
			return nil, &ReplayRefusedError{Reason: tl.Error(), Err: err}
		}
		return nil, err
	}
	lf := a.Log
	clean := lf.Restart.Page.CleanFlag() || (lf.Restart.Page.MajorVersion < 2 && !lf.Restart.Page.ClientsInUse())
	if lf.Restart.Page.LogPageSize != lf.Restart.Page.SystemPageSize {
		// ntfs3 (log_replay) rejects such a log; ntfsrecover rewrites its
		// restart pages at the log page size, where the layout puts them
		// at the system page size. With no agreeing source we refuse.
		return nil, &ReplayRefusedError{Reason: fmt.Sprintf("the log page size %d differs from the system page size %d, a layout no reference replays the same way (not implemented)",
			lf.Restart.Page.LogPageSize, lf.Restart.Page.SystemPageSize)}
	}
	if lf.Damaged && !clean {
		return nil, &ReplayRefusedError{Reason: a.Why}
	}
	logFile, err := v.OpenRef(ntfs.MakeRef(ntfs.RecordLogFile, 0))
	if err != nil {
		return nil, fmt.Errorf("ntfs: $LogFile: %w", err)
	}
	ra, _, err := logFile.AttrReader(ntfs.AttrData, "")
	if err != nil {
		return nil, fmt.Errorf("ntfs: $LogFile data: %w", err)
	}
	rr, ok := ra.(*ntfs.RunReader)
	if !ok {
		return nil, errors.New("journal replay: $LogFile data is not a plain non-resident attribute")
	}
	ov := newOverlay(v.Device(), int64(v.Boot().BytesPerSector))
	res := &ReplayResult{Analysis: a}

	latest := logfile.LSN(lf.Restart.Page.CurrentLSN)
	for _, r := range lf.Records {
		if int64(r.LSN-latest) > 0 {
			latest = r.LSN
		}
	}
	redo := map[logfile.LSN]bool{}
	for _, t := range a.Transactions {
		for _, r := range t.Records {
			redo[r.LSN] = t.Committed
		}
	}
	attrs := newOpenAttrTable(lf)
	var pending []*logfile.LogRecord // uncommitted records whose change reached the disk
	for _, r := range lf.Records {
		attrs.note(r)
		if clean {
			// Nothing to redo (ntfsrecover.c dorest: clean when the
			// restart area's clean flag is set; ntfs-3g logfile.c: or
			// no client open). The restart pages are still rewritten
			// below, as ntfsrecover does.
			break
		}
		if r.Type != logfile.LogRecordStandard {
			continue
		}
		committed, inTx := redo[r.LSN]
		if !inTx {
			committed = r.TransactionID == 0
		}
		if !committed {
			// Judged here, with the records before it redone; rolled
			// back after the redo pass (replay_undo.go).
			if !needsUndo(r) {
				continue
			}
			if applied, err := recordReachedDisk(v, ov, attrs, r, latest); err != nil {
				return nil, err
			} else if applied {
				pending = append(pending, r)
			} else if staleChangeOnDisk(v, ov, attrs, r, latest) {
				return nil, &UnsupportedLogOpError{Op: r.Redo, LSN: r.LSN, Undo: true,
					Reason: "the change of an uncommitted transaction is on disk although the page's LSN predates the log record (the volume was written without its journal); rolling back such a change is not implemented"}
			}
			continue
		}
		if !replaySupported(r.Redo) {
			return nil, &UnsupportedLogOpError{Op: r.Redo, LSN: r.LSN, Reason: "not implemented yet"}
		}
		switch r.Redo {
		case logfile.OpUpdateResidentValue:
			done, err := redoUpdateResident(v, ov, r, latest)
			if err != nil {
				return nil, err
			}
			if done {
				res.Redone = append(res.Redone, r.LSN)
			} else {
				res.Skipped = append(res.Skipped, r.LSN)
			}
		case logfile.OpSetBitsInNonresidentBitMap, logfile.OpClearBitsInNonresidentBitMap:
			if err := redoBits(v, ov, attrs, r); err != nil {
				return nil, err
			}
			res.Redone = append(res.Redone, r.LSN)
		case logfile.OpUpdateNonresidentValue:
			done, err := redoNonresidentValue(v, ov, attrs, r, latest)
			if err != nil {
				return nil, err
			}
			if done {
				res.Redone = append(res.Redone, r.LSN)
			} else {
				res.Skipped = append(res.Skipped, r.LSN)
			}
		default:
			redo := func(ov *overlay, r *logfile.LogRecord, latest logfile.LSN) (bool, error) {
				return redoMFTRecordOp(v, ov, r, latest)
			}
			if _, ok := indxUndoPairs[r.Redo]; ok {
				redo = func(ov *overlay, r *logfile.LogRecord, latest logfile.LSN) (bool, error) {
					return redoIndexBlockOp(v, ov, attrs, r, latest)
				}
			} else if _, ok := mftUndoPairs[r.Redo]; !ok {
				continue // no change on disk (Noop, ForgetTransaction, table dumps)
			}
			done, err := redo(ov, r, latest)
			if err != nil {
				return nil, err
			}
			if done {
				res.Redone = append(res.Redone, r.LSN)
			} else {
				res.Skipped = append(res.Skipped, r.LSN)
			}
		}
	}
	undone, err := undoUncommitted(v, ov, attrs, lf, pending, latest)
	if err != nil {
		return nil, err
	}
	res.Undone = undone
	if err := stageCleanRestart(v, ov, rr, lf); err != nil {
		return nil, err
	}
	if ov.overBudget != nil {
		// Reached even where a step took the error for an answer (a
		// record judged not on disk because it could not be read).
		return nil, ov.overBudget
	}
	res.Plan = ov.plan()
	note := fmt.Sprintf("journal replayed: %d committed record(s) redone, %d already on disk", len(res.Redone), len(res.Skipped))
	if len(pending) > 0 {
		note += fmt.Sprintf("; %d uncommitted record(s) rolled back (%d of them changed the volume)", len(pending), len(undone))
	}
	res.Plan.Notes = append(res.Plan.Notes, note+"; $LogFile marked clean (version 1.1)")
	return res, nil
}

// mftTarget locates the MFT record a log record acts on, checking the log's
// LCN against $MFT's run list. It returns the record number and its volume
// byte offset.
//
// A record past the end of $MFT as the volume was opened is accepted when
// $MFT's own record as the replay has left it (ov: the log grew $MFT with
// UpdateMappingPairs and SetNewAttributeSizes records redone before this
// one) holds it: inside its data size, its clusters where the new run list
// puts them.
func mftTarget(v *ntfs.Volume, ov *overlay, r *logfile.LogRecord) (uint64, int64, error) {
	bad := func(reason string) error { return &UnsupportedLogOpError{Op: r.Redo, LSN: r.LSN, Reason: reason} }
	if len(r.LCNs) == 0 {
		return 0, 0, bad("the record names no cluster")
	}
	cs, rs := int64(v.Boot().ClusterSize), int64(v.Boot().RecordSize)
	mftOff := r.TargetVCN*cs + int64(r.ClusterIndex)*512
	if r.TargetVCN < 0 || mftOff%rs != 0 {
		return 0, 0, bad(fmt.Sprintf("target VCN %d, cluster index %d is not an MFT record boundary", r.TargetVCN, r.ClusterIndex))
	}
	n := uint64(mftOff / rs)
	if n >= v.MFTRecords() {
		at, err := grownMFTRecord(v, ov, r, n)
		if err != nil {
			return 0, 0, bad(fmt.Sprintf("MFT record %d is past the end of $MFT as the volume was opened: %v", n, err))
		}
		return n, at, nil
	}
	ext, err := v.RecordExtents(n)
	if err != nil {
		return 0, 0, fmt.Errorf("journal replay: MFT record %d: %w", n, err)
	}
	at := r.LCNs[0]*cs + int64(r.ClusterIndex)*512
	if len(ext) != 1 || ext[0].Offset != at || int64(ext[0].Length) != rs {
		return 0, 0, bad(fmt.Sprintf("the log's cluster %d does not hold MFT record %d according to $MFT's run list", r.LCNs[0], n))
	}
	return n, at, nil
}

// grownMFTRecord locates MFT record n, past the end of $MFT's data as the
// volume was opened, through $MFT's record 0 in the overlay.
func grownMFTRecord(v *ntfs.Volume, ov *overlay, r *logfile.LogRecord, n uint64) (int64, error) {
	cs, rs := int64(v.Boot().ClusterSize), int64(v.Boot().RecordSize)
	mft, err := overlayRecord(v, ov, 0)
	if err != nil {
		return 0, err
	}
	a := mft.FindAttr(ntfs.AttrData, "")
	if a == nil || !a.NonResident || a.LowestVCN != 0 {
		return 0, errors.New("$MFT's record holds no non-resident $DATA starting at VCN 0")
	}
	if int64(n+1)*rs > a.DataSize || int64(n+1)*rs > a.InitializedSize {
		return 0, fmt.Errorf("$MFT's data (%d bytes, %d initialized) does not reach it", a.DataSize, a.InitializedSize)
	}
	mftOff := int64(n) * rs
	first, last := mftOff/cs, (mftOff+rs-1)/cs
	lcns := make([]int64, 0, last-first+1)
	for i := int64(0); i <= last-first; i++ {
		lcns = append(lcns, r.LCNs[0]+i)
	}
	if r.TargetVCN != first || !runsMap(a.Runs, first, lcns) {
		return 0, fmt.Errorf("the log's cluster %d is not where $MFT's run list puts it", r.LCNs[0])
	}
	return r.LCNs[0]*cs + mftOff%cs, nil
}

// readMFTRecord reads record n at volume offset at through the overlay and
// removes its fixups.
func readMFTRecord(v *ntfs.Volume, ov *overlay, at int64, n uint64) ([]byte, error) {
	b, err := ov.read(at, v.Boot().RecordSize)
	if err != nil {
		return nil, err
	}
	if string(b[:4]) != "FILE" {
		return nil, fmt.Errorf("journal replay: MFT record %d is not a FILE record", n)
	}
	if _, _, _, err := applyFixups(b, fmt.Sprintf("MFT record %d", n)); err != nil {
		return nil, fmt.Errorf("journal replay: %w", err)
	}
	return b, nil
}

// reached reports whether an MFT record with LSN recLSN already holds the
// change of log record l (ntfsrecover play_one_redo "executed").
func reached(recLSN, l, latest logfile.LSN) bool {
	return int64(recLSN-l) >= 0 && int64(recLSN-latest) <= 0
}

// recordReachedDisk reports whether an uncommitted record's change is on
// disk: for MFT-record operations by the record's LSN, for bitmap changes
// by the bits (a SetBits whose range has a set bit, a ClearBits whose range
// has a clear bit, may have reached the disk: Windows would undo it, and
// an uncommitted cleared bit left as is would hand out clusters still in
// use). Other operations are assumed not to have reached the disk.
func recordReachedDisk(v *ntfs.Volume, ov *overlay, attrs openAttrTable, r *logfile.LogRecord, latest logfile.LSN) (bool, error) {
	if !needsUndo(r) {
		// Nothing to roll back whether or not the change reached the
		// disk (Windows' undo pass skips Noop: ntfs3 can_skip_action);
		// e.g. a new index block (a new file record is the exception:
		// replay_undo.go).
		return false, nil
	}
	switch r.Redo {
	case logfile.OpSetBitsInNonresidentBitMap, logfile.OpClearBitsInNonresidentBitMap:
		return bitsReachedDisk(v, ov, attrs, r)
	case logfile.OpUpdateNonresidentValue:
		return nonresidentValueReached(v, ov, attrs, r, latest)
	case logfile.OpAddIndexEntryAllocation, logfile.OpDeleteIndexEntryAllocation, logfile.OpUpdateFileNameAllocation,
		logfile.OpWriteEndOfIndexBuffer, logfile.OpSetIndexEntryVcnAllocation, logfile.OpUpdateRecordDataAllocation:
		return indexBlockReached(v, ov, r, latest)
	case logfile.OpUpdateResidentValue, logfile.OpInitializeFileRecordSegment, logfile.OpDeallocateFileRecordSegment,
		logfile.OpWriteEndOfFileRecordSegment, logfile.OpCreateAttribute, logfile.OpDeleteAttribute, logfile.OpUpdateMappingPairs,
		logfile.OpSetNewAttributeSizes, logfile.OpAddIndexEntryRoot, logfile.OpDeleteIndexEntryRoot, logfile.OpSetIndexEntryVcnRoot,
		logfile.OpUpdateFileNameRoot, logfile.OpZeroEndOfFileRecord, logfile.OpUpdateRecordDataRoot:
	default:
		return false, nil
	}
	n, at, err := mftTarget(v, ov, r)
	if err != nil {
		if r.Redo == logfile.OpInitializeFileRecordSegment && r.Undo == logfile.OpNoop {
			// A new record where $MFT (as redone so far) has none,
			// e.g. past its end when the log's growth of $MFT is
			// uncommitted too: it cannot be on disk, and before
			// undo existed it was never looked at.
			return false, nil
		}
		return false, err
	}
	b, err := readMFTRecord(v, ov, at, n)
	if err != nil {
		if r.Redo == logfile.OpInitializeFileRecordSegment {
			// A record that is not a valid FILE record cannot hold
			// the new file's image.
			return false, nil
		}
		return false, err
	}
	return reached(logfile.LSN(binary.LittleEndian.Uint64(b[mst.OffLSN:])), r.LSN, latest), nil
}

// redoUpdateResident redoes an UpdateResidentValue record: redo data
// replaces the bytes at record offset + attribute offset of the MFT record.
func redoUpdateResident(v *ntfs.Volume, ov *overlay, r *logfile.LogRecord, latest logfile.LSN) (bool, error) {
	bad := func(reason string) error { return &UnsupportedLogOpError{Op: r.Redo, LSN: r.LSN, Reason: reason} }
	if r.Undo != logfile.OpUpdateResidentValue {
		return false, bad(fmt.Sprintf("undo operation %s with this redo is not implemented yet", r.Undo))
	}
	if r.RedoLength != r.UndoLength {
		return redoMFTRecordWith(v, ov, r, latest, redoResizeResident)
	}
	n, at, err := mftTarget(v, ov, r)
	if err != nil {
		return false, err
	}
	b, err := readMFTRecord(v, ov, at, n)
	if err != nil {
		return false, err
	}
	if !r.UndoPass && reached(logfile.LSN(binary.LittleEndian.Uint64(b[mst.OffLSN:])), r.LSN, latest) {
		return false, nil
	}
	target := int(r.RecordOffset) + int(r.AttrOffset)
	data := r.RedoData()
	if target+len(data) > len(b) {
		return false, bad(fmt.Sprintf("the change at offset %d (%d bytes) runs past the %d-byte MFT record", target, len(data), len(b)))
	}
	aend, err := attrEnd(b, int(r.RecordOffset))
	if err != nil || !isAttrStart(b, int(r.RecordOffset)) || target+len(data) > aend {
		return false, bad(fmt.Sprintf("the change at offset %d (%d bytes) is not inside the attribute at offset %d", target, len(data), r.RecordOffset))
	}
	if bytes.Equal(b[target:target+len(data)], data) {
		return false, nil // ntfsrecover writes nothing when the bytes already match
	}
	copy(b[target:], data)
	return true, stageMFTRecord(v, ov, r, n, at, b)
}

// mirrorLCN maps a VCN of $MFTMirr to its cluster.
func mirrorLCN(v *ntfs.Volume, vcn int64) (int64, error) {
	f, err := v.OpenRef(ntfs.MakeRef(1, 0))
	if err != nil {
		return 0, fmt.Errorf("journal replay: $MFTMirr: %w", err)
	}
	ra, _, err := f.AttrReader(ntfs.AttrData, "")
	if err != nil {
		return 0, fmt.Errorf("journal replay: $MFTMirr data: %w", err)
	}
	rr, ok := ra.(*ntfs.RunReader)
	if !ok {
		return 0, errors.New("journal replay: $MFTMirr data is not non-resident")
	}
	lcn, ok := rr.LCN(vcn)
	if !ok || lcn < 0 {
		return 0, fmt.Errorf("journal replay: $MFTMirr has no cluster at VCN %d", vcn)
	}
	return lcn, nil
}

// isAttrStart reports whether an attribute of the fixed-up record b starts
// at off (walking the attribute list from the record's first attribute).
func isAttrStart(b []byte, off int) bool {
	if len(b) < ntfs.MFTOffBytesInUse {
		return false
	}
	p := int(binary.LittleEndian.Uint16(b[ntfs.MFTOffAttrs:]))
	for p+8 <= len(b) && binary.LittleEndian.Uint32(b[p:]) != uint32(ntfs.AttrEnd) {
		if p == off {
			return true
		}
		l := int(binary.LittleEndian.Uint32(b[p+4:]))
		if l < 16 || l%8 != 0 {
			return false
		}
		p += l
	}
	return false
}

// attrEnd returns the end offset of the attribute at off in the fixed-up
// record b.
func attrEnd(b []byte, off int) (int, error) {
	if off < 0 || off+8 > len(b) {
		return 0, errors.New("attribute offset out of range")
	}
	l := int(binary.LittleEndian.Uint32(b[off+4:]))
	if l < 16 || off+l > len(b) {
		return 0, errors.New("attribute length out of range")
	}
	return off + l, nil
}

// stageCleanRestart writes both restart pages as a clean version 1.1
// journal, the way ntfsrecover leaves it.
func stageCleanRestart(v *ntfs.Volume, ov *overlay, rr *ntfs.RunReader, lf *logfile.LogFile) error {
	page, err := lf.Restart.CleanPage()
	if err != nil {
		return fmt.Errorf("journal replay: %w", err)
	}
	ps := len(page)
	for _, off := range []int64{0, int64(ps)} {
		exts, err := rr.Extents(off, ps)
		if err != nil {
			return fmt.Errorf("journal replay: $LogFile restart page at %d: %w", off, err)
		}
		pos := 0
		for _, e := range exts {
			if err := ov.write(e.Offset, page[pos:pos+e.Length]); err != nil {
				return err
			}
			pos += e.Length
		}
	}
	return nil
}

// overlay is the volume as the replay leaves it: reads see earlier staged
// writes; plan() turns the changed sectors into Writes (Before = disk).
type overlay struct {
	r     io.ReaderAt
	ss    int64
	orig  map[int64][]byte // sector offset -> bytes on disk
	cur   map[int64][]byte // sector offset -> staged bytes
	order []int64          // sectors in order of first change
	// base, for a fork (replay_undo.go), is the overlay this one reads
	// through; its sectors are copied on first access.
	base *overlay
	// held is the memory the sectors take (both copies; a fork counts
	// its base's too); overBudget is set once it passed maxOverlayBytes,
	// and every later sector read fails with it.
	held       int64
	overBudget error
}

func newOverlay(r io.ReaderAt, sectorSize int64) *overlay {
	return &overlay{r: r, ss: sectorSize, orig: map[int64][]byte{}, cur: map[int64][]byte{}}
}

func (o *overlay) sector(off int64) ([]byte, error) {
	if b, ok := o.cur[off]; ok {
		return b, nil
	}
	if o.overBudget == nil && o.held+2*o.ss > maxOverlayBytes {
		err := &ReplayRefusedError{Reason: fmt.Sprintf("the replay would hold more than %d MiB of the volume's sectors in memory (replay.MaxOverlayBytes): "+
			"let Windows replay the journal first (mount the volume in Windows RE or on another Windows machine, or run chkdsk /f on it), then run unbrick again", maxOverlayBytes>>20)}
		for b := o; b != nil; b = b.base {
			b.overBudget = err // a fork's error must not be lost with it
		}
	}
	if o.overBudget != nil {
		return nil, o.overBudget
	}
	o.held += 2 * o.ss
	if o.base != nil {
		b, err := o.base.sector(off)
		if err != nil {
			return nil, err
		}
		o.orig[off] = o.base.orig[off]
		o.cur[off] = append([]byte(nil), b...)
		return o.cur[off], nil
	}
	b := make([]byte, o.ss)
	if _, err := o.r.ReadAt(b, off); err != nil {
		return nil, fmt.Errorf("journal replay: read volume at %#x: %w", off, err)
	}
	o.orig[off] = b
	o.cur[off] = append([]byte(nil), b...)
	return o.cur[off], nil
}

func (o *overlay) read(off int64, n int) ([]byte, error) {
	out := make([]byte, 0, n)
	for p := off - off%o.ss; p < off+int64(n); p += o.ss {
		s, err := o.sector(p)
		if err != nil {
			return nil, err
		}
		lo, hi := max(off, p), min(off+int64(n), p+o.ss)
		out = append(out, s[lo-p:hi-p]...)
	}
	return out, nil
}

func (o *overlay) write(off int64, b []byte) error {
	for p := off - off%o.ss; p < off+int64(len(b)); p += o.ss {
		s, err := o.sector(p)
		if err != nil {
			return err
		}
		lo, hi := max(off, p), min(off+int64(len(b)), p+o.ss)
		before := append([]byte(nil), s...)
		copy(s[lo-p:hi-p], b[lo-off:hi-off])
		if !bytes.Equal(before, s) && !contains(o.order, p) {
			o.order = append(o.order, p)
		}
	}
	return nil
}

func contains(a []int64, x int64) bool {
	for _, y := range a {
		if y == x {
			return true
		}
	}
	return false
}

// plan returns one Write per run of consecutive changed sectors, in order
// of first change (data first, restart pages last), dropping sectors whose
// final content equals the disk.
func (o *overlay) plan() *edit.Plan {
	p := &edit.Plan{SectorSize: int(o.ss)}
	var secs []int64
	for _, s := range o.order {
		if !bytes.Equal(o.orig[s], o.cur[s]) {
			secs = append(secs, s)
		}
	}
	// Group consecutive sectors that were changed together.
	for i := 0; i < len(secs); {
		j := i + 1
		for j < len(secs) && secs[j] == secs[j-1]+o.ss {
			j++
		}
		w := edit.Write{Offset: secs[i], What: "journal replay"}
		for _, s := range secs[i:j] {
			w.Before = append(w.Before, o.orig[s]...)
			w.After = append(w.After, o.cur[s]...)
		}
		p.Writes = append(p.Writes, w)
		i = j
	}
	return p
}

// AnalyzeJournal reads this volume's $LogFile and analyses it
// (logfile.AnalyzeJournal), judging each operation by what Plan can
// redo.
func AnalyzeJournal(v *ntfs.Volume) (*logfile.JournalAnalysis, error) {
	f, err := v.OpenRef(ntfs.MakeRef(ntfs.RecordLogFile, 0))
	if err != nil {
		return nil, fmt.Errorf("ntfs: $LogFile: %w", err)
	}
	ra, size, err := f.AttrReader(ntfs.AttrData, "")
	if err != nil {
		return nil, fmt.Errorf("ntfs: $LogFile data: %w", err)
	}
	return logfile.AnalyzeJournal(ra, size, replaySupported)
}
