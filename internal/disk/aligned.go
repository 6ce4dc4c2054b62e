package disk

import (
	"fmt"
	"io"
	"sync"
	"unsafe"
)

// sectorIOChunk bounds the bounce buffer of one unaligned transfer.
const sectorIOChunk = 1 << 20

// sectorIO gives byte-addressed reads and writes over a device that only
// accepts transfers whose offset, length and buffer address are multiples
// of its sector size, as Windows requires of a disk opened with
// FILE_FLAG_NO_BUFFERING ("File Buffering" on Microsoft Learn). Aligned
// requests go straight through; others go through a sector-aligned bounce
// buffer, and a write that covers part of a sector reads that sector first
// (read-modify-write). Writes are serialised, so two unaligned writes
// sharing a sector do not undo each other. Reads may run concurrently.
type sectorIO struct {
	r      io.ReaderAt
	w      io.WriterAt // nil: read-only
	sector int64
	size   int64 // a multiple of sector
	mu     sync.Mutex
}

// newSectorIO wraps a device of size bytes with the given sector size (a
// power of two). A size that is not a multiple of the sector size is cut
// to one: the device cannot transfer a partial last sector.
func newSectorIO(r io.ReaderAt, w io.WriterAt, sectorSize int, size int64) *sectorIO {
	ss := int64(sectorSize)
	return &sectorIO{r: r, w: w, sector: ss, size: size / ss * ss}
}

// alignedBuffer returns n bytes whose address is a multiple of align (a
// power of two). Go does not move heap memory, so the address stays
// aligned.
func alignedBuffer(n, align int) []byte {
	b := make([]byte, n+align)
	off := int(uintptr(unsafe.Pointer(unsafe.SliceData(b))) & uintptr(align-1))
	if off != 0 {
		off = align - off
	}
	return b[off : off+n : off+n]
}

// aligned reports whether a transfer of p at off may go to the device
// unchanged.
func (s *sectorIO) aligned(p []byte, off int64) bool {
	return off%s.sector == 0 && int64(len(p))%s.sector == 0 && len(p) > 0 &&
		uintptr(unsafe.Pointer(unsafe.SliceData(p)))&uintptr(s.sector-1) == 0
}

func (s *sectorIO) floor(x int64) int64 { return x / s.sector * s.sector }
func (s *sectorIO) ceil(x int64) int64  { return (x + s.sector - 1) / s.sector * s.sector }

// bounceSize is the bounce buffer for a transfer of n bytes at off.
func (s *sectorIO) bounceSize(n int, off int64) int {
	need := s.ceil(off+int64(n)) - s.floor(off)
	if need > sectorIOChunk {
		need = sectorIOChunk
	}
	return int(need)
}

// ReadAt reads len(p) bytes at off; past the end of the device it returns
// what it read and io.EOF.
func (s *sectorIO) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("read at negative offset %d", off)
	}
	if off >= s.size {
		return 0, io.EOF
	}
	var eof error
	if rem := s.size - off; int64(len(p)) > rem {
		p, eof = p[:rem], io.EOF
	}
	if len(p) == 0 {
		return 0, eof
	}
	if s.aligned(p, off) {
		n, err := s.r.ReadAt(p, off)
		if err == nil {
			err = eof
		}
		return n, err
	}
	buf := alignedBuffer(s.bounceSize(len(p), off), int(s.sector))
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		start := s.floor(pos)
		end := s.ceil(off + int64(len(p)))
		if end-start > int64(len(buf)) {
			end = start + int64(len(buf))
		}
		chunk := buf[:end-start]
		if _, err := s.r.ReadAt(chunk, start); err != nil {
			return n, fmt.Errorf("read %d bytes at offset %d: %w", len(chunk), start, err)
		}
		n += copy(p[n:], chunk[pos-start:])
	}
	return n, eof
}

// WriteAt writes p at off, reading the first and last sector first when p
// covers only part of them. Writes past the end are refused.
func (s *sectorIO) WriteAt(p []byte, off int64) (int, error) {
	if s.w == nil {
		return 0, ErrReadOnly
	}
	if off < 0 || off > s.size || int64(len(p)) > s.size-off {
		return 0, fmt.Errorf("write of %d bytes at offset %d is outside the device (%d bytes)", len(p), off, s.size)
	}
	if len(p) == 0 {
		return 0, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.aligned(p, off) {
		return s.w.WriteAt(p, off)
	}
	end := off + int64(len(p))
	buf := alignedBuffer(s.bounceSize(len(p), off), int(s.sector))
	n := 0
	for start := s.floor(off); start < end; {
		stop := s.ceil(end)
		if stop-start > int64(len(buf)) {
			stop = start + int64(len(buf))
		}
		chunk := buf[:stop-start]
		from := max(off, start) // first byte of p in this chunk
		to := min(end, stop)    // end of p's bytes in this chunk
		if from > start {       // p starts inside the first sector
			if _, err := s.r.ReadAt(chunk[:s.sector], start); err != nil {
				return n, fmt.Errorf("read the sector at offset %d before writing part of it: %w", start, err)
			}
		}
		if to < stop && (from == start || stop-start > s.sector) { // p ends inside the last sector
			last := stop - s.sector
			if _, err := s.r.ReadAt(chunk[last-start:], last); err != nil {
				return n, fmt.Errorf("read the sector at offset %d before writing part of it: %w", last, err)
			}
		}
		copy(chunk[from-start:], p[from-off:to-off])
		if _, err := s.w.WriteAt(chunk, start); err != nil {
			return n, fmt.Errorf("write %d bytes at offset %d: %w", len(chunk), start, err)
		}
		n += int(to - from)
		start = stop
	}
	return n, nil
}

// Sync flushes the device when it has a Sync method (an *os.File:
// FlushFileBuffers on Windows).
func (s *sectorIO) Sync() error {
	if f, ok := s.w.(interface{ Sync() error }); ok {
		return f.Sync()
	}
	return nil
}
