package edit

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// memDisk is an in-memory volume for Apply tests; it counts writes and can
// fail the n-th one.
type memDisk struct {
	b      []byte
	writes int
	failAt int // 1-based write number that fails; 0 = never
}

func (m *memDisk) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= int64(len(m.b)) {
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
	if m.failAt == m.writes {
		return 0, errors.New("injected I/O error")
	}
	if off < 0 || off+int64(len(p)) > int64(len(m.b)) {
		return 0, errors.New("write past end")
	}
	return copy(m.b[off:], p), nil
}

func sector(fill byte) []byte { return bytes.Repeat([]byte{fill}, 512) }

func newMemDisk(sectors int) *memDisk {
	m := &memDisk{b: make([]byte, sectors*512)}
	for i := range m.b {
		m.b[i] = byte(i / 512)
	}
	return m
}

func mkWrite(m *memDisk, sec int, fill byte, what string) Write {
	before := append([]byte(nil), m.b[sec*512:(sec+1)*512]...)
	return Write{Offset: int64(sec * 512), Before: before, After: sector(fill), What: what}
}

func TestApplyWritesInOrderWithHooks(t *testing.T) {
	m := newMemDisk(8)
	p := &Plan{SectorSize: 512}
	p.Writes = append(p.Writes, mkWrite(m, 3, 0xAA, "a"), mkWrite(m, 1, 0xBB, "b"))
	// A second write to sector 3: its before-image is the first write's after-image.
	p.Writes = append(p.Writes, Write{Offset: 3 * 512, Before: sector(0xAA), After: sector(0xCC), What: "c"})
	var order []string
	var befores [][]byte
	err := Apply(m, p, ApplyOptions{
		BeforeWrite: func(i int, w *Write) error {
			order = append(order, "before "+w.What)
			befores = append(befores, append([]byte(nil), w.Before...))
			return nil
		},
		AfterWrite: func(i int, w *Write) error { order = append(order, "after "+w.What); return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"before a", "after a", "before b", "after b", "before c", "after c"}
	if len(order) != len(want) {
		t.Fatalf("hook order %v", order)
	}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("hook order %v, want %v", order, want)
		}
	}
	if !bytes.Equal(m.b[3*512:4*512], sector(0xCC)) || !bytes.Equal(m.b[512:1024], sector(0xBB)) {
		t.Fatal("disk does not hold the after-images")
	}
	if befores[0][0] != 3 || befores[1][0] != 1 || befores[2][0] != 0xAA {
		t.Fatalf("before-images handed to the hook are wrong: %x %x %x", befores[0][0], befores[1][0], befores[2][0])
	}
	if m.writes != 3 {
		t.Fatalf("%d writes, want 3", m.writes)
	}
}

func TestApplyRefusesChangedDisk(t *testing.T) {
	m := newMemDisk(8)
	p := &Plan{SectorSize: 512, Writes: []Write{mkWrite(m, 2, 0xAA, "first"), mkWrite(m, 5, 0xBB, "second")}}
	m.b[5*512+100] ^= 0xFF // someone changed the disk after planning
	orig := append([]byte(nil), m.b...)
	err := Apply(m, p, ApplyOptions{})
	var dc *DiskChangedError
	if !errors.As(err, &dc) {
		t.Fatalf("err = %v, want DiskChangedError", err)
	}
	if dc.Index != 1 || dc.Offset != 5*512+100 {
		t.Fatalf("DiskChangedError %+v", dc)
	}
	if m.writes != 0 || !bytes.Equal(m.b, orig) {
		t.Fatal("bytes were written although the disk changed")
	}
}

func TestApplyStopAfterK(t *testing.T) {
	for k := 1; k <= 3; k++ {
		m := newMemDisk(8)
		p := &Plan{SectorSize: 512, Writes: []Write{mkWrite(m, 1, 0xA1, "1"), mkWrite(m, 2, 0xA2, "2"), mkWrite(m, 3, 0xA3, "3")}}
		err := Apply(m, p, ApplyOptions{StopAfter: k})
		if k < 3 && !errors.Is(err, ErrStopped) {
			t.Fatalf("k=%d: err %v, want ErrStopped", k, err)
		}
		if k == 3 && err != nil {
			t.Fatalf("k=3: %v", err)
		}
		if m.writes != k {
			t.Fatalf("k=%d: %d writes", k, m.writes)
		}
		for s := 1; s <= 3; s++ {
			written := m.b[s*512] == byte(0xA0+s)
			if written != (s <= k) {
				t.Fatalf("k=%d: sector %d written=%v", k, s, written)
			}
		}
	}
}

func TestApplyRejectsBadPlans(t *testing.T) {
	m := newMemDisk(8)
	good := mkWrite(m, 1, 0xAA, "good")
	cases := map[string]*Plan{
		"misaligned offset": {SectorSize: 512, Writes: []Write{{Offset: 100, Before: sector(0), After: sector(1)}}},
		"short write":       {SectorSize: 512, Writes: []Write{{Offset: 0, Before: make([]byte, 100), After: make([]byte, 100)}}},
		"length mismatch":   {SectorSize: 512, Writes: []Write{{Offset: 0, Before: sector(0), After: make([]byte, 1024)}}},
		"bad sector size":   {SectorSize: 500, Writes: []Write{good}},
		"inconsistent overlap": {SectorSize: 512, Writes: []Write{good,
			{Offset: 512, Before: sector(0x01), After: sector(0xCC), What: "overlap"}}},
	}
	for name, p := range cases {
		orig := append([]byte(nil), m.b...)
		err := Apply(m, p, ApplyOptions{})
		var ip *InvalidPlanError
		if !errors.As(err, &ip) {
			t.Errorf("%s: err = %v, want InvalidPlanError", name, err)
		}
		if m.writes != 0 || !bytes.Equal(orig, m.b) {
			t.Fatalf("%s: wrote despite invalid plan", name)
		}
	}
}

func TestApplyWriteFailureReportsProgress(t *testing.T) {
	m := newMemDisk(8)
	m.failAt = 2
	p := &Plan{SectorSize: 512, Writes: []Write{mkWrite(m, 1, 0xA1, "one"), mkWrite(m, 2, 0xA2, "two"), mkWrite(m, 3, 0xA3, "three")}}
	err := Apply(m, p, ApplyOptions{})
	var we *WriteError
	if !errors.As(err, &we) || we.Index != 1 || we.Done != 1 {
		t.Fatalf("err = %#v", err)
	}
	if m.b[3*512] == 0xA3 {
		t.Fatal("write after the failed one was made")
	}
}

func TestApplyHookErrorStops(t *testing.T) {
	m := newMemDisk(8)
	p := &Plan{SectorSize: 512, Writes: []Write{mkWrite(m, 1, 0xA1, "one"), mkWrite(m, 2, 0xA2, "two")}}
	err := Apply(m, p, ApplyOptions{BeforeWrite: func(i int, w *Write) error {
		if i == 1 {
			return errors.New("journal full")
		}
		return nil
	}})
	var we *WriteError
	if !errors.As(err, &we) || we.Index != 1 {
		t.Fatalf("err = %v", err)
	}
	if m.writes != 1 {
		t.Fatalf("%d writes, want 1", m.writes)
	}
}

// writeOnly hides ReadAt.
type writeOnly struct{ m *memDisk }

func (w writeOnly) WriteAt(p []byte, off int64) (int, error) { return w.m.WriteAt(p, off) }

func TestApplyNeedsReader(t *testing.T) {
	m := newMemDisk(4)
	p := &Plan{SectorSize: 512, Writes: []Write{mkWrite(m, 1, 0xA1, "one")}}
	if err := Apply(writeOnly{m}, p, ApplyOptions{}); err == nil {
		t.Fatal("no error without a reader")
	}
	if err := Apply(writeOnly{m}, p, ApplyOptions{Reader: m}); err != nil {
		t.Fatal(err)
	}
}
