package logfile_test

import (
	"bytes"
	"github.com/unbrick/unbrick/ntfs/logfile"
	"testing"
)

// The reader keeps the client data of a record that lies inside one log
// page as a slice of that page (lfs_reader.go) and gathers one that spans
// pages into its own buffer. Both must carry exactly the bytes written,
// and growing one record's data must not reach into its neighbour's.
func TestLogRecordClientDataExactAndSeparate(t *testing.T) {
	j := genSample(2<<20, 6*4096+0x40, 5, 40)
	log, lsns := j.Build()
	orig := append([]byte(nil), log...)
	lf, err := logfile.ReadLogFile(bytes.NewReader(log), int64(len(log)))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(log, orig) {
		t.Fatal("ReadLogFile changed the bytes it read")
	}
	if len(lf.Records) != len(j.Records) || len(lsns) != len(j.Records) {
		t.Fatalf("read %d records, wrote %d", len(lf.Records), len(j.Records))
	}
	spanning := 0
	for i, r := range lf.Records {
		want := j.Records[i].ClientData()
		if !bytes.Equal(r.ClientData, want) {
			t.Fatalf("record %d (LSN %#x): client data differs from what was written", i, r.LSN)
		}
		if cap(r.ClientData) != len(r.ClientData) {
			t.Errorf("record %d: client data capacity %d past its length %d", i, cap(r.ClientData), len(r.ClientData))
		}
		off := lf.Geometry.Offset(r.LSN)
		if lf.Geometry.PageOf(off) != lf.Geometry.PageOf(off+int64(logfile.RecordHeaderSize+len(want))-1) {
			spanning++
		}
	}
	if spanning == 0 {
		t.Fatal("no record spans two pages: the gathering path is not exercised")
	}
	// Appending to one record's data must leave the next one as it was.
	next := append([]byte(nil), lf.Records[2].ClientData...)
	_ = append(lf.Records[1].ClientData, bytes.Repeat([]byte{0xEE}, 64)...)
	if !bytes.Equal(lf.Records[2].ClientData, next) {
		t.Fatal("appending to a record's client data overwrote the next record")
	}
}
