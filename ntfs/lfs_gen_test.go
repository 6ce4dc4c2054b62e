package ntfs

import (
	"encoding/binary"
	"math/bits"
)

// A test-only $LogFile writer: lays out restart pages, log records, RCRD
// page headers and tail copies the way the format notes in lfs.go describe.
// Our reader is never the only witness of what this writes: the oracle
// tests hand the result to ntfs-3g's ntfsrecover.

type genRecord struct {
	typ        uint32
	tx         uint32
	redo, undo LogOp
	redoData   []byte
	undoData   []byte
	targetAttr uint16
	lcns       []int64
	recOff     uint16
	attrOff    uint16
	clusterIdx uint16
	attrFlags  uint16 // ntfs-3g ACTS_ON_MFT / ACTS_ON_INDX
	vcn        int64
	client     []byte // raw client data for non-standard records
	// clientFn, when set, makes the client data from the LSNs of the
	// records before this one (a checkpoint naming its table dumps).
	clientFn func(before []LSN) []byte
}

func (r *genRecord) clientData() []byte {
	if r.typ != LogRecordStandard {
		return r.client
	}
	// The fixed part always has room for one LCN (ntfs3 fslog.c lrh_length:
	// max(1, lcns)); ntfsrecover rejects redo offsets below 0x28.
	hdr := ntfsClientHeaderSize + 8*max(1, len(r.lcns))
	redoOff := align8(hdr)
	undoOff := redoOff + align8(len(r.redoData))
	if len(r.undoData) == 0 {
		undoOff = redoOff + align8(len(r.redoData))
	}
	cd := make([]byte, align8(undoOff+len(r.undoData)))
	le := binary.LittleEndian
	le.PutUint16(cd[0:], uint16(r.redo))
	le.PutUint16(cd[2:], uint16(r.undo))
	le.PutUint16(cd[4:], uint16(redoOff))
	le.PutUint16(cd[6:], uint16(len(r.redoData)))
	le.PutUint16(cd[8:], uint16(undoOff))
	le.PutUint16(cd[10:], uint16(len(r.undoData)))
	le.PutUint16(cd[12:], r.targetAttr)
	le.PutUint16(cd[14:], uint16(len(r.lcns)))
	le.PutUint16(cd[16:], r.recOff)
	le.PutUint16(cd[18:], r.attrOff)
	le.PutUint16(cd[20:], r.clusterIdx)
	le.PutUint16(cd[22:], r.attrFlags)
	le.PutUint64(cd[24:], uint64(r.vcn))
	for i, l := range r.lcns {
		le.PutUint64(cd[32+8*i:], uint64(l))
	}
	copy(cd[redoOff:], r.redoData)
	copy(cd[undoOff:], r.undoData)
	return cd
}

// checkpointClient is an NTFS client restart area of 0x68 bytes (the size
// ntfsrecover expects), major version 0, no table dumps.
func checkpointClient() []byte { return make([]byte, 0x68) }

type journalGen struct {
	size     int64 // $LogFile size
	pageSize int64
	major    int16
	startSeq uint64
	startOff int64 // byte offset of the first record (checkpoint)
	records  []genRecord
	// checkpoint is the index of the record the restart area names (the
	// first one by default).
	checkpoint int
	// tailBoth: put the last page copy in both tail pages (else only the
	// first, the second stays 0xFF).
	usn uint16
}

func (j *journalGen) geometry() *lfsGeometry {
	g := &lfsGeometry{
		PageSize:   j.pageSize,
		SeqBits:    uint32(67 - bits.Len64(uint64(j.size))),
		FileSize:   j.size,
		DataOffset: 0x40,
		Major:      j.major,
	}
	t := int64(lfsTailPagesV1)
	if j.major >= 2 {
		t = lfsTailPagesV2
	}
	g.FirstPage = (2 + t) * j.pageSize
	return g
}

type genPage struct {
	data       []byte
	lastLSN    LSN
	lastEndLSN LSN
	nextOff    int
	ends       bool
}

// build returns the $LogFile bytes and the LSN of each record. The first
// record is expected to be the checkpoint; the restart area points at it.
func (j *journalGen) build() ([]byte, []LSN) {
	g := j.geometry()
	log := make([]byte, j.size)
	for i := range log {
		log[i] = 0xFF
	}
	pages := map[int64]*genPage{}
	var order []int64
	get := func(off int64) *genPage {
		p := pages[off]
		if p == nil {
			p = &genPage{data: make([]byte, j.pageSize)}
			pages[off] = p
			order = append(order, off)
		}
		return p
	}
	l := g.MakeLSN(j.startSeq, j.startOff)
	var lsns []LSN
	var prevLSN LSN
	for i := range j.records {
		r := &j.records[i]
		if r.clientFn != nil {
			r.client = r.clientFn(lsns)
		}
		cd := r.clientData()
		rec := make([]byte, logRecordHeaderSize+len(cd))
		le := binary.LittleEndian
		le.PutUint64(rec[0:], uint64(l))
		if r.typ == LogRecordStandard {
			le.PutUint64(rec[8:], uint64(prevLSN))
		}
		le.PutUint32(rec[0x18:], uint32(len(cd)))
		le.PutUint32(rec[0x20:], r.typ)
		le.PutUint32(rec[0x24:], r.tx)
		copy(rec[logRecordHeaderSize:], cd)
		off := g.Offset(l)
		pos := 0
		page := g.PageOf(off)
		seq := g.Seq(l)
		in := off - page
		if in+int64(len(rec)) > j.pageSize {
			le.PutUint16(rec[0x28:], 1) // spans pages
		}
		for pos < len(rec) {
			p := get(page)
			n := min(int64(len(rec)-pos), j.pageSize-in)
			copy(p.data[in:], rec[pos:pos+int(n)])
			p.lastLSN = l
			pos += int(n)
			if pos == len(rec) {
				p.ends = true
				p.lastEndLSN = l
				p.nextOff = int(in + n)
			}
			if pos < len(rec) {
				page, seq = g.nextPage(page, seq)
				in = int64(g.DataOffset)
			}
		}
		lsns = append(lsns, l)
		if r.typ == LogRecordStandard {
			prevLSN = l
		}
		l = g.NextLSN(l, len(rec))
	}
	usn := j.usn
	if usn == 0 {
		usn = 1
	}
	// Every other page of the circular area holds what an earlier pass
	// left there: one record of an older LSN (this lap before the start
	// page, the previous lap after it), as on a log that has been in use.
	startPage := g.PageOf(j.startOff)
	for off := g.FirstPage; off < j.size; off += j.pageSize {
		if pages[off] != nil {
			continue
		}
		seq := j.startSeq
		if off >= startPage {
			seq--
		}
		sl := g.MakeLSN(seq, off+int64(g.DataOffset))
		p := &genPage{data: make([]byte, j.pageSize), lastLSN: sl, lastEndLSN: sl, ends: true}
		// The old record fills the page (an in-use log's pages are full),
		// so a reader walking backwards knows no record overlaps from it.
		fill := int(j.pageSize) - g.DataOffset - logRecordHeaderSize - ntfsClientHeaderSize - 8
		old := genRecord{typ: LogRecordStandard, tx: 1, redo: OpNoop, undo: OpNoop, redoData: make([]byte, fill)}
		cd := old.clientData()
		rec := p.data[g.DataOffset:]
		binary.LittleEndian.PutUint64(rec[0:], uint64(sl))
		binary.LittleEndian.PutUint32(rec[0x18:], uint32(len(cd)))
		binary.LittleEndian.PutUint32(rec[0x20:], LogRecordStandard)
		binary.LittleEndian.PutUint32(rec[0x24:], 1)
		copy(rec[logRecordHeaderSize:], cd)
		p.nextOff = g.DataOffset + logRecordHeaderSize + len(cd)
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
		t := &genPage{data: make([]byte, j.pageSize), lastEndLSN: p.lastEndLSN, nextOff: p.nextOff, ends: p.ends}
		copy(t.data, unprotectCopy(log[last:last+j.pageSize]))
		if j.major < 2 {
			j.finishPage(t, last, usn)
			copy(log[2*j.pageSize:], t.data)
			copy(log[3*j.pageSize:], t.data)
		} else {
			// Version 2.x: the copy keeps its real last LSN; the
			// target page is the one holding that LSN.
			j.finishPage(t, int64(p.lastLSN), usn)
			copy(log[2*j.pageSize:], t.data)
		}
	}
	j.writeRestart(log, g, lsns[j.checkpoint], l)
	return log, lsns
}

func unprotectCopy(b []byte) []byte {
	c := append([]byte(nil), b...)
	usaOff := int(binary.LittleEndian.Uint16(c[4:]))
	usaCount := int(binary.LittleEndian.Uint16(c[6:]))
	_ = unprotectLogPage(c, usaOff, usaCount)
	return c
}

func (j *journalGen) finishPage(p *genPage, copyField int64, usn uint16) {
	d := p.data
	le := binary.LittleEndian
	copy(d[0:], "RCRD")
	le.PutUint16(d[4:], rcrdHeaderSize)
	le.PutUint16(d[6:], uint16(j.pageSize/512+1))
	le.PutUint64(d[8:], uint64(copyField))
	flags := uint32(0)
	if p.ends {
		flags = rcrdFlagRecordEnd
	}
	le.PutUint32(d[0x10:], flags)
	le.PutUint16(d[0x14:], 1)
	le.PutUint16(d[0x16:], 1)
	le.PutUint16(d[0x18:], uint16(p.nextOff))
	le.PutUint64(d[0x20:], uint64(p.lastEndLSN))
	le.PutUint16(d[rcrdHeaderSize:], usn-1) // protectRecord advances it
	if err := protectRecord(d); err != nil {
		panic(err)
	}
}

// writeRestart writes both restart pages: current LSN = the last record,
// client oldest and restart LSN = the checkpoint.
func (j *journalGen) writeRestart(log []byte, g *lfsGeometry, checkpoint, end LSN) {
	page := make([]byte, 4096)
	le := binary.LittleEndian
	copy(page, "RSTR")
	le.PutUint16(page[4:], restartHeaderSize)
	le.PutUint16(page[6:], 9)
	le.PutUint32(page[0x10:], 4096)
	le.PutUint32(page[0x14:], uint32(j.pageSize))
	le.PutUint16(page[0x18:], 0x30)
	le.PutUint16(page[0x1A:], uint16(map[int16]int16{1: 1, 2: 0}[j.major]))
	le.PutUint16(page[0x1C:], uint16(j.major))
	ra := page[0x30:]
	le.PutUint64(ra[0:], uint64(checkpoint))
	le.PutUint16(ra[0x08:], 1)
	le.PutUint16(ra[0x0A:], logNoClient)
	le.PutUint16(ra[0x0C:], 0)
	le.PutUint32(ra[0x10:], g.SeqBits)
	le.PutUint16(ra[0x14:], 0x40+logClientSize)
	le.PutUint16(ra[0x16:], 0x40)
	le.PutUint64(ra[0x18:], uint64(j.size))
	le.PutUint32(ra[0x20:], 0x68)
	le.PutUint16(ra[0x24:], logRecordHeaderSize)
	le.PutUint16(ra[0x26:], uint16(g.DataOffset))
	le.PutUint32(ra[0x28:], 0x1234)
	c := ra[0x40:]
	le.PutUint64(c[0:], uint64(checkpoint))
	le.PutUint64(c[8:], uint64(checkpoint))
	le.PutUint16(c[0x10:], logNoClient)
	le.PutUint16(c[0x12:], logNoClient)
	le.PutUint32(c[0x1C:], 8)
	copy(c[0x20:], []byte{'N', 0, 'T', 0, 'F', 0, 'S', 0})
	le.PutUint16(page[0x1E:], 0)
	if err := protectRecord(page); err != nil {
		panic(err)
	}
	copy(log[0:], page)
	copy(log[4096:], page)
}
