package logfile_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"github.com/unbrick/unbrick/ntfs"
	"github.com/unbrick/unbrick/ntfs/internal/ntfstest"
	"github.com/unbrick/unbrick/ntfs/logfile"
	"strings"
	"testing"
)

// genSample is a journal of a checkpoint and two transactions: one
// committed (two UpdateResidentValue records then ForgetTransaction), one
// not (no ForgetTransaction).
func genSample(size, startOff int64, startSeq uint64, fillers int) *ntfstest.LogGen {
	upd := func(tx uint32, b byte) ntfstest.LogRecord {
		return ntfstest.LogRecord{Type: logfile.LogRecordStandard, Tx: tx, Redo: logfile.OpUpdateResidentValue, Undo: logfile.OpUpdateResidentValue,
			RedoData: bytes.Repeat([]byte{b}, 8), UndoData: make([]byte, 8), LCNs: []int64{4}, RecOff: 0x38, AttrOff: 0x18, ClusterIdx: 2, VCN: 0}
	}
	recs := []ntfstest.LogRecord{{Type: logfile.LogRecordCheckpoint, Client: ntfstest.CheckpointClient()}}
	recs = append(recs, ntfstest.Filler(0x30, fillers)...)
	recs = append(recs, upd(0x18, 1), upd(0x18, 2), ntfstest.Forget(0x18), upd(0x40, 3))
	return &ntfstest.LogGen{Size: size, PageSize: 4096, Major: 1, StartSeq: startSeq, StartOff: startOff, Records: recs}
}

func TestLSNArithmetic(t *testing.T) {
	g := &logfile.Geometry{PageSize: 4096, SeqBits: 45, FileSize: 2 << 20, DataOffset: 0x40, FirstPage: 4 * 4096}
	l := g.MakeLSN(7, 0x4040)
	if g.Seq(l) != 7 || g.Offset(l) != 0x4040 {
		t.Fatalf("LSN %#x: seq %d offset %#x", l, g.Seq(l), g.Offset(l))
	}
	// Same page.
	if n := g.NextLSN(l, 0x30+0x10); g.Offset(n) != 0x4080 || g.Seq(n) != 7 {
		t.Errorf("next in page: %#x", g.Offset(n))
	}
	// Lengths round up to 8.
	if n := g.NextLSN(l, 0x31); g.Offset(n) != 0x4078 {
		t.Errorf("unaligned length: %#x", g.Offset(n))
	}
	// Less than a header left: next page's data offset.
	l2 := g.MakeLSN(7, 0x4000+4096-0x60)
	if n := g.NextLSN(l2, 0x38); g.Offset(n) != 0x5040 {
		t.Errorf("header does not fit: %#x", g.Offset(n))
	}
	// A record that continues on the next page.
	if n := g.NextLSN(l2, 0x100); g.Offset(n) != 0x5040+0x100-0x60 {
		t.Errorf("spanning record: %#x", g.Offset(n))
	}
	// A record ending exactly at its page's end (here spanning into a
	// second page and filling it): the next one starts after the next
	// page's header, never at a page's offset 0.
	if n := g.NextLSN(l2, 0x60); g.Offset(n) != 0x5040 {
		t.Errorf("record filling its page: %#x", g.Offset(n))
	}
	if n := g.NextLSN(l2, 0x60+4096-0x40); g.Offset(n) != 0x6040 {
		t.Errorf("record filling the next page too: %#x", g.Offset(n))
	}
	if n := g.NextLSN(g.MakeLSN(7, (2<<20)-0x60), 0x60); g.Seq(n) != 8 || g.Offset(n) != 4*4096+0x40 {
		t.Errorf("record filling the last page: seq %d offset %#x", g.Seq(n), g.Offset(n))
	}
	// Wrap: past the last page to the first log page, one lap later.
	last := g.MakeLSN(7, (2<<20)-0x100)
	n := g.NextLSN(last, 0x200)
	if g.Seq(n) != 8 || g.Offset(n) != 4*4096+0x40+0x100 {
		t.Errorf("wrap: seq %d offset %#x", g.Seq(n), g.Offset(n))
	}
}

func TestLogFileReadSample(t *testing.T) {
	for _, tc := range []struct {
		name     string
		startOff int64
		fillers  int
	}{
		{"first-page", 4*4096 + 0x40, 0},
		{"spanning", 6*4096 + 0x40, 40},
		{"wrap", (2 << 20) - 3*4096 + 0x40, 40},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := genSample(2<<20, tc.startOff, 5, tc.fillers)
			log, lsns := j.Build()
			lf, err := logfile.ReadLogFile(bytes.NewReader(log), int64(len(log)))
			if err != nil {
				t.Fatal(err)
			}
			if len(lf.Records) != len(lsns) || lf.Damaged {
				t.Fatalf("read %d records (damaged %v), wrote %d (stop: %s)", len(lf.Records), lf.Damaged, len(lsns), lf.Stop)
			}
			for i, r := range lf.Records {
				if r.LSN != lsns[i] {
					t.Errorf("record %d LSN %#x, want %#x", i, r.LSN, lsns[i])
				}
			}
			txs := lf.TransactionsInLog()
			var committed, open int
			for _, tx := range txs {
				if tx.Committed {
					committed++
				} else {
					open++
				}
			}
			wantOpen := 1 // transaction 0x40
			if tc.fillers > 0 {
				wantOpen = 2 // and the filler transaction, never forgotten
			}
			if committed != 1 || open != wantOpen {
				t.Fatalf("committed %d open %d, want 1 and %d", committed, open, wantOpen)
			}
			a, err := logfile.AnalyzeJournal(bytes.NewReader(log), int64(len(log)), canRedo)
			if err != nil {
				t.Fatal(err)
			}
			if a.RedoOps["UpdateResidentValue"] != 2 || a.RedoOps["ForgetTransaction"] != 1 || !a.ReplayPossible {
				t.Errorf("analysis: %+v", a)
			}
			if a.CheckpointLSN != uint64(lsns[0]) || a.Committed != 1 {
				t.Errorf("checkpoint %#x want %#x, committed %d", a.CheckpointLSN, lsns[0], a.Committed)
			}
			if s := a.String(); !strings.Contains(s, "checkpoint LSN") || !strings.Contains(s, "UpdateResidentValue x2") {
				t.Errorf("String():\n%s", s)
			}
		})
	}
}

func TestLogFileTornPageIsDamage(t *testing.T) {
	j := genSample(2<<20, 6*4096+0x40, 5, 40)
	log, _ := j.Build()
	// Tear the second page of the walk and its tail copies (it is not the
	// last page, so no tail copy would cover it anyway).
	ntfstest.TearPage(log, 7*4096)
	lf, err := logfile.ReadLogFile(bytes.NewReader(log), int64(len(log)))
	if err != nil {
		t.Fatal(err)
	}
	if !lf.Damaged || !strings.Contains(lf.Stop, "torn") {
		t.Fatalf("damaged %v, stop %q", lf.Damaged, lf.Stop)
	}
	a, err := logfile.AnalyzeJournal(bytes.NewReader(log), int64(len(log)), canRedo)
	if err != nil || a.ReplayPossible {
		t.Fatalf("analysis of a torn log: %v, replay possible %v", err, a != nil && a.ReplayPossible)
	}
}

func TestLogFileEmptyAndBad(t *testing.T) {
	ff := bytes.Repeat([]byte{0xFF}, 64<<10)
	if _, err := logfile.ReadLogFile(bytes.NewReader(ff), int64(len(ff))); !errors.Is(err, logfile.ErrLogFileEmpty) {
		t.Errorf("all-0xFF log: %v", err)
	}
	j := genSample(2<<20, 4*4096+0x40, 5, 0)
	log, _ := j.Build()
	chkd := append([]byte(nil), log...)
	copy(chkd[0:], "CHKD")
	copy(chkd[4096:], "CHKD")
	if _, err := logfile.ReadLogFile(bytes.NewReader(chkd), int64(len(chkd))); err == nil {
		t.Error("a log chkdsk rewrote was accepted")
	}
	// Restart area claims a larger journal than $LogFile holds.
	if _, err := logfile.ReadLogFile(bytes.NewReader(log[:1<<20]), 1<<20); err == nil || !strings.Contains(err.Error(), "holds") {
		t.Errorf("short $LogFile: %v", err)
	}
}

func TestParseLogRecordBounds(t *testing.T) {
	r := ntfstest.LogRecord{Type: logfile.LogRecordStandard, Tx: 1, Redo: logfile.OpUpdateResidentValue, Undo: logfile.OpUpdateResidentValue,
		RedoData: []byte{1, 2, 3, 4, 5, 6, 7, 8}, UndoData: make([]byte, 8), LCNs: []int64{9}}
	cd := r.ClientData()
	rec := make([]byte, logfile.RecordHeaderSize+len(cd))
	binary.LittleEndian.PutUint32(rec[0x18:], uint32(len(cd)))
	binary.LittleEndian.PutUint32(rec[0x20:], logfile.LogRecordStandard)
	copy(rec[logfile.RecordHeaderSize:], cd)
	got, err := logfile.ParseLogRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.RedoData(), r.RedoData) || len(got.LCNs) != 1 || got.LCNs[0] != 9 {
		t.Fatalf("decoded %+v", got)
	}
	// Redo data pointing past the client data.
	bad := append([]byte(nil), rec...)
	binary.LittleEndian.PutUint16(bad[logfile.RecordHeaderSize+4:], 0x7FF0)
	if _, err := logfile.ParseLogRecord(bad); err == nil {
		t.Error("redo data out of range accepted")
	}
	// LCN count past the end.
	bad = append([]byte(nil), rec...)
	binary.LittleEndian.PutUint16(bad[logfile.RecordHeaderSize+14:], 500)
	if _, err := logfile.ParseLogRecord(bad); err == nil {
		t.Error("LCN list out of range accepted")
	}
	// Unknown record type.
	bad = append([]byte(nil), rec...)
	binary.LittleEndian.PutUint32(bad[0x20:], 9)
	if _, err := logfile.ParseLogRecord(bad); err == nil {
		t.Error("record type 9 accepted")
	}
}

func TestRestartTable(t *testing.T) {
	b := make([]byte, logfile.RestartTableHeaderSize+3*0x28)
	binary.LittleEndian.PutUint16(b[0:], 0x28)
	binary.LittleEndian.PutUint16(b[2:], 3)
	e := b[logfile.RestartTableHeaderSize+0x28:]
	binary.LittleEndian.PutUint32(e[0:], 0xFFFFFFFF)
	e[4] = 1
	binary.LittleEndian.PutUint64(e[8:], 0x1234)
	tab, err := logfile.ParseRestartTable(b)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := logfile.ParseTransactions(tab)
	if err != nil || len(tx) != 1 || tx[0].ID != logfile.RestartTableHeaderSize+0x28 || tx[0].FirstLSN != 0x1234 || tx[0].State != 1 {
		t.Fatalf("transactions %+v, %v", tx, err)
	}
	binary.LittleEndian.PutUint16(b[2:], 200)
	if _, err := logfile.ParseRestartTable(b); err == nil {
		t.Error("overflowing table accepted")
	}
}

// FuzzReadLogFile: any bytes in the log pages must give a result or an
// error, never a panic; parsing takes an io.ReaderAt, so it cannot write.
func FuzzReadLogFile(f *testing.F) {
	j := genSample(64<<10, 4*4096+0x40, 2, 8)
	log, _ := j.Build()
	f.Add(uint32(0), []byte{0})
	f.Add(uint32(4*4096+0x40), []byte{0xFF, 0xFF, 0xFF, 0xFF})
	f.Add(uint32(4*4096+0x58), []byte{0xFF, 0xFF, 0, 0})
	f.Add(uint32(0x48), []byte{0x10, 0x10})
	f.Add(uint32(2*4096+0x18), []byte{0xF0, 0x0F})
	f.Fuzz(func(t *testing.T, at uint32, patch []byte) {
		b := append([]byte(nil), log...)
		off := int(at) % len(b)
		copy(b[off:], patch)
		lf, err := logfile.ReadLogFile(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		_ = lf.TransactionsInLog()
		if a, err := logfile.AnalyzeJournal(bytes.NewReader(b), int64(len(b)), canRedo); err == nil {
			_ = a.String()
		}
	})
}

// TestCheckpointTables writes the three table dumps and a checkpoint
// naming them, then reads the tables back through the restart area.
func TestCheckpointTables(t *testing.T) {
	le := binary.LittleEndian
	table := func(entrySize int, fill func(e []byte, i int)) []byte {
		b := make([]byte, logfile.RestartTableHeaderSize+2*entrySize)
		le.PutUint16(b[0:], uint16(entrySize))
		le.PutUint16(b[2:], 2)
		e := b[logfile.RestartTableHeaderSize:]
		le.PutUint32(e[0:], 0xFFFFFFFF) // entry 0 allocated, entry 1 free
		fill(e, 0)
		return b
	}
	oat := table(0x2C, func(e []byte, _ int) {
		le.PutUint64(e[0x08:], uint64(ntfs.MakeRef(64, 3)))
		le.PutUint32(e[0x1C:], uint32(ntfs.AttrData))
	})
	dpt := table(0x28, func(e []byte, _ int) {
		le.PutUint32(e[0x04:], logfile.RestartTableHeaderSize)
		le.PutUint32(e[0x0C:], 1)
		le.PutUint64(e[0x10:], 5)
		le.PutUint64(e[0x20:], 77)
	})
	ttab := table(0x28, func(e []byte, _ int) { e[4] = 1 })
	dump := func(op logfile.LogOp, b []byte) ntfstest.LogRecord {
		return ntfstest.LogRecord{Type: logfile.LogRecordStandard, Tx: 0, Redo: op, Undo: logfile.OpNoop, RedoData: b}
	}
	ckpt := ntfstest.LogRecord{Type: logfile.LogRecordCheckpoint, ClientFn: func(before []logfile.LSN) []byte {
		c := ntfstest.CheckpointClient()
		le.PutUint64(c[0x10:], uint64(before[0]))
		le.PutUint64(c[0x20:], uint64(before[1]))
		le.PutUint64(c[0x28:], uint64(before[2]))
		return c
	}}
	j := &ntfstest.LogGen{Size: 2 << 20, PageSize: 4096, Major: 1, StartSeq: 2, StartOff: 4*4096 + 0x40, Checkpoint: 3,
		Records: []ntfstest.LogRecord{dump(logfile.OpOpenAttributeTableDump, oat), dump(logfile.OpDirtyPageTableDump, dpt), dump(logfile.OpTransactionTableDump, ttab), ckpt}}
	log, lsns := j.Build()
	lf, err := logfile.ReadLogFile(bytes.NewReader(log), int64(len(log)))
	if err != nil {
		t.Fatal(err)
	}
	if lf.Checkpoint == nil || lf.Checkpoint.OpenAttrTableLSN != lsns[0] {
		t.Fatalf("checkpoint %+v (notes %v)", lf.Checkpoint, lf.Notes)
	}
	if len(lf.OpenAttributes) != 1 || lf.OpenAttributes[0].File != uint64(ntfs.MakeRef(64, 3)) || lf.OpenAttributes[0].Type != uint32(ntfs.AttrData) ||
		lf.OpenAttributes[0].Index != logfile.RestartTableHeaderSize {
		t.Errorf("open attributes %+v", lf.OpenAttributes)
	}
	if len(lf.DirtyPages) != 1 || lf.DirtyPages[0].VCN != 5 || len(lf.DirtyPages[0].LCNs) != 1 || lf.DirtyPages[0].LCNs[0] != 77 {
		t.Errorf("dirty pages %+v", lf.DirtyPages)
	}
	if len(lf.Transactions) != 1 || lf.Transactions[0].State != 1 {
		t.Errorf("transactions %+v", lf.Transactions)
	}
	a, err := logfile.AnalyzeJournal(bytes.NewReader(log), int64(len(log)), canRedo)
	if err != nil || a.OpenAttributes != 1 || a.DirtyPages != 1 || a.TableTransaction != 1 {
		t.Fatalf("analysis %+v, %v", a, err)
	}
}

// canRedo stands in for ntfs's replaySupported in the analysis tests: the
// operations these logs hold (Noop, ForgetTransaction,
// UpdateResidentValue) are ones the replayer redoes (ntfs checks that in
// TestReplaySupportsAnalyzedOps).
func canRedo(op logfile.LogOp) bool {
	switch op {
	case logfile.OpNoop, logfile.OpForgetTransaction, logfile.OpUpdateResidentValue:
		return true
	}
	return false
}
