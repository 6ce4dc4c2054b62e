package undo

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"time"
)

// memDisk is an in-memory target; failAfter > 0 makes write number failAfter
// (1-based) and later ones fail.
type memDisk struct {
	b         []byte
	writes    int
	failAfter int
}

func (m *memDisk) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(m.b)) {
		return 0, io.EOF
	}
	n := copy(p, m.b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (m *memDisk) WriteAt(p []byte, off int64) (int, error) {
	m.writes++
	if m.failAfter > 0 && m.writes >= m.failAfter {
		return 0, errors.New("injected device write error")
	}
	if off+int64(len(p)) > int64(len(m.b)) {
		return 0, errors.New("write past end")
	}
	return copy(m.b[off:], p), nil
}

// section is a partition view of a memDisk (what internal/disk provides).
type section struct {
	d    *memDisk
	base int64
}

func (s section) ReadAt(p []byte, off int64) (int, error)  { return s.d.ReadAt(p, s.base+off) }
func (s section) WriteAt(p []byte, off int64) (int, error) { return s.d.WriteAt(p, s.base+off) }

// memJournal collects journal bytes; failWrite/failSync inject errors on the
// n-th call (1-based).
type memJournal struct {
	bytes.Buffer
	writes, syncs       int
	failWrite, failSync int
}

func (j *memJournal) Write(p []byte) (int, error) {
	j.writes++
	if j.failWrite > 0 && j.writes == j.failWrite {
		return 0, errors.New("injected journal write error (disk full)")
	}
	return j.Buffer.Write(p)
}

func (j *memJournal) Sync() error {
	j.syncs++
	if j.failSync > 0 && j.syncs == j.failSync {
		return errors.New("injected journal sync error")
	}
	return nil
}

const (
	diskSize = 256 << 10
	partBase = 32 << 10
	partSize = 128 << 10
)

func newDisk(seed uint64) *memDisk {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, diskSize)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return &memDisk{b: b}
}

func hdr() Header {
	return Header{Created: time.Date(2026, 11, 26, 5, 0, 0, 0, time.UTC), RunID: "run-1", VolumeID: "8E6909F1-6BA3-49EA-BF8D-EC83FAB656CD",
		Target: "test.img", TargetSize: diskSize}
}

// stage issues a fixed set of writes, two of them overlapping, and returns
// what the partition must look like afterwards.
func stage(t *testing.T, r *Recorder, d *memDisk) []byte {
	t.Helper()
	want := bytes.Clone(d.b[partBase : partBase+partSize])
	writes := []struct {
		off int64
		n   int
		val byte
	}{{4096, 1024, 0xAA}, {4608, 1024, 0xBB}, {0, 512, 0x11}, {partSize - 512, 512, 0x22}, {65536, 4096, 0x00}}
	for _, w := range writes {
		p := bytes.Repeat([]byte{w.val}, w.n)
		if n, err := r.WriteAt(p, w.off); err != nil || n != w.n {
			t.Fatalf("WriteAt(%d): %d, %v", w.off, n, err)
		}
		copy(want[w.off:], p)
	}
	return want
}

func TestRecorderCommitRestore(t *testing.T) {
	d := newDisk(1)
	orig := bytes.Clone(d.b)
	r := NewRecorder(section{d, partBase}, partBase, partSize)
	want := stage(t, r, d)
	if !bytes.Equal(d.b, orig) {
		t.Fatal("staged writes reached the device before Commit")
	}
	// Reads see the staged view.
	got := make([]byte, partSize)
	if _, err := r.ReadAt(got, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("ReadAt does not show the staged writes")
	}
	var j memJournal
	res, err := r.Commit(&j, hdr(), func() error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if res.Writes != 5 || res.Applied != 5 || res.Warning != "" {
		t.Fatalf("commit result %+v", res)
	}
	if !bytes.Equal(d.b[partBase:partBase+partSize], want) {
		t.Fatal("device does not hold the writes after Commit")
	}
	if !bytes.Equal(d.b[:partBase], orig[:partBase]) || !bytes.Equal(d.b[partBase+partSize:], orig[partBase+partSize:]) {
		t.Fatal("Commit wrote outside the partition")
	}
	jr, err := Parse(j.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if !jr.Applied || !jr.Complete || len(jr.Records) != 5 || jr.Header.RunID != "run-1" || jr.Header.PartitionOffset != partBase {
		t.Fatalf("parsed journal: applied %v complete %v records %d header %+v", jr.Applied, jr.Complete, len(jr.Records), jr.Header)
	}
	if jr.Records[1].Offset != partBase+4608 || !bytes.Equal(jr.Records[1].Before[:512], bytes.Repeat([]byte{0xAA}, 512)) {
		t.Fatal("overlapping write's before-image does not hold the earlier write's bytes")
	}
	rr, err := Restore(jr, d, int64(len(d.b)), RestoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rr.Restored != 5 || !bytes.Equal(d.b, orig) {
		t.Fatalf("restore: %+v, identical=%v", rr, bytes.Equal(d.b, orig))
	}
	// A second restore finds the before-images and does nothing.
	rr, err = Restore(jr, d, int64(len(d.b)), RestoreOptions{})
	if err != nil || rr.Restored != 0 || rr.Skipped != 5 {
		t.Fatalf("second restore: %+v, %v", rr, err)
	}
}

func TestCommitNothingStaged(t *testing.T) {
	d := newDisk(2)
	r := NewRecorder(section{d, partBase}, partBase, partSize)
	var j memJournal
	res, err := r.Commit(&j, hdr(), nil)
	if err != nil || res.Writes != 0 || j.Len() != 0 || d.writes != 0 {
		t.Fatalf("empty commit: %+v %v, journal %d bytes, %d device writes", res, err, j.Len(), d.writes)
	}
}

func TestJournalFailureWritesNothing(t *testing.T) {
	for _, tc := range []struct {
		name string
		j    memJournal
	}{{"write", memJournal{failWrite: 1}}, {"sync", memJournal{failSync: 1}}} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDisk(3)
			orig := bytes.Clone(d.b)
			r := NewRecorder(section{d, partBase}, partBase, partSize)
			stage(t, r, d)
			_, err := r.Commit(&tc.j, hdr(), nil)
			if !errors.Is(err, ErrJournal) {
				t.Fatalf("err = %v, want ErrJournal", err)
			}
			if d.writes != 0 || !bytes.Equal(d.b, orig) {
				t.Fatal("device written although the journal failed")
			}
		})
	}
}

func TestDeviceWriteFailure(t *testing.T) {
	d := newDisk(4)
	orig := bytes.Clone(d.b)
	d.failAfter = 3
	r := NewRecorder(section{d, partBase}, partBase, partSize)
	stage(t, r, d)
	var j memJournal
	res, err := r.Commit(&j, hdr(), nil)
	if err == nil || res.Applied != 2 {
		t.Fatalf("commit: %+v, %v; want failure after 2 writes", res, err)
	}
	jr, err := Parse(j.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if !jr.Applied || jr.Complete || jr.AppliedCount != 2 {
		t.Fatalf("journal: applied %v complete %v count %d", jr.Applied, jr.Complete, jr.AppliedCount)
	}
	d.failAfter = 0
	if _, err := Restore(jr, d, diskSize, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(d.b, orig) {
		t.Fatal("restore after a failed apply is not byte-identical")
	}
}

// TestTornJournals cuts a journal at every length: before the prepared
// marker (an empty file and a prefix of the magic included) it must be
// reported torn; after it, it must still restore.
func TestTornJournals(t *testing.T) {
	d := newDisk(5)
	orig := bytes.Clone(d.b)
	r := NewRecorder(section{d, partBase}, partBase, partSize)
	stage(t, r, d)
	var j memJournal
	if _, err := r.Commit(&j, hdr(), nil); err != nil {
		t.Fatal(err)
	}
	full := j.Bytes()
	after := bytes.Clone(d.b)
	preparedEnd := len(full) - (1 + 4 + 1 + 32)
	for n := 0; n < len(full); n++ {
		jr, err := Parse(full[:n])
		switch {
		case n < preparedEnd:
			if !errors.Is(err, ErrTorn) {
				t.Fatalf("cut at %d: %v, want ErrTorn", n, err)
			}
		default:
			if err != nil || jr.Applied {
				t.Fatalf("cut at %d (after prepared marker): %v, applied=%v", n, err, jr != nil && jr.Applied)
			}
			copy(d.b, after)
			if _, err := Restore(jr, d, diskSize, RestoreOptions{}); err != nil || !bytes.Equal(d.b, orig) {
				t.Fatalf("cut at %d: restore %v identical=%v", n, err, bytes.Equal(d.b, orig))
			}
		}
	}
}

// TestPowerCutDuringApply: the journal has no applied marker and only the
// first k writes reached the disk.
func TestPowerCutDuringApply(t *testing.T) {
	for k := 0; k <= 5; k++ {
		t.Run(fmt.Sprint(k), func(t *testing.T) {
			d := newDisk(6)
			orig := bytes.Clone(d.b)
			d.failAfter = k + 1
			r := NewRecorder(section{d, partBase}, partBase, partSize)
			stage(t, r, d)
			j := memJournal{failWrite: 2} // the applied marker is lost
			r.Commit(&j, hdr(), nil)
			jr, err := Parse(j.Bytes())
			if err != nil || jr.Applied {
				t.Fatalf("parse: %v applied=%v", err, jr != nil && jr.Applied)
			}
			d.failAfter = 0
			rr, err := Restore(jr, d, diskSize, RestoreOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if rr.Restored != k || !bytes.Equal(d.b, orig) {
				t.Fatalf("restored %d, want %d; identical=%v", rr.Restored, k, bytes.Equal(d.b, orig))
			}
		})
	}
}

func TestRestoreRefusesChangedDisk(t *testing.T) {
	d := newDisk(7)
	r := NewRecorder(section{d, partBase}, partBase, partSize)
	stage(t, r, d)
	var j memJournal
	if _, err := r.Commit(&j, hdr(), nil); err != nil {
		t.Fatal(err)
	}
	jr, _ := Parse(j.Bytes())
	for _, off := range []int64{partBase + 4096, partBase + 4608 + 1000, partBase} {
		t.Run(fmt.Sprint(off), func(t *testing.T) {
			e := &memDisk{b: bytes.Clone(d.b)}
			e.b[off] ^= 0x40
			changed := bytes.Clone(e.b)
			_, err := Restore(jr, e, diskSize, RestoreOptions{})
			if !errors.Is(err, ErrMismatch) {
				t.Fatalf("err = %v, want ErrMismatch", err)
			}
			if e.writes != 0 || !bytes.Equal(e.b, changed) {
				t.Fatal("Restore wrote although an after-image did not match")
			}
		})
	}
	if _, err := Restore(jr, d, diskSize+512, RestoreOptions{}); !errors.Is(err, ErrWrongTarget) {
		t.Fatalf("wrong size: %v", err)
	}
}

func TestCheckOnlyWritesNothing(t *testing.T) {
	d := newDisk(8)
	r := NewRecorder(section{d, partBase}, partBase, partSize)
	stage(t, r, d)
	var j memJournal
	r.Commit(&j, hdr(), nil)
	jr, _ := Parse(j.Bytes())
	before := d.writes
	rr, err := Restore(jr, d, diskSize, RestoreOptions{Check: true})
	if err != nil || rr.Restored != 5 || d.writes != before {
		t.Fatalf("check: %+v %v, %d writes", rr, err, d.writes-before)
	}
}

// TestEveryByteFlipDetected: every byte of a journal is covered by a checksum.
func TestEveryByteFlipDetected(t *testing.T) {
	d := newDisk(9)
	r := NewRecorder(section{d, partBase}, partBase, partSize)
	stage(t, r, d)
	var j memJournal
	r.Commit(&j, hdr(), nil)
	full := j.Bytes()
	for i := range full {
		b := bytes.Clone(full)
		b[i] ^= 0x01
		if _, err := Parse(b); err == nil {
			t.Fatalf("flipping byte %d of %d went unnoticed", i, len(full))
		}
	}
}

func TestRecorderBounds(t *testing.T) {
	d := newDisk(10)
	r := NewRecorder(section{d, partBase}, partBase, partSize)
	if _, err := r.WriteAt([]byte{1}, partSize); err == nil {
		t.Error("write past the end accepted")
	}
	if _, err := r.WriteAt([]byte{1}, -1); err == nil {
		t.Error("write at negative offset accepted")
	}
	p := make([]byte, 10)
	if n, err := r.ReadAt(p, partSize-4); n != 4 || err != io.EOF {
		t.Errorf("read across the end: %d, %v", n, err)
	}
	var j memJournal
	r.Commit(&j, hdr(), nil)
	if _, err := r.WriteAt([]byte{1}, 0); err == nil {
		t.Error("write after commit accepted")
	}
}

func TestHeaderRoundTrip(t *testing.T) {
	h := hdr()
	h.PartitionOffset, h.PartitionSize = partBase, partSize
	b, err := encodeHeader(&h)
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, encodePrepared(0, sha256.Sum256(b))...)
	j, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if j.Header != h {
		t.Fatalf("header %+v, want %+v", j.Header, h)
	}
}

// TestCommitRefusesChangedDevice: a device changed between staging and
// Commit is not written, nor is a journal.
func TestCommitRefusesChangedDevice(t *testing.T) {
	d := newDisk(12)
	r := NewRecorder(section{d, partBase}, partBase, partSize)
	stage(t, r, d)
	d.b[partBase+4700] ^= 0xFF // someone else writes inside a staged range
	changed := bytes.Clone(d.b)
	var j memJournal
	_, err := r.Commit(&j, hdr(), nil)
	if !errors.Is(err, ErrDiskChanged) || j.Len() != 0 || d.writes != 0 || !bytes.Equal(d.b, changed) {
		t.Fatalf("err %v, journal %d bytes, %d writes", err, j.Len(), d.writes)
	}
}
