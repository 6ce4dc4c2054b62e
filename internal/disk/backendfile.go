package disk

import (
	"errors"
	"io"
	"io/fs"
	"time"
)

// sectionFile presents part of a Target, starting at base, as the
// backend.File that go-diskfs's partition readers take (fs.File +
// io.ReaderAt + io.Seeker). It is read-only; go-diskfs is only ever asked
// to read here.
type sectionFile struct {
	t    *Target
	base int64
	pos  int64
}

func (f *sectionFile) size() int64 {
	if f.base >= f.t.size {
		return 0
	}
	return f.t.size - f.base
}

func (f *sectionFile) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	if off > f.size() {
		return 0, io.EOF
	}
	return f.t.ReadAt(p, f.base+off)
}

func (f *sectionFile) Read(p []byte) (int, error) {
	n, err := f.ReadAt(p, f.pos)
	f.pos += int64(n)
	return n, err
}

func (f *sectionFile) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += f.pos
	case io.SeekEnd:
		off += f.size()
	default:
		return 0, errors.New("bad whence")
	}
	if off < 0 {
		return 0, errors.New("negative position")
	}
	f.pos = off
	return off, nil
}

func (f *sectionFile) Close() error { return nil }

func (f *sectionFile) Stat() (fs.FileInfo, error) { return sectionInfo{f}, nil }

type sectionInfo struct{ f *sectionFile }

func (i sectionInfo) Name() string       { return i.f.t.path }
func (i sectionInfo) Size() int64        { return i.f.size() }
func (i sectionInfo) Mode() fs.FileMode  { return 0o444 }
func (i sectionInfo) ModTime() time.Time { return time.Time{} }
func (i sectionInfo) IsDir() bool        { return false }
func (i sectionInfo) Sys() any           { return nil }
