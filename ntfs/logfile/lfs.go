package logfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/unbrick/unbrick/ntfs/internal/mst"
	"io"
)

// $LogFile (LFS) geometry, log sequence numbers and log record pages.
//
// Journal API (JOURNAL team; the restart-page checks come from logfile.go):
//
//   - ReadLogFile(r, size) *LogFile: the chosen restart page (RestartInfo:
//     sequence bits, page data offset, client oldest and restart LSNs), the
//     other page, Geometry, the records from the oldest needed LSN to the
//     end of the log (StartLSN, EndLSN, Stop, Damaged), the checkpoint
//     (CheckpointArea) and its open attribute, dirty page and transaction
//     tables. lf.TransactionsInLog() groups records by transaction.
//   - AnalyzeJournal(r, size, canRedo) *JournalAnalysis: what `unbrick
//     ntfs journal` shows (String(), JSON tags): checkpoint LSN,
//     committed and uncommitted transactions, redo operation counts,
//     operations canRedo refuses, whether a replay is possible and why.
//     ntfs/replay's AnalyzeJournal passes the replayer's own test.
//
// Facts (sources, read for facts only; no code copied): ntfs-3g
// include/ntfs-3g/logfile.h (RESTART_AREA, LOG_CLIENT_RECORD,
// RECORD_PAGE_HEADER, LOG_RECORD), ntfs-3g ntfsprogs/ntfsrecover.c
// (block layout: two restart pages, then two tail pages for version 1.x
// or 32 for version 2.x; LSN to block: (lsn & offset mask) >> (page bits -
// 3)), Linux fs/ntfs3/fslog.c (same layout: the first log page is 4 pages
// in for 1.x and 0x22 pages in for 2.x; an LSN is the file offset divided
// by 8 in its low 64-seq_bits bits and a wrap count above).
//
// An LSN: low (64 - SeqBits) bits = byte offset in $LogFile / 8, high
// SeqBits bits = how many times the log wrapped around (sequence number).
//
// Log record page ("RCRD"), update sequence protected like MFT records:
//
//	0x00 magic "RCRD"         0x14 page count (u16)
//	0x04 USA offset           0x16 page position (u16)
//	0x06 USA count            0x18 next record offset (u16): free space in the page
//	0x08 last LSN, or file    0x1A reserved
//	     offset in tail pages 0x20 last end LSN: last record ending in the page
//	0x10 flags (1: a record   0x28 USA
//	     ends in this page)
//
// Records are 8-byte aligned; a record longer than what is left of a page
// continues at the data offset of the next page (after its header/USA).
// When fewer than a record header's bytes are left in a page, the next
// record starts on the next page.

// LSN is a $LogFile log sequence number.
type LSN uint64

// Log record page and log record layout (see the table above).
const (
	PageHeaderSize    = 0x28 // RCRD header; the USA starts here
	RecordHeaderSize  = 0x30 // log record header, before the client data
	PageFlagRecordEnd = 1    // page flag: a record ends in this page
	TailPagesV1       = 2    // tail copies of the last page, version 1.x
	TailPagesV2       = 32   // version 2.x: two sets of 16
)

// Geometry is what the restart area says about the journal layout.
type Geometry struct {
	PageSize   int64  // log page size
	SeqBits    uint32 // sequence number bits in an LSN
	FileSize   int64  // usable journal size (restart area file size)
	DataOffset int    // offset of the first record byte in a log page
	Major      int16
	FirstPage  int64 // offset of the first page of the circular area
}

func (g *Geometry) offsetBits() uint32 { return 64 - g.SeqBits }

// Offset is the $LogFile byte offset of l.
func (g *Geometry) Offset(l LSN) int64 {
	return int64((uint64(l) << g.SeqBits) >> (g.SeqBits - 3))
}

// Seq is the wrap count of l.
func (g *Geometry) Seq(l LSN) uint64 { return uint64(l) >> g.offsetBits() }

// MakeLSN builds the LSN of byte offset off in lap seq.
func (g *Geometry) MakeLSN(seq uint64, off int64) LSN {
	return LSN(seq<<g.offsetBits() | uint64(off)>>3)
}

// PageOf is the offset of the page holding byte offset off.
func (g *Geometry) PageOf(off int64) int64 { return off &^ (g.PageSize - 1) }

// NextPage returns the page after page (wrapping to FirstPage, one lap
// later).
func (g *Geometry) NextPage(page int64, seq uint64) (int64, uint64) {
	page += g.PageSize
	if page >= g.FileSize {
		return g.FirstPage, seq + 1
	}
	return page, seq
}

// NextLSN is the LSN of the record following the one at l whose total
// length (header + client data) is n bytes.
func (g *Geometry) NextLSN(l LSN, n int) LSN {
	seq, off := g.Seq(l), g.Offset(l)
	remaining := int64(Align8(n))
	for {
		page := g.PageOf(off)
		room := page + g.PageSize - off
		if remaining < room {
			off += remaining
			break
		}
		if remaining == room {
			// The record ends at its page's end: the next one starts
			// after the next page's header (a page never holds a record
			// at offset 0).
			page, seq = g.NextPage(page, seq)
			off = page + int64(g.DataOffset)
			break
		}
		remaining -= room
		page, seq = g.NextPage(page, seq)
		off = page + int64(g.DataOffset)
	}
	if page := g.PageOf(off); page+g.PageSize-off < RecordHeaderSize {
		page, seq = g.NextPage(page, seq)
		off = page + int64(g.DataOffset)
	}
	return g.MakeLSN(seq, off)
}

// Align8 rounds n up to a multiple of 8 (records and their client data
// are 8-byte aligned).
func Align8(n int) int { return (n + 7) &^ 7 }

// LogPage is one decoded log record page.
type LogPage struct {
	Offset         int64 // where it was read ($LogFile byte offset)
	LastLSN        LSN   // or the file offset, in a tail copy (version 1.x)
	Flags          uint32
	PageCount      uint16
	PagePosition   uint16
	NextRecordOff  uint16
	LastEndLSN     LSN
	Data           []byte // the page with fixups removed
	FixupErr       error  // non-nil: torn page (update sequence mismatch)
	USN            uint16
	isTailCopyOfV1 bool
}

// ErrLogPageNotRCRD is returned by parseLogPage for a page that is not a
// log record page (unused: all 0xFF, or zero).
var ErrLogPageNotRCRD = errors.New("not a log record page (RCRD)")

// parseLogPage decodes the log record page b (PageSize bytes, as stored)
// read at offset off. A page whose update sequence does not match is
// returned with FixupErr set (its data is not trustworthy past the first
// torn stride). The page takes b over: its fixups are removed in place and
// Data is b, so the caller must pass a buffer it no longer uses (each page
// is then read and fixed up once, and records inside one page can be
// slices of it).
func parseLogPage(b []byte, off int64) (*LogPage, error) {
	if len(b) < logMinPageSize || len(b)%mst.Stride != 0 {
		return nil, fmt.Errorf("$LogFile page at %d: %d bytes is not a whole number of 512-byte blocks", off, len(b))
	}
	if string(b[:4]) != "RCRD" {
		return nil, ErrLogPageNotRCRD
	}
	p := &LogPage{Offset: off, Data: b}
	usaOff := int(binary.LittleEndian.Uint16(b[4:]))
	usaCount := int(binary.LittleEndian.Uint16(b[6:]))
	if usaCount != len(b)/mst.Stride+1 || usaOff < PageHeaderSize || usaOff%2 != 0 || usaOff+2*usaCount > mst.Stride-2 {
		return nil, fmt.Errorf("$LogFile page at %d: update sequence array (offset %d, count %d) is invalid", off, usaOff, usaCount)
	}
	p.USN = binary.LittleEndian.Uint16(b[usaOff:])
	if err := UnprotectPage(p.Data, usaOff, usaCount); err != nil {
		p.FixupErr = fmt.Errorf("$LogFile page at %d: %w", off, err)
	}
	d := p.Data
	p.LastLSN = LSN(binary.LittleEndian.Uint64(d[0x08:]))
	p.Flags = binary.LittleEndian.Uint32(d[0x10:])
	p.PageCount = binary.LittleEndian.Uint16(d[0x14:])
	p.PagePosition = binary.LittleEndian.Uint16(d[0x16:])
	p.NextRecordOff = binary.LittleEndian.Uint16(d[0x18:])
	p.LastEndLSN = LSN(binary.LittleEndian.Uint64(d[0x20:]))
	return p, nil
}

// lfsPages reads log pages of one $LogFile, choosing for each position the
// most recent of the page in place and its tail copies.
type lfsPages struct {
	r     io.ReaderAt
	size  int64 // $LogFile data size
	g     *Geometry
	cache map[int64]*LogPage
	// tails maps a target page offset to the most recent tail copy.
	tails map[int64]*LogPage
	// slab holds LogRecords not yet handed out: records are allocated
	// in blocks rather than one by one (a full 64 MiB log holds some
	// 200,000 of them).
	slab  []LogRecord
	slabN int // size of the last slab
}

// lfsRecordSlab is the largest number of LogRecords allocated at a time
// (about 136 KiB, a whole number of the runtime's 8 KiB pages at 136 bytes
// each). Slabs start at 16 records and double, so that a short journal
// does not pay for a big one.
const lfsRecordSlab = 1024

// newRecord returns a zero LogRecord from the slab.
func (ps *lfsPages) newRecord() *LogRecord {
	if len(ps.slab) == 0 {
		ps.slabN = min(max(2*ps.slabN, 16), lfsRecordSlab)
		ps.slab = make([]LogRecord, ps.slabN)
	}
	r := &ps.slab[0]
	ps.slab = ps.slab[1:]
	return r
}

func newLFSPages(r io.ReaderAt, size int64, g *Geometry) *lfsPages {
	return &lfsPages{r: r, size: size, g: g, cache: map[int64]*LogPage{}, tails: map[int64]*LogPage{}}
}

func (ps *lfsPages) readRaw(off int64) (*LogPage, error) {
	if off < 0 || off+ps.g.PageSize > ps.size {
		return nil, fmt.Errorf("$LogFile page at %d lies past the end of the %d-byte journal", off, ps.size)
	}
	b := make([]byte, ps.g.PageSize)
	if _, err := ps.r.ReadAt(b, off); err != nil {
		return nil, fmt.Errorf("read $LogFile page at %d: %w", off, err)
	}
	return parseLogPage(b, off)
}

// loadTails reads the tail pages (between the restart pages and
// FirstPage) and records, per target page, the most recent copy.
//
// Version 1.x: the two tail pages carry the target page's file offset in
// the last-LSN field (ntfsrecover: copy.file_offset); the most recent has
// the higher last end LSN. Version 2.x: the 32 tail pages carry a real last
// LSN; the target page is the page holding that LSN (ntfsrecover
// block_sequence).
func (ps *lfsPages) loadTails() []string {
	var notes []string
	for off := 2 * ps.g.PageSize; off < ps.g.FirstPage; off += ps.g.PageSize {
		p, err := ps.readRaw(off)
		if err != nil {
			if !errors.Is(err, ErrLogPageNotRCRD) {
				notes = append(notes, err.Error())
			}
			continue
		}
		if p.FixupErr != nil {
			notes = append(notes, "tail page: "+p.FixupErr.Error())
			continue
		}
		var target int64
		if ps.g.Major < 2 {
			target = int64(p.LastLSN)
			p.isTailCopyOfV1 = true
		} else {
			target = ps.g.PageOf(ps.g.Offset(p.LastLSN))
		}
		if target < ps.g.FirstPage || target >= ps.g.FileSize || target%ps.g.PageSize != 0 {
			notes = append(notes, fmt.Sprintf("tail page at %d points at %d, outside the log area", off, target))
			continue
		}
		if cur := ps.tails[target]; cur == nil || int64(p.LastEndLSN-cur.LastEndLSN) > 0 {
			ps.tails[target] = p
		}
	}
	return notes
}

// page returns the page to use at off: the page in place, unless a tail
// copy is more recent (or the page in place is torn or missing).
func (ps *lfsPages) page(off int64) (*LogPage, error) {
	if p, ok := ps.cache[off]; ok {
		return p, nil
	}
	p, err := ps.readRaw(off)
	if err != nil && !errors.Is(err, ErrLogPageNotRCRD) {
		return nil, err
	}
	if t := ps.tails[off]; t != nil {
		switch {
		case p == nil || p.FixupErr != nil || int64(t.LastEndLSN-p.LastEndLSN) > 0:
			p = t
		case t.LastEndLSN == p.LastEndLSN && !bytes.Equal(t.Data[ps.g.DataOffset:t.used(ps.g.DataOffset)], p.Data[ps.g.DataOffset:p.used(ps.g.DataOffset)]):
			// As recent as the page in place but different: one of them
			// is corrupt and nothing says which.
			return nil, fmt.Errorf("$LogFile page at %d and its tail copy at %d hold different records for the same LSN", off, t.Offset)
		}
	}
	if p == nil {
		return nil, fmt.Errorf("$LogFile page at %d: %w", off, ErrLogPageNotRCRD)
	}
	ps.cache[off] = p
	return p, nil
}

// used is the end of the bytes the page's records occupy: the next record
// offset when the page says a record ends in it, else the whole page.
func (p *LogPage) used(dataOff int) int {
	n := int(p.NextRecordOff)
	if p.Flags&PageFlagRecordEnd == 0 || n < dataOff || n > len(p.Data) {
		return len(p.Data)
	}
	return n
}
