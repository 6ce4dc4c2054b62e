package undo

import (
	"bytes"
	"crypto/sha256"
	"os"
	"testing"
)

// FuzzJournal feeds arbitrary bytes to Parse and, when they parse, to
// Match and Restore against a small in-memory target: none may panic, a
// parsed journal's records must lie inside its partition, a version 2
// record's after-image must match its digest, and the state flags must
// agree with the last end marker. Seeds: version 2 journals (complete,
// interrupted, failed, rolled forward, undone, torn tails) and the version
// 1 fixture.
func FuzzJournal(f *testing.F) {
	d := newDisk(11)
	r := NewRecorder(section{d, partBase}, partBase, partSize)
	for i, off := range []int64{0, 4096, 4100} {
		r.WriteAt(bytes.Repeat([]byte{byte(i + 1)}, 700), off)
	}
	var j memJournal
	r.Commit(&j, hdr(), nil)
	full := bytes.Clone(j.Bytes())
	prepared := full[:len(full)-endMarkerLen]
	add := func(b []byte, tag byte, count int, failed bool) []byte {
		return append(bytes.Clone(b), encodeEnd(b, tag, count, failed)...)
	}
	f.Add(full)
	f.Add(full[:len(full)-20])
	f.Add(prepared)
	f.Add(add(prepared, tagApplied, 1, true))
	f.Add(add(prepared, tagRolledForward, 0, false))
	f.Add(add(add(prepared, tagApplied, 2, true), tagRolledForward, 2, false))
	f.Add(add(add(prepared, tagRolledForward, 1, false), tagUndone, 3, false))
	f.Add(add(full, tagUndone, 3, false))
	f.Add(append(bytes.Clone(prepared), make([]byte, endMarkerLen)...))
	if v1, err := os.ReadFile("testdata/v1.journal"); err == nil {
		f.Add(v1)
		f.Add(add(v1, tagUndone, 5, false))
	}
	f.Add([]byte(Magic))
	f.Add([]byte{})
	f.Add([]byte{'U'})
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
			if jr.Version >= 2 && (len(rec.After) != len(rec.Before) || sha256.Sum256(rec.After) != rec.AfterSHA) {
				t.Fatalf("record %d: after-image does not match its digest", i)
			}
		}
		if len(jr.Markers) > 0 {
			last := jr.Markers[len(jr.Markers)-1]
			if jr.Undone != (last.Kind == MarkerUndone) || (jr.Complete && jr.Undone) {
				t.Fatalf("state flags %v/%v disagree with the last marker %+v", jr.Complete, jr.Undone, last)
			}
		} else if !jr.Incomplete() {
			t.Fatal("a journal without end markers is not incomplete")
		}
		if h.TargetSize <= 1<<20 {
			m := &memDisk{b: make([]byte, h.TargetSize)}
			Match(jr, m)
			Restore(jr, m, h.TargetSize, RestoreOptions{})
		}
	})
}
