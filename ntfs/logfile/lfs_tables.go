package logfile

import (
	"encoding/binary"
	"fmt"
)

// Restart tables: the open attribute table, dirty page table and
// transaction table NTFS dumps into the log at each checkpoint (redo data of
// OpenAttributeTableDump, DirtyPageTableDump and TransactionTableDump
// records). Layout (Linux fs/ntfs3/fslog.c RESTART_TABLE, OPEN_ATTR_ENRTY_32,
// DIR_PAGE_ENTRY, TRANSACTION_ENTRY; facts only):
//
//	table header (0x18): 0x00 entry size, 0x02 entries, 0x04 total,
//	  0x0C free goal, 0x10 first free, 0x14 last free
//	every entry starts with a u32: 0xFFFFFFFF = allocated, else the free list link
//	open attribute entry (0x2C bytes, NTFS restart version 0): 0x08 file
//	  reference, 0x10 LSN of the open, 0x1C attribute type, 0x28 bytes per
//	  index; (0x28 bytes, later versions): 0x04 bytes per index, 0x08
//	  attribute type, 0x10 file reference, 0x18 LSN of the open
//	dirty page entry: 0x04 target attribute (offset of its open attribute
//	  entry), 0x08 transfer length, 0x0C LCN count, 0x10 VCN, 0x18 oldest
//	  LSN, 0x20 LCNs (on-disk 1.x entries may use the 32-bit layout)
//	transaction entry (0x28): 0x04 state, 0x08 first LSN, 0x10 previous LSN,
//	  0x18 undo-next LSN, 0x20 undo records, 0x24 undo length
//
// An entry is named by its byte offset in the table, which is what a log
// record's target attribute field holds.

const restartTableHeaderSize = 0x18

// RestartTable is a decoded restart table with its allocated entries.
type RestartTable struct {
	EntrySize uint16
	Entries   uint16
	// Allocated maps an entry's byte offset in the table to its bytes.
	Allocated map[uint32][]byte
}

// parseRestartTable decodes a restart table dump.
func parseRestartTable(b []byte) (*RestartTable, error) {
	if len(b) < restartTableHeaderSize {
		return nil, fmt.Errorf("restart table of %d bytes is shorter than its header", len(b))
	}
	t := &RestartTable{
		EntrySize: binary.LittleEndian.Uint16(b[0:]),
		Entries:   binary.LittleEndian.Uint16(b[2:]),
		Allocated: map[uint32][]byte{},
	}
	if t.EntrySize < 4 || t.EntrySize%4 != 0 {
		return nil, fmt.Errorf("restart table entry size %d is invalid", t.EntrySize)
	}
	end := restartTableHeaderSize + int(t.Entries)*int(t.EntrySize)
	if end > len(b) {
		return nil, fmt.Errorf("restart table of %d entries of %d bytes overflows its %d bytes", t.Entries, t.EntrySize, len(b))
	}
	for off := restartTableHeaderSize; off < end; off += int(t.EntrySize) {
		if binary.LittleEndian.Uint32(b[off:]) == 0xFFFFFFFF {
			t.Allocated[uint32(off)] = b[off : off+int(t.EntrySize)]
		}
	}
	return t, nil
}

// OpenAttribute is one entry of the open attribute table.
type OpenAttribute struct {
	Index    uint32 // its offset in the table (log records' TargetAttr)
	File     uint64 // MFT reference of the file (ntfs.FileRef)
	Type     uint32 // attribute type (ntfs.AttrType)
	OpenLSN  LSN
	Name     string // from the attribute names dump, when present
	entryRaw []byte
}

// parseOpenAttributes decodes the open attribute table. Its entry size
// tells the layout (ntfs3 fslog.c: the NTFS restart area's major version 0
// uses OPEN_ATTR_ENRTY_32, 0x2C bytes: file reference at 0x08, open LSN at
// 0x10, attribute type at 0x1C; later versions OPEN_ATTR_ENRTY, 0x28
// bytes: type at 0x08, file reference at 0x10, open LSN at 0x18).
func parseOpenAttributes(t *RestartTable) ([]OpenAttribute, error) {
	if t.EntrySize < 0x28 {
		return nil, fmt.Errorf("open attribute table entry size %d is smaller than 40 bytes", t.EntrySize)
	}
	var out []OpenAttribute
	for off, e := range t.Allocated {
		a := OpenAttribute{Index: off, entryRaw: e}
		if t.EntrySize == 0x28 {
			a.Type = binary.LittleEndian.Uint32(e[0x08:])
			a.File = binary.LittleEndian.Uint64(e[0x10:])
			a.OpenLSN = LSN(binary.LittleEndian.Uint64(e[0x18:]))
		} else {
			a.File = binary.LittleEndian.Uint64(e[0x08:])
			a.OpenLSN = LSN(binary.LittleEndian.Uint64(e[0x10:]))
			a.Type = binary.LittleEndian.Uint32(e[0x1C:])
		}
		out = append(out, a)
	}
	sortByIndex(out)
	return out, nil
}

func sortByIndex(a []OpenAttribute) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j].Index < a[j-1].Index; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

// DirtyPage is one entry of the dirty page table.
type DirtyPage struct {
	TargetAttr uint32
	VCN        int64
	OldestLSN  LSN
	LCNs       []int64
}

// parseDirtyPages decodes the dirty page table (64-bit entry layout,
// 0x20-byte header then LCNs).
func parseDirtyPages(t *RestartTable) ([]DirtyPage, error) {
	var out []DirtyPage
	for _, e := range t.Allocated {
		if len(e) < 0x20 {
			return nil, fmt.Errorf("dirty page table entry of %d bytes is shorter than 32", len(e))
		}
		n := int(binary.LittleEndian.Uint32(e[0x0C:]))
		d := DirtyPage{
			TargetAttr: binary.LittleEndian.Uint32(e[0x04:]),
			VCN:        int64(binary.LittleEndian.Uint64(e[0x10:])),
			OldestLSN:  LSN(binary.LittleEndian.Uint64(e[0x18:])),
		}
		if 0x20+8*n > len(e) {
			return nil, fmt.Errorf("dirty page table entry lists %d LCNs in %d bytes", n, len(e))
		}
		for i := 0; i < n; i++ {
			d.LCNs = append(d.LCNs, int64(binary.LittleEndian.Uint64(e[0x20+8*i:])))
		}
		out = append(out, d)
	}
	return out, nil
}

// TransactionEntry is one entry of the transaction table.
type TransactionEntry struct {
	ID          uint32 // offset in the table, what log records carry as TransactionID
	State       uint8  // 1 active, 2 prepared, 3 committed
	FirstLSN    LSN
	PrevLSN     LSN
	UndoNextLSN LSN
}

func parseTransactions(t *RestartTable) ([]TransactionEntry, error) {
	var out []TransactionEntry
	for off, e := range t.Allocated {
		if len(e) < 0x20 {
			return nil, fmt.Errorf("transaction table entry of %d bytes is shorter than 32", len(e))
		}
		out = append(out, TransactionEntry{
			ID:          off,
			State:       e[4],
			FirstLSN:    LSN(binary.LittleEndian.Uint64(e[0x08:])),
			PrevLSN:     LSN(binary.LittleEndian.Uint64(e[0x10:])),
			UndoNextLSN: LSN(binary.LittleEndian.Uint64(e[0x18:])),
		})
	}
	return out, nil
}
