package logfile

import (
	"encoding/binary"
	"fmt"
)

// Log records. Layout (ntfs-3g include/ntfs-3g/logfile.h LOG_RECORD;
// Linux fs/ntfs3/fslog.c LFS_RECORD_HDR and LOG_REC_HDR; facts only):
//
//	LFS header (0x30)                   NTFS client data (at 0x30)
//	0x00 this LSN                       0x00 redo op    0x02 undo op
//	0x08 client previous LSN            0x04 redo off   0x06 redo len
//	0x10 client undo-next LSN           0x08 undo off   0x0A undo len
//	0x18 client data length             0x0C target attribute (open attribute table index)
//	0x1C client seq, client index       0x0E LCNs to follow
//	0x20 record type (1 normal,         0x10 record offset   0x12 attribute offset
//	     2 client restart/checkpoint)   0x14 cluster index (512-byte units) 0x16 attribute flags
//	0x24 transaction id                 0x18 target VCN      0x20 LCN list (8 bytes each)
//	0x28 flags (1: spans pages)
//
// Redo and undo offsets are relative to the start of the client data
// (fslog.c Add2Ptr(lrh, le16_to_cpu(lrh->redo_off))). ntfsrecover counts
// them from the record start plus 0x30 when there are LCNs, plus 0x28 when
// there are none; only records with LCNs carry data we apply, so both
// readings agree where it matters.

// LogOp is an NTFS log operation code.
type LogOp uint16

// Operation codes (ntfs-3g ntfsrecover.h ACTIONS; ntfs3 fslog.c NTFS_LOG_OPERATION).
const (
	OpNoop                         LogOp = 0x00
	OpCompensationLogRecord        LogOp = 0x01
	OpInitializeFileRecordSegment  LogOp = 0x02
	OpDeallocateFileRecordSegment  LogOp = 0x03
	OpWriteEndOfFileRecordSegment  LogOp = 0x04
	OpCreateAttribute              LogOp = 0x05
	OpDeleteAttribute              LogOp = 0x06
	OpUpdateResidentValue          LogOp = 0x07
	OpUpdateNonresidentValue       LogOp = 0x08
	OpUpdateMappingPairs           LogOp = 0x09
	OpDeleteDirtyClusters          LogOp = 0x0A
	OpSetNewAttributeSizes         LogOp = 0x0B
	OpAddIndexEntryRoot            LogOp = 0x0C
	OpDeleteIndexEntryRoot         LogOp = 0x0D
	OpAddIndexEntryAllocation      LogOp = 0x0E
	OpDeleteIndexEntryAllocation   LogOp = 0x0F
	OpWriteEndOfIndexBuffer        LogOp = 0x10
	OpSetIndexEntryVcnRoot         LogOp = 0x11
	OpSetIndexEntryVcnAllocation   LogOp = 0x12
	OpUpdateFileNameRoot           LogOp = 0x13
	OpUpdateFileNameAllocation     LogOp = 0x14
	OpSetBitsInNonresidentBitMap   LogOp = 0x15
	OpClearBitsInNonresidentBitMap LogOp = 0x16
	OpHotFix                       LogOp = 0x17
	OpEndTopLevelAction            LogOp = 0x18
	OpPrepareTransaction           LogOp = 0x19
	OpCommitTransaction            LogOp = 0x1A
	OpForgetTransaction            LogOp = 0x1B
	OpOpenNonresidentAttribute     LogOp = 0x1C
	OpOpenAttributeTableDump       LogOp = 0x1D
	OpAttributeNamesDump           LogOp = 0x1E
	OpDirtyPageTableDump           LogOp = 0x1F
	OpTransactionTableDump         LogOp = 0x20
	OpUpdateRecordDataRoot         LogOp = 0x21
	OpUpdateRecordDataAllocation   LogOp = 0x22
	OpUpdateRelativeDataIndex      LogOp = 0x23 // Windows 10 (ntfs-3g: Win10Action35)
	OpUpdateRelativeDataAllocation LogOp = 0x24 // Windows 10 (Win10Action36)
	OpZeroEndOfFileRecord          LogOp = 0x25 // Windows 10 (Win10Action37)
)

var logOpNames = [...]string{
	"Noop", "CompensationLogRecord", "InitializeFileRecordSegment", "DeallocateFileRecordSegment",
	"WriteEndOfFileRecordSegment", "CreateAttribute", "DeleteAttribute", "UpdateResidentValue",
	"UpdateNonresidentValue", "UpdateMappingPairs", "DeleteDirtyClusters", "SetNewAttributeSizes",
	"AddIndexEntryRoot", "DeleteIndexEntryRoot", "AddIndexEntryAllocation", "DeleteIndexEntryAllocation",
	"WriteEndOfIndexBuffer", "SetIndexEntryVcnRoot", "SetIndexEntryVcnAllocation", "UpdateFileNameRoot",
	"UpdateFileNameAllocation", "SetBitsInNonresidentBitMap", "ClearBitsInNonresidentBitMap", "HotFix",
	"EndTopLevelAction", "PrepareTransaction", "CommitTransaction", "ForgetTransaction",
	"OpenNonresidentAttribute", "OpenAttributeTableDump", "AttributeNamesDump", "DirtyPageTableDump",
	"TransactionTableDump", "UpdateRecordDataRoot", "UpdateRecordDataAllocation",
	"UpdateRelativeDataIndex", "UpdateRelativeDataAllocation", "ZeroEndOfFileRecord",
}

func (o LogOp) String() string {
	if int(o) < len(logOpNames) {
		return logOpNames[o]
	}
	return fmt.Sprintf("op%#x", uint16(o))
}

// Log record types.
const (
	LogRecordStandard   = 1
	LogRecordCheckpoint = 2 // client restart area ("checkpoint")
)

// LogRecord is one decoded log record.
type LogRecord struct {
	LSN            LSN
	PrevLSN        LSN // client previous LSN
	UndoNextLSN    LSN
	ClientDataLen  uint32
	ClientSeq      uint16
	ClientIndex    uint16
	Type           uint32
	TransactionID  uint32
	Flags          uint16
	Redo, Undo     LogOp
	RedoOffset     uint16
	RedoLength     uint16
	UndoOffset     uint16
	UndoLength     uint16
	TargetAttr     uint16
	RecordOffset   uint16
	AttrOffset     uint16
	ClusterIndex   uint16 // 512-byte units inside the first cluster
	AttrFlags      uint16
	TargetVCN      int64
	LCNs           []int64
	ClientData     []byte // the client data, ClientDataLen bytes
	checkpointArea *CheckpointArea
	// UndoPass is set by ntfs/replay on the copy of a record whose undo
	// operation and undo data it has put in the redo fields: the change is
	// made whatever the page LSN says, and the page keeps its LSN.
	UndoPass bool
}

// RedoData is the redo payload (nil when out of range).
func (r *LogRecord) RedoData() []byte { return sub(r.ClientData, int(r.RedoOffset), int(r.RedoLength)) }

// UndoData is the undo payload (nil when out of range).
func (r *LogRecord) UndoData() []byte { return sub(r.ClientData, int(r.UndoOffset), int(r.UndoLength)) }

func sub(b []byte, off, n int) []byte {
	if n == 0 || off < 0 || off+n > len(b) {
		return nil
	}
	return b[off : off+n]
}

// NTFSClientHeaderSize is the fixed part of the NTFS client data before
// the LCN list.
const NTFSClientHeaderSize = 0x20

// parseLogRecord decodes a whole record (header and client data, already
// gathered across pages).
func parseLogRecord(b []byte) (*LogRecord, error) {
	r := new(LogRecord)
	if err := decodeLogRecord(r, b); err != nil {
		return nil, err
	}
	return r, nil
}

// decodeLogRecord is parseLogRecord into r (the log reader hands out
// records from slabs; lfs_reader.go).
func decodeLogRecord(r *LogRecord, b []byte) error {
	if len(b) < RecordHeaderSize {
		return fmt.Errorf("log record of %d bytes is shorter than its header", len(b))
	}
	*r = LogRecord{
		LSN:           LSN(binary.LittleEndian.Uint64(b[0x00:])),
		PrevLSN:       LSN(binary.LittleEndian.Uint64(b[0x08:])),
		UndoNextLSN:   LSN(binary.LittleEndian.Uint64(b[0x10:])),
		ClientDataLen: binary.LittleEndian.Uint32(b[0x18:]),
		ClientSeq:     binary.LittleEndian.Uint16(b[0x1C:]),
		ClientIndex:   binary.LittleEndian.Uint16(b[0x1E:]),
		Type:          binary.LittleEndian.Uint32(b[0x20:]),
		TransactionID: binary.LittleEndian.Uint32(b[0x24:]),
		Flags:         binary.LittleEndian.Uint16(b[0x28:]),
	}
	if int64(r.ClientDataLen) != int64(len(b)-RecordHeaderSize) {
		return fmt.Errorf("log record %#x: client data length %d, have %d bytes", uint64(r.LSN), r.ClientDataLen, len(b)-RecordHeaderSize)
	}
	r.ClientData = b[RecordHeaderSize:]
	switch r.Type {
	case LogRecordStandard:
		cd := r.ClientData
		if len(cd) < NTFSClientHeaderSize {
			return fmt.Errorf("log record %#x: %d bytes of client data, an NTFS record needs %d", uint64(r.LSN), len(cd), NTFSClientHeaderSize)
		}
		r.Redo = LogOp(binary.LittleEndian.Uint16(cd[0x00:]))
		r.Undo = LogOp(binary.LittleEndian.Uint16(cd[0x02:]))
		r.RedoOffset = binary.LittleEndian.Uint16(cd[0x04:])
		r.RedoLength = binary.LittleEndian.Uint16(cd[0x06:])
		r.UndoOffset = binary.LittleEndian.Uint16(cd[0x08:])
		r.UndoLength = binary.LittleEndian.Uint16(cd[0x0A:])
		r.TargetAttr = binary.LittleEndian.Uint16(cd[0x0C:])
		n := int(binary.LittleEndian.Uint16(cd[0x0E:]))
		r.RecordOffset = binary.LittleEndian.Uint16(cd[0x10:])
		r.AttrOffset = binary.LittleEndian.Uint16(cd[0x12:])
		r.ClusterIndex = binary.LittleEndian.Uint16(cd[0x14:])
		r.AttrFlags = binary.LittleEndian.Uint16(cd[0x16:])
		r.TargetVCN = int64(binary.LittleEndian.Uint64(cd[0x18:]))
		if NTFSClientHeaderSize+8*n > len(cd) {
			return fmt.Errorf("log record %#x: %d LCNs do not fit in %d bytes of client data", uint64(r.LSN), n, len(cd))
		}
		if n > 0 {
			r.LCNs = make([]int64, n)
		}
		for i := range n {
			r.LCNs[i] = int64(binary.LittleEndian.Uint64(cd[NTFSClientHeaderSize+8*i:]))
		}
		if r.RedoLength > 0 && r.RedoData() == nil {
			return fmt.Errorf("log record %#x: redo data (offset %d, %d bytes) lies outside its %d bytes of client data", uint64(r.LSN), r.RedoOffset, r.RedoLength, len(cd))
		}
		if r.UndoLength > 0 && r.UndoData() == nil {
			return fmt.Errorf("log record %#x: undo data (offset %d, %d bytes) lies outside its %d bytes of client data", uint64(r.LSN), r.UndoOffset, r.UndoLength, len(cd))
		}
	case LogRecordCheckpoint:
		ca, err := parseCheckpointArea(r.ClientData)
		if err != nil {
			return fmt.Errorf("log record %#x: %w", uint64(r.LSN), err)
		}
		r.checkpointArea = ca
	default:
		return fmt.Errorf("log record %#x: unknown record type %d", uint64(r.LSN), r.Type)
	}
	return nil
}

// CheckpointArea is the NTFS client restart area a checkpoint record
// carries: where the table dumps written with the checkpoint are (ntfs-3g
// LOG_RECORD union: transaction_lsn, attributes_lsn, names_lsn,
// dirty_pages_lsn; ntfs3 fslog.c RESTART_AREA / NTFS_RESTART: major and
// minor version first, then check-point start LSN, then the table LSNs and
// lengths). The layouts of the two sources differ; we keep the ntfs3
// reading, which names the fields.
type CheckpointArea struct {
	Major, Minor        uint32
	StartOfCheckpoint   LSN
	OpenAttrTableLSN    LSN
	AttrNamesLSN        LSN
	DirtyPageTableLSN   LSN
	TransactionTableLSN LSN
	OpenAttrTableLen    uint32
	AttrNamesLen        uint32
	DirtyPageTableLen   uint32
	TransactionTableLen uint32
}

func parseCheckpointArea(b []byte) (*CheckpointArea, error) {
	if len(b) < 0x38 {
		return nil, fmt.Errorf("checkpoint record has %d bytes of client data, want at least 56", len(b))
	}
	le := binary.LittleEndian
	return &CheckpointArea{
		Major: le.Uint32(b[0x00:]), Minor: le.Uint32(b[0x04:]),
		StartOfCheckpoint:   LSN(le.Uint64(b[0x08:])),
		OpenAttrTableLSN:    LSN(le.Uint64(b[0x10:])),
		AttrNamesLSN:        LSN(le.Uint64(b[0x18:])),
		DirtyPageTableLSN:   LSN(le.Uint64(b[0x20:])),
		TransactionTableLSN: LSN(le.Uint64(b[0x28:])),
		OpenAttrTableLen:    le.Uint32(b[0x30:]),
		AttrNamesLen:        le.Uint32(b[0x34:]),
		DirtyPageTableLen:   u32At(b, 0x38),
		TransactionTableLen: u32At(b, 0x3C),
	}, nil
}

// u32At reads a little-endian uint32 at off, 0 when b is too short.
func u32At(b []byte, off int) uint32 {
	if off < 0 || off+4 > len(b) {
		return 0
	}
	return binary.LittleEndian.Uint32(b[off:])
}
