// Package ntfstest holds test helpers shared by the tests of ntfs and its
// subpackages (ntfs/logfile, ntfs/edit, ntfs/replay): a writer of
// synthetic $LogFile images (restart pages, log records, RCRD pages and
// tail copies, laid out as ntfs/logfile's doc describes), and the harness
// of the corpus and differential tests (corpus disks and volumes, the
// external witnesses ntfs-check, ntfs-semdump and ntfs-3g, the ntfs-3g
// mounts' extended attributes). Our reader is never the only witness of
// what this writes: the oracle tests hand the result to ntfs-3g's
// ntfsrecover. It does not import ntfs, so the read side's own tests can
// use it too.
package ntfstest

import (
	"bytes"
	"encoding/binary"
	"math/bits"

	"github.com/unbrick/unbrick/ntfs/internal/mst"
	"github.com/unbrick/unbrick/ntfs/logfile"
)

// A test-only $LogFile writer: lays out restart pages, log records, RCRD
// page headers and tail copies the way the format notes in lfs.go describe.
// Our reader is never the only witness of what this writes: the oracle
// tests hand the result to ntfs-3g's ntfsrecover.

// LogRecord is one log record for LogGen.
type LogRecord struct {
	Type       uint32
	Tx         uint32
	Redo, Undo logfile.LogOp
	RedoData   []byte
	UndoData   []byte
	TargetAttr uint16
	LCNs       []int64
	RecOff     uint16
	AttrOff    uint16
	ClusterIdx uint16
	AttrFlags  uint16 // ntfs-3g ACTS_ON_MFT / ACTS_ON_INDX
	VCN        int64
	Client     []byte // raw client data for non-standard records
	// clientFn, when set, makes the client data from the LSNs of the
	// records before this one (a checkpoint naming its table dumps).
	ClientFn func(before []logfile.LSN) []byte
}

// ClientData is the record's client data: the NTFS client header, LCNs,
// redo and undo data (Client as is for a non-standard record).
func (r *LogRecord) ClientData() []byte {
	if r.Type != logfile.LogRecordStandard {
		return r.Client
	}
	// The fixed part always has room for one LCN (ntfs3 fslog.c lrh_length:
	// max(1, lcns)); ntfsrecover rejects redo offsets below 0x28.
	hdr := logfile.NTFSClientHeaderSize + 8*max(1, len(r.LCNs))
	redoOff := logfile.Align8(hdr)
	undoOff := redoOff + logfile.Align8(len(r.RedoData))
	if len(r.UndoData) == 0 {
		undoOff = redoOff + logfile.Align8(len(r.RedoData))
	}
	cd := make([]byte, logfile.Align8(undoOff+len(r.UndoData)))
	le := binary.LittleEndian
	le.PutUint16(cd[0:], uint16(r.Redo))
	le.PutUint16(cd[2:], uint16(r.Undo))
	le.PutUint16(cd[4:], uint16(redoOff))
	le.PutUint16(cd[6:], uint16(len(r.RedoData)))
	le.PutUint16(cd[8:], uint16(undoOff))
	le.PutUint16(cd[10:], uint16(len(r.UndoData)))
	le.PutUint16(cd[12:], r.TargetAttr)
	le.PutUint16(cd[14:], uint16(len(r.LCNs)))
	le.PutUint16(cd[16:], r.RecOff)
	le.PutUint16(cd[18:], r.AttrOff)
	le.PutUint16(cd[20:], r.ClusterIdx)
	le.PutUint16(cd[22:], r.AttrFlags)
	le.PutUint64(cd[24:], uint64(r.VCN))
	for i, l := range r.LCNs {
		le.PutUint64(cd[32+8*i:], uint64(l))
	}
	copy(cd[redoOff:], r.RedoData)
	copy(cd[undoOff:], r.UndoData)
	return cd
}

// CheckpointClient is an NTFS client restart area of 0x68 bytes (the size
// ntfsrecover expects), major version 0, no table dumps.
func CheckpointClient() []byte { return make([]byte, 0x68) }

// LogGen describes a synthetic $LogFile; Build writes it.
type LogGen struct {
	Size     int64 // $LogFile size
	PageSize int64
	Major    int16
	StartSeq uint64
	StartOff int64 // byte offset of the first record (checkpoint)
	Records  []LogRecord
	// checkpoint is the index of the record the restart area names (the
	// first one by default).
	Checkpoint int
	// tailBoth: put the last page copy in both tail pages (else only the
	// first, the second stays 0xFF).
	USN uint16
}

// Geometry is the log layout Build uses.
func (j *LogGen) Geometry() *logfile.Geometry {
	g := &logfile.Geometry{
		PageSize:   j.PageSize,
		SeqBits:    uint32(67 - bits.Len64(uint64(j.Size))),
		FileSize:   j.Size,
		DataOffset: 0x40,
		Major:      j.Major,
	}
	t := int64(logfile.TailPagesV1)
	if j.Major >= 2 {
		t = logfile.TailPagesV2
	}
	g.FirstPage = (2 + t) * j.PageSize
	return g
}

type genPage struct {
	data       []byte
	lastLSN    logfile.LSN
	lastEndLSN logfile.LSN
	nextOff    int
	ends       bool
}

// Build returns the $LogFile bytes and the LSN of each record. The first
// record is expected to be the checkpoint; the restart area points at it.
func (j *LogGen) Build() ([]byte, []logfile.LSN) {
	g := j.Geometry()
	log := make([]byte, j.Size)
	for i := range log {
		log[i] = 0xFF
	}
	pages := map[int64]*genPage{}
	var order []int64
	get := func(off int64) *genPage {
		p := pages[off]
		if p == nil {
			p = &genPage{data: make([]byte, j.PageSize)}
			pages[off] = p
			order = append(order, off)
		}
		return p
	}
	l := g.MakeLSN(j.StartSeq, j.StartOff)
	var lsns []logfile.LSN
	var prevLSN logfile.LSN
	for i := range j.Records {
		r := &j.Records[i]
		if r.ClientFn != nil {
			r.Client = r.ClientFn(lsns)
		}
		cd := r.ClientData()
		rec := make([]byte, logfile.RecordHeaderSize+len(cd))
		le := binary.LittleEndian
		le.PutUint64(rec[0:], uint64(l))
		if r.Type == logfile.LogRecordStandard {
			le.PutUint64(rec[8:], uint64(prevLSN))
		}
		le.PutUint32(rec[0x18:], uint32(len(cd)))
		le.PutUint32(rec[0x20:], r.Type)
		le.PutUint32(rec[0x24:], r.Tx)
		copy(rec[logfile.RecordHeaderSize:], cd)
		off := g.Offset(l)
		pos := 0
		page := g.PageOf(off)
		seq := g.Seq(l)
		in := off - page
		if in+int64(len(rec)) > j.PageSize {
			le.PutUint16(rec[0x28:], 1) // spans pages
		}
		for pos < len(rec) {
			p := get(page)
			n := min(int64(len(rec)-pos), j.PageSize-in)
			copy(p.data[in:], rec[pos:pos+int(n)])
			p.lastLSN = l
			pos += int(n)
			if pos == len(rec) {
				p.ends = true
				p.lastEndLSN = l
				p.nextOff = int(in + n)
			}
			if pos < len(rec) {
				page, seq = g.NextPage(page, seq)
				in = int64(g.DataOffset)
			}
		}
		lsns = append(lsns, l)
		if r.Type == logfile.LogRecordStandard {
			prevLSN = l
		}
		l = g.NextLSN(l, len(rec))
	}
	usn := j.USN
	if usn == 0 {
		usn = 1
	}
	// Every other page of the circular area holds what an earlier pass
	// left there: one record of an older LSN (this lap before the start
	// page, the previous lap after it), as on a log that has been in use.
	startPage := g.PageOf(j.StartOff)
	for off := g.FirstPage; off < j.Size; off += j.PageSize {
		if pages[off] != nil {
			continue
		}
		seq := j.StartSeq
		if off >= startPage {
			seq--
		}
		sl := g.MakeLSN(seq, off+int64(g.DataOffset))
		p := &genPage{data: make([]byte, j.PageSize), lastLSN: sl, lastEndLSN: sl, ends: true}
		// The old record fills the page (an in-use log's pages are full),
		// so a reader walking backwards knows no record overlaps from it.
		fill := int(j.PageSize) - g.DataOffset - logfile.RecordHeaderSize - logfile.NTFSClientHeaderSize - 8
		old := LogRecord{Type: logfile.LogRecordStandard, Tx: 1, Redo: logfile.OpNoop, Undo: logfile.OpNoop, RedoData: make([]byte, fill)}
		cd := old.ClientData()
		rec := p.data[g.DataOffset:]
		binary.LittleEndian.PutUint64(rec[0:], uint64(sl))
		binary.LittleEndian.PutUint32(rec[0x18:], uint32(len(cd)))
		binary.LittleEndian.PutUint32(rec[0x20:], logfile.LogRecordStandard)
		binary.LittleEndian.PutUint32(rec[0x24:], 1)
		copy(rec[logfile.RecordHeaderSize:], cd)
		p.nextOff = g.DataOffset + logfile.RecordHeaderSize + len(cd)
		j.finishPage(p, int64(sl), usn)
		copy(log[off:], p.data)
	}
	for _, off := range order {
		p := pages[off]
		j.finishPage(p, int64(p.lastLSN), usn)
		copy(log[off:], p.data)
	}
	// Tail copy of the last page written (version 1.x: the last-LSN field
	// holds the page's file offset).
	last := order[len(order)-1]
	{
		p := pages[last]
		t := &genPage{data: make([]byte, j.PageSize), lastEndLSN: p.lastEndLSN, nextOff: p.nextOff, ends: p.ends}
		copy(t.data, UnprotectCopy(log[last:last+j.PageSize]))
		if j.Major < 2 {
			j.finishPage(t, last, usn)
			copy(log[2*j.PageSize:], t.data)
			copy(log[3*j.PageSize:], t.data)
		} else {
			// Version 2.x: the copy keeps its real last LSN; the
			// target page is the one holding that LSN.
			j.finishPage(t, int64(p.lastLSN), usn)
			copy(log[2*j.PageSize:], t.data)
		}
	}
	j.writeRestart(log, g, lsns[j.Checkpoint], l)
	return log, lsns
}

// UnprotectCopy returns b with its update sequence protection removed.
func UnprotectCopy(b []byte) []byte {
	c := append([]byte(nil), b...)
	usaOff := int(binary.LittleEndian.Uint16(c[4:]))
	usaCount := int(binary.LittleEndian.Uint16(c[6:]))
	_ = logfile.UnprotectPage(c, usaOff, usaCount)
	return c
}

func (j *LogGen) finishPage(p *genPage, copyField int64, usn uint16) {
	d := p.data
	le := binary.LittleEndian
	copy(d[0:], "RCRD")
	le.PutUint16(d[4:], logfile.PageHeaderSize)
	le.PutUint16(d[6:], uint16(j.PageSize/512+1))
	le.PutUint64(d[8:], uint64(copyField))
	flags := uint32(0)
	if p.ends {
		flags = logfile.PageFlagRecordEnd
	}
	le.PutUint32(d[0x10:], flags)
	le.PutUint16(d[0x14:], 1)
	le.PutUint16(d[0x16:], 1)
	le.PutUint16(d[0x18:], uint16(p.nextOff))
	le.PutUint64(d[0x20:], uint64(p.lastEndLSN))
	le.PutUint16(d[logfile.PageHeaderSize:], usn-1) // protectRecord advances it
	if err := mst.ProtectInPlace(d); err != nil {
		panic(err)
	}
}

// writeRestart writes both restart pages: current LSN = the last record,
// client oldest and restart LSN = the checkpoint.
func (j *LogGen) writeRestart(log []byte, g *logfile.Geometry, checkpoint, end logfile.LSN) {
	page := make([]byte, 4096)
	le := binary.LittleEndian
	copy(page, "RSTR")
	le.PutUint16(page[4:], logfile.RestartHeaderSize)
	le.PutUint16(page[6:], 9)
	le.PutUint32(page[0x10:], 4096)
	le.PutUint32(page[0x14:], uint32(j.PageSize))
	le.PutUint16(page[0x18:], 0x30)
	le.PutUint16(page[0x1A:], uint16(map[int16]int16{1: 1, 2: 0}[j.Major]))
	le.PutUint16(page[0x1C:], uint16(j.Major))
	ra := page[0x30:]
	le.PutUint64(ra[0:], uint64(checkpoint))
	le.PutUint16(ra[0x08:], 1)
	le.PutUint16(ra[0x0A:], logfile.NoClient)
	le.PutUint16(ra[0x0C:], 0)
	le.PutUint32(ra[0x10:], g.SeqBits)
	le.PutUint16(ra[0x14:], 0x40+logfile.ClientRecordSize)
	le.PutUint16(ra[0x16:], 0x40)
	le.PutUint64(ra[0x18:], uint64(j.Size))
	le.PutUint32(ra[0x20:], 0x68)
	le.PutUint16(ra[0x24:], logfile.RecordHeaderSize)
	le.PutUint16(ra[0x26:], uint16(g.DataOffset))
	le.PutUint32(ra[0x28:], 0x1234)
	c := ra[0x40:]
	le.PutUint64(c[0:], uint64(checkpoint))
	le.PutUint64(c[8:], uint64(checkpoint))
	le.PutUint16(c[0x10:], logfile.NoClient)
	le.PutUint16(c[0x12:], logfile.NoClient)
	le.PutUint32(c[0x1C:], 8)
	copy(c[0x20:], []byte{'N', 0, 'T', 0, 'F', 0, 'S', 0})
	le.PutUint16(page[0x1E:], 0)
	if err := mst.ProtectInPlace(page); err != nil {
		panic(err)
	}
	copy(log[0:], page)
	copy(log[4096:], page)
}

// RestartSpec describes a synthetic restart page, laid out as Windows lays
// them out (RSTR, USA at 0x1E, restart area at 0x30, one client "NTFS" at
// restart area + 0x40). Tests write these into copies of corpus volumes;
// ntfs-3g's reaction to them is the independent witness (see
// ntfs/journal_corpus_test.go).
type RestartSpec struct {
	Major, Minor int16
	InUse        bool // client 0 in the in-use list (else in the free list)
	Clean        bool // RESTART_VOLUME_IS_CLEAN
	LSN          uint64
	FileSize     int64
	USN          uint16
}

// BuildRestartPage lays out the restart page s describes.
func BuildRestartPage(s RestartSpec) []byte {
	const sps = 4096
	b := make([]byte, sps)
	copy(b, "RSTR")
	binary.LittleEndian.PutUint16(b[4:], 0x1E)
	binary.LittleEndian.PutUint16(b[6:], 1+sps/512)
	binary.LittleEndian.PutUint32(b[0x10:], sps)
	binary.LittleEndian.PutUint32(b[0x14:], sps)
	binary.LittleEndian.PutUint16(b[0x18:], 0x30)
	binary.LittleEndian.PutUint16(b[0x1A:], uint16(s.Minor))
	binary.LittleEndian.PutUint16(b[0x1C:], uint16(s.Major))
	ra := b[0x30:]
	binary.LittleEndian.PutUint64(ra[0:], s.LSN)
	binary.LittleEndian.PutUint16(ra[0x08:], 1)
	if s.InUse {
		binary.LittleEndian.PutUint16(ra[0x0A:], logfile.NoClient)
		binary.LittleEndian.PutUint16(ra[0x0C:], 0)
	} else {
		binary.LittleEndian.PutUint16(ra[0x0A:], 0)
		binary.LittleEndian.PutUint16(ra[0x0C:], logfile.NoClient)
	}
	if s.Clean {
		binary.LittleEndian.PutUint16(ra[0x0E:], logfile.RestartFlagClean)
	}
	fs := s.FileSize
	if fs == 0 {
		fs = 0x3ff000
	}
	binary.LittleEndian.PutUint32(ra[0x10:], uint32(67-bits.Len64(uint64(fs))))
	binary.LittleEndian.PutUint16(ra[0x14:], 0x40+logfile.ClientRecordSize)
	binary.LittleEndian.PutUint16(ra[0x16:], 0x40)
	binary.LittleEndian.PutUint64(ra[0x18:], uint64(fs))
	binary.LittleEndian.PutUint16(ra[0x24:], 0x30)
	binary.LittleEndian.PutUint16(ra[0x26:], 0x40)
	binary.LittleEndian.PutUint32(ra[0x28:], 0x12345678)
	c := ra[0x40:]
	binary.LittleEndian.PutUint64(c[8:], s.LSN)
	binary.LittleEndian.PutUint16(c[0x10:], logfile.NoClient)
	binary.LittleEndian.PutUint16(c[0x12:], logfile.NoClient)
	binary.LittleEndian.PutUint32(c[0x1C:], 8)
	copy(c[0x20:], []byte{'N', 0, 'T', 0, 'F', 0, 'S', 0})
	usn := s.USN
	if usn == 0 {
		usn = 7
	}
	ProtectForTest(b, 0x1E, usn)
	return b
}

// ProtectForTest applies update sequence protection (what a writer does).
func ProtectForTest(b []byte, usaOff int, usn uint16) {
	binary.LittleEndian.PutUint16(b[usaOff:], usn)
	for i := 1; i <= len(b)/512; i++ {
		tail := i*512 - 2
		copy(b[usaOff+2*i:], b[tail:tail+2])
		binary.LittleEndian.PutUint16(b[tail:], usn)
	}
}

// LogImage builds a $LogFile: two restart pages (nil = 0xFF-filled) and
// 0xFF after them.
func LogImage(p0, p1 []byte) []byte {
	b := bytes.Repeat([]byte{0xFF}, 64*1024)
	if p0 != nil {
		copy(b, p0)
	}
	if p1 != nil {
		copy(b[4096:], p1)
	}
	return b
}

// WithCheckpoint is a 2 MiB, 4 KiB-page version 1.1 log whose first record,
// at startOff in lap seq, is a checkpoint, followed by recs.
func WithCheckpoint(startOff int64, seq uint64, recs ...LogRecord) *LogGen {
	return &LogGen{Size: 2 << 20, PageSize: 4096, Major: 1, StartSeq: seq, StartOff: startOff,
		Records: append([]LogRecord{{Type: logfile.LogRecordCheckpoint, Client: CheckpointClient()}}, recs...)}
}

// Forget is the ForgetTransaction record that commits transaction tx.
func Forget(tx uint32) LogRecord {
	return LogRecord{Type: logfile.LogRecordStandard, Tx: tx, Redo: logfile.OpForgetTransaction, Undo: logfile.OpNoop}
}

// Filler is n records of transaction tx with no on-disk effect.
func Filler(tx uint32, n int) []LogRecord {
	// Records of a transaction with no on-disk effect (Noop redo/undo
	// with data), to push the change across page and wrap boundaries.
	var out []LogRecord
	for i := 0; i < n; i++ {
		out = append(out, LogRecord{Type: logfile.LogRecordStandard, Tx: tx, Redo: logfile.OpNoop, Undo: logfile.OpNoop, RedoData: bytes.Repeat([]byte{byte(i)}, 200)})
	}
	return out
}

// TearPage breaks the update sequence of the page at off (a torn write:
// its second 512-byte block never reached the disk).
func TearPage(log []byte, off int) {
	log[off+1022] ^= 0x5A
}
