package logfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/unbrick/unbrick/ntfs/internal/mst"
	"io"
)

// Reading the log: choose the restart page, decode the full restart area
// and client record, then walk the log records forward from the oldest LSN
// the client still needs to the end of the log.
//
// Restart area fields used here beyond logfile.go's RestartPage (ntfs-3g
// logfile.h RESTART_AREA / LOG_CLIENT_RECORD; ntfs3 fslog.c RESTART_AREA,
// CLIENT_REC): restart area 0x10 sequence number bits, 0x24 log record
// header length, 0x26 log page data offset; client record 0x00 oldest LSN
// (redo may need nothing older), 0x08 client restart LSN (the NTFS
// checkpoint record). ntfsrecover syncs from the oldest LSN and treats the
// client restart LSN as the commit horizon (ntfsrecover.c dorest).

// RestartInfo is the chosen restart page with the fields replay needs.
type RestartInfo struct {
	Page             *RestartPage
	SeqBits          uint32
	RecordHeaderLen  uint16
	PageDataOffset   uint16
	ClientOldestLSN  LSN
	ClientRestartLSN LSN
	raw              []byte // the restart page, fixups removed
	raOff            int
	caOff            int // client array offset, relative to the restart area
}

// LogFile is a parsed $LogFile: restart information, the log records from
// the start LSN to the end of the log, and the checkpoint tables.
type LogFile struct {
	Restart  *RestartInfo
	Other    *RestartInfo // the other valid restart page, if any
	Geometry Geometry
	StartLSN LSN // first record read (oldest LSN the client needs)
	EndLSN   LSN // where the next record would go
	Records  []*LogRecord
	Stop     string // why the forward walk stopped
	// Damaged: the walk stopped on a torn page or an impossible record
	// rather than at a clean end of log; records may be missing.
	Damaged    bool
	Notes      []string
	Checkpoint *CheckpointArea

	OpenAttributes []OpenAttribute
	DirtyPages     []DirtyPage
	Transactions   []TransactionEntry
}

// ErrLogFileEmpty is returned by ReadLogFile for a journal that holds no
// restart page (all 0xFF after mkntfs, ntfsfix or a reset): nothing to
// replay.
var ErrLogFileEmpty = errors.New("$LogFile is empty (no restart page): nothing to replay")

// MaxLogFileSize is the largest journal ReadLogFile (and so AnalyzeJournal
// and a replay) reads: 256 MiB, four times the 64 MiB Windows gives
// $LogFile by default. The walk keeps every log page it reads from the
// oldest LSN the restart area needs to the end of the log, since records
// are slices of them, plus a LogRecord for each record: memory of the
// order of the journal's size, which this bounds. A bigger journal is
// refused (*TooLargeError) before any log page is read.
const MaxLogFileSize = 256 << 20

// maxLogFileSize is the limit in force: MaxLogFileSize, lowered by the
// package's tests.
var maxLogFileSize int64 = MaxLogFileSize

// TooLargeError reports a journal bigger than MaxLogFileSize: it is not
// read, so nothing is replayed (and nothing written).
type TooLargeError struct {
	Size  int64 // the journal's size, as its restart area gives it
	Limit int64 // MaxLogFileSize
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("$LogFile is %s (%d bytes), more than the %s (%d bytes) unbrick reads into memory to replay a journal (logfile.MaxLogFileSize): "+
		"let Windows replay it first (mount the volume in Windows RE or on another Windows machine, or run chkdsk /f on it), then run unbrick again",
		mib(e.Size), e.Size, mib(e.Limit), e.Limit)
}

// mib renders a byte count in MiB.
func mib(n int64) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// maxLogRecordBytes bounds a single record's client data (a table dump is
// the largest record NTFS writes; 1 MiB is far above any real one).
const maxLogRecordBytes = 1 << 20

// ReadLogFile parses the $LogFile whose data (size bytes) r reads. It never
// writes. A journal whose restart area gives a size above MaxLogFileSize
// is refused with *TooLargeError, before its log pages are read. A malformed journal yields an error or, past the restart area, a
// Stop reason: the walk ends at the first record that is not where the
// previous one said the next would be (end of log, torn or stale page).
func ReadLogFile(r io.ReaderAt, size int64) (*LogFile, error) {
	pages := []*RestartInfo{}
	var bad []string
	for _, pos := range []int64{0, -1} {
		if pos < 0 {
			if len(pages) > 0 {
				pos = int64(pages[0].Page.SystemPageSize)
			} else {
				pos = 4096
			}
		}
		ri, err := readRestartInfo(r, size, pos)
		if err != nil {
			bad = append(bad, err.Error())
			continue
		}
		if ri != nil {
			pages = append(pages, ri)
		}
	}
	if len(pages) == 0 {
		if len(bad) == 0 {
			return nil, ErrLogFileEmpty
		}
		return nil, fmt.Errorf("$LogFile has no valid restart page (%s); run chkdsk on Windows", bad[0])
	}
	lf := &LogFile{Notes: bad}
	lf.Restart = pages[0]
	if len(pages) == 2 {
		a, b := pages[0], pages[1]
		if b.Page.LSN() > a.Page.LSN() {
			a, b = b, a
		}
		lf.Restart, lf.Other = a, b
		if a.Page.LSN() != b.Page.LSN() || a.ClientRestartLSN != b.ClientRestartLSN {
			lf.Notes = append(lf.Notes, fmt.Sprintf("the restart pages disagree (LSN %#x at offset %d, %#x at offset %d): using the more recent one",
				a.Page.LSN(), a.Page.Offset, b.Page.LSN(), b.Page.Offset))
		}
	}
	ri := lf.Restart
	if ri.Page.Magic == "CHKD" {
		return nil, errors.New("$LogFile restart page was rewritten by chkdsk (CHKD): the journal must not be replayed")
	}
	g := Geometry{
		PageSize:   int64(ri.Page.LogPageSize),
		SeqBits:    ri.SeqBits,
		FileSize:   ri.Page.FileSize &^ (int64(ri.Page.LogPageSize) - 1),
		DataOffset: int(ri.PageDataOffset),
		Major:      ri.Page.MajorVersion,
	}
	tails := int64(TailPagesV1)
	if g.Major >= 2 {
		tails = TailPagesV2
	}
	g.FirstPage = (2 + tails) * g.PageSize
	if g.FileSize > maxLogFileSize {
		return nil, &TooLargeError{Size: g.FileSize, Limit: maxLogFileSize}
	}
	switch {
	case g.FileSize > size:
		return nil, fmt.Errorf("$LogFile restart area says the journal is %d bytes, but $LogFile holds %d", g.FileSize, size)
	case g.FileSize < g.FirstPage+2*g.PageSize:
		return nil, fmt.Errorf("$LogFile of %d bytes is too small for log pages of %d bytes", g.FileSize, g.PageSize)
	case g.DataOffset < PageHeaderSize || int64(g.DataOffset)+RecordHeaderSize > g.PageSize:
		return nil, fmt.Errorf("$LogFile log page data offset %d is invalid for %d-byte pages", g.DataOffset, g.PageSize)
	case ri.SeqBits < 4 || ri.SeqBits > 60:
		return nil, fmt.Errorf("$LogFile sequence number bits %d is invalid", ri.SeqBits)
	}
	lf.Geometry = g
	ps := newLFSPages(r, size, &lf.Geometry)
	lf.Notes = append(lf.Notes, ps.loadTails()...)

	start := ri.ClientRestartLSN
	if ri.ClientOldestLSN != 0 && int64(ri.ClientOldestLSN-start) < 0 {
		start = ri.ClientOldestLSN
	}
	if start == 0 {
		lf.Stop = "the client restart area names no checkpoint (LSN 0): nothing was logged"
		return lf, nil
	}
	lf.StartLSN, lf.EndLSN = start, start
	limit := int(g.FileSize / RecordHeaderSize)
	for l := start; len(lf.Records) < limit; {
		rec, err := readLogRecordAt(ps, l)
		if err != nil {
			lf.Stop = err.Error()
			var le *LogRecordError
			lf.Damaged = !errors.As(err, &le) || !le.EndOfLog || len(lf.Records) == 0
			break
		}
		lf.Records = append(lf.Records, rec)
		l = g.NextLSN(l, RecordHeaderSize+int(rec.ClientDataLen))
		lf.EndLSN = l
	}
	lf.readCheckpoint(ps)
	return lf, nil
}

// readRestartInfo reads and decodes the restart page at pos; nil, nil when
// the place holds no restart page at all (0xFF or zero filled).
func readRestartInfo(r io.ReaderAt, size, pos int64) (*RestartInfo, error) {
	if pos+logMinPageSize > size {
		return nil, nil
	}
	first := make([]byte, logMinPageSize)
	if _, err := r.ReadAt(first, pos); err != nil {
		return nil, fmt.Errorf("read $LogFile restart page at %d: %w", pos, err)
	}
	if m := string(first[:4]); m != "RSTR" && m != "CHKD" {
		return nil, nil
	}
	sps := int64(binary.LittleEndian.Uint32(first[0x10:]))
	if sps < logMinPageSize || sps > 1<<16 || sps&(sps-1) != 0 || pos+sps > size {
		return nil, &RestartPageError{Offset: pos, Reason: fmt.Sprintf("system page size %d is invalid", sps)}
	}
	page := make([]byte, sps)
	if _, err := r.ReadAt(page, pos); err != nil {
		return nil, fmt.Errorf("read $LogFile restart page at %d: %w", pos, err)
	}
	rp, err := ParseRestartPage(page, pos)
	if err != nil {
		return nil, err
	}
	ri := &RestartInfo{Page: rp, raw: page}
	usaOff := int(binary.LittleEndian.Uint16(page[4:]))
	usaCount := int(binary.LittleEndian.Uint16(page[6:]))
	if usaCount > 0 {
		// ParseRestartPage accepted a torn page only when the restart area
		// fits in the first block; the fields below are then intact.
		_ = UnprotectPage(page, usaOff, usaCount)
	}
	ri.raOff = int(binary.LittleEndian.Uint16(page[0x18:]))
	ra := page[ri.raOff:]
	ri.SeqBits = binary.LittleEndian.Uint32(ra[0x10:])
	ri.caOff = int(binary.LittleEndian.Uint16(ra[0x16:]))
	ri.RecordHeaderLen = binary.LittleEndian.Uint16(ra[0x24:])
	ri.PageDataOffset = binary.LittleEndian.Uint16(ra[0x26:])
	if rp.LogClients > 0 && ri.raOff+ri.caOff+ClientRecordSize <= len(page) {
		c := page[ri.raOff+ri.caOff:]
		ri.ClientOldestLSN = LSN(binary.LittleEndian.Uint64(c[0x00:]))
		ri.ClientRestartLSN = LSN(binary.LittleEndian.Uint64(c[0x08:]))
	}
	return ri, nil
}

// LogRecordError says why the record expected at an LSN could not be read
// (normally: the end of the log was reached).
type LogRecordError struct {
	LSN    LSN
	Reason string
	// EndOfLog: the place holds an older lap's data or no log page at all,
	// which is how the log ends. Otherwise the log is damaged there (torn
	// page, impossible record).
	EndOfLog bool
}

func (e *LogRecordError) Error() string {
	return fmt.Sprintf("log record %#x: %s", uint64(e.LSN), e.Reason)
}

// readLogRecordAt reads the record that starts at l, gathering it across
// pages, and checks that it is the record of this lap (its header carries
// l) and that every page it spans was written in this lap.
func readLogRecordAt(ps *lfsPages, l LSN) (*LogRecord, error) {
	g := ps.g
	bad := func(format string, a ...any) error { return &LogRecordError{LSN: l, Reason: fmt.Sprintf(format, a...)} }
	end := func(format string, a ...any) error {
		return &LogRecordError{LSN: l, Reason: fmt.Sprintf(format, a...), EndOfLog: true}
	}
	off := g.Offset(l)
	if off < g.FirstPage || off >= g.FileSize || off%8 != 0 || off-g.PageOf(off) < int64(g.DataOffset) || off-g.PageOf(off) > g.PageSize-RecordHeaderSize {
		return nil, bad("its offset %d is not inside the log record area", off)
	}
	seq := g.Seq(l)
	var buf []byte
	need := RecordHeaderSize
	page := g.PageOf(off)
	pos := off - page
	for first := true; len(buf) < need; first = false {
		p, err := ps.page(page)
		if errors.Is(err, ErrLogPageNotRCRD) {
			return nil, end("page at %d is not a log record page: end of log", page)
		}
		if err != nil {
			return nil, bad("page %d: %v", page, err)
		}
		if p.FixupErr != nil {
			return nil, bad("torn page: %v", p.FixupErr)
		}
		if !p.isTailCopyOfV1 && int64(p.LastLSN-l) < 0 {
			return nil, end("page at %d was last written before this record (its last LSN %#x): end of log", page, uint64(p.LastLSN))
		}
		if first {
			// The header is inside the first page (checked above).
			hdr := p.Data[pos : pos+RecordHeaderSize]
			if got := LSN(binary.LittleEndian.Uint64(hdr)); got != l {
				return nil, end("the page holds record %#x there instead: end of log", uint64(got))
			}
			n := binary.LittleEndian.Uint32(hdr[0x18:])
			if n > maxLogRecordBytes || int64(n) > g.FileSize/2 {
				return nil, bad("client data length %d is implausible", n)
			}
			need = RecordHeaderSize + int(n)
			if stop := pos + int64(need); stop <= g.PageSize {
				// The whole record is in this page: the record keeps
				// a slice of it (pages are read once and never
				// changed; the capacity ends with the record).
				buf = p.Data[pos:stop:stop]
				break
			}
			buf = make([]byte, 0, need)
		}
		take := min(int64(need-len(buf)), g.PageSize-pos)
		buf = append(buf, p.Data[pos:pos+take]...)
		if len(buf) < need && pos+take >= g.PageSize {
			page, seq = g.NextPage(page, seq)
			pos = int64(g.DataOffset)
		} else {
			pos += take
		}
	}
	rec := ps.newRecord()
	if err := decodeLogRecord(rec, buf); err != nil {
		return nil, bad("%v", err)
	}
	return rec, nil
}

// readCheckpoint decodes the checkpoint record at the client restart LSN
// and the table dumps it names. Problems become notes: the tables are for
// showing and cross-checking; redo works from the records.
func (lf *LogFile) readCheckpoint(ps *lfsPages) {
	l := lf.Restart.ClientRestartLSN
	if l == 0 {
		return
	}
	rec := lf.record(l)
	if rec == nil {
		var err error
		if rec, err = readLogRecordAt(ps, l); err != nil {
			lf.Notes = append(lf.Notes, "checkpoint record: "+err.Error())
			return
		}
	}
	if rec.checkpointArea == nil {
		lf.Notes = append(lf.Notes, fmt.Sprintf("the record at the client restart LSN %#x is not a checkpoint record (type %d)", uint64(l), rec.Type))
		return
	}
	ca := rec.checkpointArea
	lf.Checkpoint = ca
	table := func(l LSN, what string) *RestartTable {
		if l == 0 {
			return nil
		}
		rec := lf.record(l)
		if rec == nil {
			var err error
			if rec, err = readLogRecordAt(ps, l); err != nil {
				lf.Notes = append(lf.Notes, what+": "+err.Error())
				return nil
			}
		}
		t, err := parseRestartTable(rec.RedoData())
		if err != nil {
			lf.Notes = append(lf.Notes, what+": "+err.Error())
			return nil
		}
		return t
	}
	if t := table(ca.OpenAttrTableLSN, "open attribute table"); t != nil {
		if oa, err := parseOpenAttributes(t); err != nil {
			lf.Notes = append(lf.Notes, "open attribute table: "+err.Error())
		} else {
			lf.OpenAttributes = oa
		}
	}
	if t := table(ca.DirtyPageTableLSN, "dirty page table"); t != nil {
		if dp, err := parseDirtyPages(t); err != nil {
			lf.Notes = append(lf.Notes, "dirty page table: "+err.Error())
		} else {
			lf.DirtyPages = dp
		}
	}
	if t := table(ca.TransactionTableLSN, "transaction table"); t != nil {
		if tt, err := parseTransactions(t); err != nil {
			lf.Notes = append(lf.Notes, "transaction table: "+err.Error())
		} else {
			lf.Transactions = tt
		}
	}
}

func (lf *LogFile) record(l LSN) *LogRecord {
	for _, r := range lf.Records {
		if r.LSN == l {
			return r
		}
	}
	return nil
}

// CleanPage returns this restart page rewritten as a clean version 1.1
// journal, the way ntfsrecover leaves it (no client in use, the clean
// flag, the client's oldest LSN kept), protected for writing at offset 0
// and at one log page.
func (ri *RestartInfo) CleanPage() ([]byte, error) {
	ps := int(ri.Page.LogPageSize)
	page := make([]byte, ps)
	// The header including the update sequence number: the rewritten page
	// gets the next number (ntfsrecover copies the header with its usn).
	copy(page, ri.raw[:RestartHeaderSize+2])
	binary.LittleEndian.PutUint16(page[0x1A:], 1) // minor
	binary.LittleEndian.PutUint16(page[0x1C:], 1) // major
	if ri.raOff+restartAreaMinSize > ps || ri.raOff+ri.caOff+ClientRecordSize > ps {
		return nil, errors.New("restart area does not fit in a log page")
	}
	copy(page[ri.raOff:], ri.raw[ri.raOff:ri.raOff+restartAreaMinSize])
	ra := page[ri.raOff:]
	binary.LittleEndian.PutUint16(ra[0x0C:], NoClient)
	binary.LittleEndian.PutUint16(ra[0x0E:], binary.LittleEndian.Uint16(ra[0x0E:])|RestartFlagClean)
	c := ri.raOff + ri.caOff
	copy(page[c:], ri.raw[c:c+ClientRecordSize])
	binary.LittleEndian.PutUint64(page[c:], uint64(ri.ClientOldestLSN))
	if err := mst.ProtectInPlace(page); err != nil {
		return nil, fmt.Errorf("restart page: %w", err)
	}
	return page, nil
}
