package inputfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// Size limits for the inputs unbrick reads whole. Each is far above any
// real file of its kind and far below what would hurt a 1 GiB stick.
const (
	MaxKeyExport = 256 << 20 // a key export of a very large fleet (CSV, JSON, LDIF)
	MaxKeyFile   = 64 << 10  // one BEK file, passphrase file, age identity file or typed-key file
	MaxKeyList   = 1 << 20   // a list of recovery passwords (--recovery-password-file) or of age recipients (-R)
	MaxRules     = 4 << 20   // a rules file
	MaxJournal   = 1 << 30   // an undo journal (before- and after-images)
	MaxConfig    = 1 << 20   // unbrick.conf and similar settings
	MaxProgram   = 512 << 20 // a program read whole, such as the static unbrick given to image build --init
)

// Stdin is the path that means standard input for the inputs that accept
// it (ReadOrStdin).
const Stdin = "-"

// ErrTooLarge is returned (wrapped) for a file over its limit.
var ErrTooLarge = errors.New("file too large")

// ErrNotRegular is returned (wrapped) for a device, FIFO, socket or
// directory where a regular file was expected.
var ErrNotRegular = errors.New("not a regular file")

// Read reads the regular file at path whole, refusing a file larger than
// limit bytes and anything that is not a regular file. what names the
// input in errors ("rules file", "BEK file"). The file is opened without
// blocking, so a FIFO is refused rather than waited on.
func Read(path, what string, limit int64) ([]byte, error) {
	f, err := Open(path, what)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// A regular file says its size: refuse an oversized one before reading
	// a byte (a sparse file can claim any size). ReadAll still bounds a
	// file that grows meanwhile.
	if fi, err := f.Stat(); err == nil && fi.Size() > limit {
		return nil, tooLarge(path, what, limit)
	}
	return ReadAll(f, path, what, limit)
}

// ReadOrStdin is Read, except that path "-" reads stdin (bounded by limit
// all the same; a terminal, pipe or redirected file is fine there, since
// the user chose it explicitly).
func ReadOrStdin(path string, stdin io.Reader, what string, limit int64) ([]byte, error) {
	if path == Stdin {
		if stdin == nil {
			return nil, fmt.Errorf("%s: standard input (-) is not available here; give a file path", what)
		}
		return ReadAll(stdin, "(standard input)", what, limit)
	}
	return Read(path, what, limit)
}

// Open opens the regular file at path for reading, without blocking on a
// FIFO, and refuses anything that is not a regular file.
func Open(path, what string) (*os.File, error) {
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s %s does not exist: check the path", what, path)
		}
		return nil, fmt.Errorf("%s %s: %w", what, path, err)
	}
	if err := checkMode(fi, path, what); err != nil {
		return nil, err
	}
	f, err := openNonblock(path)
	if err != nil {
		return nil, fmt.Errorf("open %s %s: %w", what, path, err)
	}
	// The name could have been replaced between Stat and open: check the
	// file actually opened.
	fi, err = f.Stat()
	if err == nil {
		err = checkMode(fi, path, what)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// ReadAll reads r whole, failing with ErrTooLarge past limit bytes; path
// and what name the input in the error.
func ReadAll(r io.Reader, path, what string, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s %s: %w", what, path, err)
	}
	if int64(len(data)) > limit {
		return nil, tooLarge(path, what, limit)
	}
	return data, nil
}

func tooLarge(path, what string, limit int64) error {
	return fmt.Errorf("%s %s is larger than %s: %w; check that it is the right file", what, path, human(limit), ErrTooLarge)
}

func checkMode(fi fs.FileInfo, path, what string) error {
	m := fi.Mode()
	if m.IsRegular() {
		return nil
	}
	kind := "not a regular file"
	switch {
	case m.IsDir():
		kind = "a directory"
	case m&fs.ModeNamedPipe != 0:
		kind = "a FIFO (named pipe)"
	case m&fs.ModeSocket != 0:
		kind = "a socket"
	case m&fs.ModeDevice != 0:
		kind = "a device"
	}
	return fmt.Errorf("%s %s is %s: %w; give the path of a regular file", what, path, kind, ErrNotRegular)
}

func human(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
