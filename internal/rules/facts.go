package rules

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"time"
)

// FileFacts is what a rule may look at for one directory entry.
type FileFacts struct {
	Path  string    // volume-relative with '/' separators: Windows/System32/drivers/CrowdStrike/C-00000291-00000000-00000032.sys
	Name  string    // the long (Win32/POSIX) name; "" = last element of Path
	Size  int64     // data size in bytes
	MTime time.Time // $STANDARD_INFORMATION last-write time
	IsDir bool

	// SHA256 (lower-case hex) and AllZero may be filled in by the caller;
	// when a rule needs one that is not set, it is computed once from Open.
	SHA256  string
	AllZero *bool
	// Open returns the file's content. Called at most once, and only when a
	// rule needs the digest or the all-zero test.
	Open func() (io.Reader, error)

	read    bool
	readErr error
}

// Digest reads the content once through Open and fills SHA256 and AllZero
// (an empty file is not all-zero). Later calls return the first result.
func (f *FileFacts) Digest() error {
	if f.read {
		return f.readErr
	}
	f.read = true
	if f.Open == nil {
		f.readErr = fmt.Errorf("content of %s is not available", f.Path)
		return f.readErr
	}
	r, err := f.Open()
	if err != nil {
		f.readErr = fmt.Errorf("read %s: %w", f.Path, err)
		return f.readErr
	}
	h := sha256.New()
	zero := true
	var n int64
	buf := make([]byte, 64<<10)
	for {
		k, err := r.Read(buf)
		if k > 0 {
			h.Write(buf[:k])
			n += int64(k)
			if zero {
				for _, b := range buf[:k] {
					if b != 0 {
						zero = false
						break
					}
				}
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			f.readErr = fmt.Errorf("read %s: %w", f.Path, err)
			return f.readErr
		}
	}
	if n != f.Size {
		f.readErr = fmt.Errorf("read %s: got %d bytes, the directory says %d", f.Path, n, f.Size)
		return f.readErr
	}
	if f.SHA256 == "" {
		f.SHA256 = hex.EncodeToString(h.Sum(nil))
	}
	if f.AllZero == nil {
		z := zero && n > 0
		f.AllZero = &z
	}
	return nil
}

func (f *FileFacts) sha256() (string, error) {
	if f.SHA256 != "" {
		return f.SHA256, nil
	}
	if err := f.Digest(); err != nil {
		return "", err
	}
	return f.SHA256, nil
}

func (f *FileFacts) allZero() (bool, error) {
	if f.AllZero != nil {
		return *f.AllZero, nil
	}
	if err := f.Digest(); err != nil {
		return false, err
	}
	return *f.AllZero, nil
}
