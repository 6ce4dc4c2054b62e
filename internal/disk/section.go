package disk

import (
	"errors"
	"fmt"
	"io"
)

// ErrShortImage is returned (wrapped) by writes to a Section whose image
// ends before the volume does.
var ErrShortImage = errors.New("the image ends before the volume it describes")

// Section is a volume on a Target: an io.ReaderAt and io.WriterAt over
// [Offset, Offset+Size) of the candidate.
//
// When the image ends before the volume (Short), reads of the missing part
// return zero bytes, as dislocker-file does (the caller warns once), and
// every write is refused with ErrShortImage: a volume we cannot see whole
// is never modified.
type Section struct {
	t      *Target
	off    int64
	size   int64
	avail  int64 // bytes of the volume present in the target
	part   int
	scheme string
}

// Section returns the volume c on t.
func (t *Target) Section(c *Candidate) *Section {
	avail := t.size - c.Offset
	if avail < 0 {
		avail = 0
	}
	if avail > c.Size {
		avail = c.Size
	}
	return &Section{t: t, off: c.Offset, size: c.Size, avail: avail, part: c.Partition, scheme: c.Scheme}
}

// Size is the volume size in bytes (as the partition table or the volume
// header says; may exceed what the image holds, see Short).
func (s *Section) Size() int64 { return s.size }

// Offset is where the volume starts in the target.
func (s *Section) Offset() int64 { return s.off }

// Short reports whether the image ends before the volume.
func (s *Section) Short() bool { return s.avail < s.size }

// Missing is how many bytes of the volume lie past the end of the image.
func (s *Section) Missing() int64 { return s.size - s.avail }

// ShortWarning is a one-line warning for a Short section ("" otherwise),
// for read-only commands to print once.
func (s *Section) ShortWarning() string {
	if !s.Short() {
		return ""
	}
	return fmt.Sprintf("warning: %s: the image ends %d bytes before the end of the volume (%s of %s present); reading zeros past the end",
		s.t.path, s.Missing(), humanSize(s.avail), humanSize(s.size))
}

// Writable reports whether WriteAt can succeed (target opened writable and
// the image holds the whole volume).
func (s *Section) Writable() bool { return s.t.Writable() && !s.Short() }

// ReadAt reads volume bytes; past the end of the image (inside the volume)
// it returns zeros; past the end of the volume io.EOF.
func (s *Section) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("read volume at negative offset %d", off)
	}
	if off >= s.size {
		return 0, io.EOF
	}
	var eof error
	if rem := s.size - off; int64(len(p)) > rem {
		p = p[:rem]
		eof = io.EOF
	}
	n := 0
	if off < s.avail {
		m := p
		if rem := s.avail - off; int64(len(m)) > rem {
			m = m[:rem]
		}
		k, err := s.t.ReadAt(m, s.off+off)
		n += k
		if k < len(m) {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return n, fmt.Errorf("read volume at offset %d: %w", off+int64(k), err)
		}
	}
	clear(p[n:])
	return len(p), eof
}

// WriteAt writes volume bytes. It refuses (writing nothing) when the
// target is read-only, the image is short, or the range is outside the
// volume.
func (s *Section) WriteAt(p []byte, off int64) (int, error) {
	if !s.t.Writable() {
		return 0, fmt.Errorf("write %s: %w", s.t.path, ErrReadOnly)
	}
	if s.Short() {
		return 0, fmt.Errorf("refusing to write to %s: %w (%d bytes missing); use the complete image", s.t.path, ErrShortImage, s.Missing())
	}
	if off < 0 || off > s.size || int64(len(p)) > s.size-off {
		return 0, fmt.Errorf("write %s: %d bytes at volume offset %d are outside the volume (%d bytes)", s.t.path, len(p), off, s.size)
	}
	return s.t.WriteAt(p, s.off+off)
}
