package undo

import (
	"bytes"
	"testing"
)

// FuzzJournal feeds arbitrary bytes to Parse and, when they parse, to
// Restore against a small in-memory target: neither may panic, and a parsed
// journal's records must lie inside its partition.
func FuzzJournal(f *testing.F) {
	d := newDisk(11)
	r := NewRecorder(section{d, partBase}, partBase, partSize)
	for i, off := range []int64{0, 4096, 4100} {
		r.WriteAt(bytes.Repeat([]byte{byte(i + 1)}, 700), off)
	}
	var j memJournal
	r.Commit(&j, hdr(), nil)
	f.Add(j.Bytes())
	f.Add(j.Bytes()[:len(j.Bytes())-20])
	f.Add([]byte(Magic))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		jr, err := Parse(b)
		if err != nil {
			return
		}
		h := jr.Header
		for i, rec := range jr.Records {
			if rec.Offset < h.PartitionOffset || rec.Offset+int64(len(rec.Before)) > h.PartitionOffset+h.PartitionSize {
				t.Fatalf("record %d outside the partition", i)
			}
		}
		if h.TargetSize <= 1<<20 {
			m := &memDisk{b: make([]byte, h.TargetSize)}
			Restore(jr, m, h.TargetSize, RestoreOptions{})
		}
	})
}
