package disk

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"testing"
	"unsafe"
)

// strictDevice is an in-memory disk that, like a Windows disk opened with
// FILE_FLAG_NO_BUFFERING, refuses any transfer whose offset, length or
// buffer address is not a multiple of its sector size.
type strictDevice struct {
	data          []byte
	sector        int
	reads, writes int
}

func (d *strictDevice) check(p []byte, off int64) error {
	addr := uintptr(unsafe.Pointer(unsafe.SliceData(p)))
	if off%int64(d.sector) != 0 || len(p)%d.sector != 0 || len(p) == 0 || addr%uintptr(d.sector) != 0 {
		return fmt.Errorf("unaligned transfer: %d bytes at %d, buffer at %#x (ERROR_INVALID_PARAMETER)", len(p), off, addr)
	}
	if off+int64(len(p)) > int64(len(d.data)) {
		return io.EOF
	}
	return nil
}

func (d *strictDevice) ReadAt(p []byte, off int64) (int, error) {
	if err := d.check(p, off); err != nil {
		return 0, err
	}
	d.reads++
	return copy(p, d.data[off:]), nil
}

func (d *strictDevice) WriteAt(p []byte, off int64) (int, error) {
	if err := d.check(p, off); err != nil {
		return 0, err
	}
	d.writes++
	return copy(d.data[off:], p), nil
}

func newStrict(size, sector int) *strictDevice {
	d := &strictDevice{data: make([]byte, size), sector: sector}
	rand.New(rand.NewSource(1)).Read(d.data)
	return d
}

func TestStrictDeviceRefusesUnaligned(t *testing.T) {
	// The fake must itself refuse what Windows refuses, or the tests below
	// prove nothing.
	d := newStrict(8192, 512)
	buf := alignedBuffer(1024, 512)
	if _, err := d.ReadAt(buf[:512], 1); err == nil {
		t.Error("unaligned offset accepted")
	}
	if _, err := d.ReadAt(buf[:100], 0); err == nil {
		t.Error("unaligned length accepted")
	}
	if _, err := d.ReadAt(buf[1:513], 0); err == nil {
		t.Error("unaligned buffer accepted")
	}
	if _, err := d.ReadAt(buf[:512], 512); err != nil {
		t.Errorf("aligned read refused: %v", err)
	}
}

func TestAlignedBuffer(t *testing.T) {
	for _, a := range []int{512, 4096} {
		for n := 1; n < 3*a; n += 511 {
			b := alignedBuffer(n, a)
			if len(b) != n || cap(b) != n || uintptr(unsafe.Pointer(&b[0]))%uintptr(a) != 0 {
				t.Fatalf("alignedBuffer(%d, %d): len %d cap %d at %p", n, a, len(b), cap(b), &b[0])
			}
		}
	}
}

// TestSectorIOMatchesMemory does random reads and writes of every size and
// alignment through sectorIO over the strict device and through a plain
// byte slice, and compares the results and the final contents.
func TestSectorIOMatchesMemory(t *testing.T) {
	for _, sector := range []int{512, 4096} {
		t.Run(fmt.Sprint(sector), func(t *testing.T) {
			const size = 64 * 4096
			dev := newStrict(size, sector)
			ref := bytes.Clone(dev.data)
			s := newSectorIO(dev, dev, sector, size)
			rng := rand.New(rand.NewSource(int64(sector)))
			for i := 0; i < 3000; i++ {
				off := rng.Int63n(size)
				n := rng.Intn(3*sector + 1)
				if rng.Intn(10) == 0 {
					n = rng.Intn(sectorIOChunk + 3*sector) // bigger than one bounce buffer
				}
				if rng.Intn(4) == 0 {
					off = off / int64(sector) * int64(sector) // aligned offset
				}
				// Buffers from an odd place in a bigger slice, so that
				// aligned offsets meet unaligned addresses too.
				back := make([]byte, n+1)
				k := rng.Intn(2)
				p := back[k : k+n]
				if off+int64(n) > size {
					n = int(size - off)
					p = p[:n]
				}
				if rng.Intn(2) == 0 {
					rng.Read(p)
					got, err := s.WriteAt(p, off)
					if err != nil || got != n {
						t.Fatalf("WriteAt(%d bytes, %d) = %d, %v", n, off, got, err)
					}
					copy(ref[off:], p)
				} else {
					got, err := s.ReadAt(p, off)
					if err != nil || got != n {
						t.Fatalf("ReadAt(%d bytes, %d) = %d, %v", n, off, got, err)
					}
					if !bytes.Equal(p, ref[off:off+int64(n)]) {
						t.Fatalf("ReadAt(%d bytes, %d): wrong bytes", n, off)
					}
				}
			}
			if !bytes.Equal(dev.data, ref) {
				t.Fatal("device contents differ from the reference")
			}
		})
	}
}

func TestSectorIOEdges(t *testing.T) {
	dev := newStrict(4096, 512)
	s := newSectorIO(dev, dev, 512, 4096)

	// Aligned request with an aligned buffer: straight through, one read.
	buf := alignedBuffer(1024, 512)
	if n, err := s.ReadAt(buf, 1024); n != 1024 || err != nil {
		t.Fatalf("aligned read: %d %v", n, err)
	}
	if dev.reads != 1 {
		t.Errorf("aligned read took %d device reads, want 1", dev.reads)
	}

	// A 3-byte write inside one sector: that sector read, then written.
	dev.reads, dev.writes = 0, 0
	if n, err := s.WriteAt([]byte("abc"), 700); n != 3 || err != nil {
		t.Fatalf("small write: %d %v", n, err)
	}
	if dev.reads != 1 || dev.writes != 1 || string(dev.data[700:703]) != "abc" {
		t.Errorf("small write: %d reads, %d writes, data %q", dev.reads, dev.writes, dev.data[700:703])
	}

	// Reads at and past the end.
	p := make([]byte, 100)
	if n, err := s.ReadAt(p, 4050); n != 46 || err != io.EOF {
		t.Errorf("read across the end: %d %v, want 46 EOF", n, err)
	}
	if n, err := s.ReadAt(p, 4096); n != 0 || err != io.EOF {
		t.Errorf("read at the end: %d %v", n, err)
	}
	if _, err := s.ReadAt(p, -1); err == nil {
		t.Error("negative offset read")
	}
	// Writes past the end are refused, nothing written.
	before := bytes.Clone(dev.data)
	if _, err := s.WriteAt(make([]byte, 10), 4090); err == nil {
		t.Error("write across the end accepted")
	}
	if !bytes.Equal(before, dev.data) {
		t.Error("refused write changed the device")
	}
	// Read-only.
	ro := newSectorIO(dev, nil, 512, 4096)
	if _, err := ro.WriteAt([]byte{1}, 0); !errors.Is(err, ErrReadOnly) {
		t.Errorf("read-only write: %v", err)
	}
	// A size that is not a whole number of sectors is cut to one.
	if odd := newSectorIO(dev, dev, 512, 4000); odd.size != 3584 {
		t.Errorf("size %d, want 3584", odd.size)
	}
}

// A device error in the read half of read-modify-write stops the write
// before anything is written.
func TestSectorIOReadError(t *testing.T) {
	dev := newStrict(4096, 512)
	fail := &failingReader{dev}
	s := newSectorIO(fail, dev, 512, 4096)
	if _, err := s.WriteAt([]byte("x"), 10); err == nil {
		t.Fatal("write succeeded without reading its sector")
	}
	if dev.writes != 0 {
		t.Errorf("%d writes after a failed read", dev.writes)
	}
}

type failingReader struct{ *strictDevice }

func (failingReader) ReadAt([]byte, int64) (int, error) { return 0, errors.New("CRC error") }

// Through a Target (as OpenTarget builds it on Windows), the partition
// table and volume code read the strict device without errors.
func TestSectorIOUnderTarget(t *testing.T) {
	dev := newStrict(1<<20, 4096)
	s := newSectorIO(dev, dev, 4096, 1<<20)
	tg := NewTarget("strict", s, s.size, true)
	b := make([]byte, 7)
	if err := tg.readFull(b, 4093); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, dev.data[4093:4100]) {
		t.Error("wrong bytes through Target")
	}
	if _, err := tg.WriteAt([]byte("NTFS    "), 3); err != nil {
		t.Fatal(err)
	}
	if string(dev.data[3:11]) != "NTFS    " {
		t.Error("write through Target lost")
	}
}
