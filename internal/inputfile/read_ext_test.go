package inputfile_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/unbrick/unbrick/internal/inputfile"
	"github.com/unbrick/unbrick/internal/inputfile/inputfiletest"
)

func TestReadRefusesSpecialFiles(t *testing.T) {
	inputfiletest.Refused(t, 1<<20, func(p string) error {
		_, err := inputfile.Read(p, "BEK file", 1<<20)
		return err
	})
}

func TestOpenRefusesSpecialFiles(t *testing.T) {
	for _, c := range inputfiletest.Cases(t, 10) {
		if c.Want != inputfile.ErrNotRegular {
			continue
		}
		f, err := inputfile.Open(c.Path, "rules file")
		if err == nil {
			f.Close()
		}
		if !errors.Is(err, inputfile.ErrNotRegular) || !strings.Contains(err.Error(), "rules file "+c.Path) {
			t.Errorf("%s: %v", c.Name, err)
		}
	}
}

func TestReadOrStdin(t *testing.T) {
	b, err := inputfile.ReadOrStdin("-", strings.NewReader("12345"), "recovery password file", 5)
	if err != nil || string(b) != "12345" {
		t.Fatalf("stdin: %q, %v", b, err)
	}
	// Standard input is bounded too: /dev/zero redirected to stdin stops
	// at the limit instead of growing until killed.
	zero, err := os.Open("/dev/zero")
	if err != nil {
		t.Skip(err)
	}
	defer zero.Close()
	_, err = inputfile.ReadOrStdin("-", zero, "recovery password file", 1<<20)
	if !errors.Is(err, inputfile.ErrTooLarge) || !strings.Contains(err.Error(), "standard input") {
		t.Fatalf("stdin /dev/zero: %v", err)
	}
	if _, err := inputfile.ReadOrStdin("-", nil, "rules file", 10); err == nil {
		t.Fatal("nil stdin accepted")
	}
	// A path other than "-" is a file, checked as Read checks it.
	p := filepath.Join(t.TempDir(), "pw.txt")
	os.WriteFile(p, []byte("abc"), 0o600)
	if b, err := inputfile.ReadOrStdin(p, nil, "recovery password file", 10); err != nil || string(b) != "abc" {
		t.Fatalf("file: %q, %v", b, err)
	}
	if _, err := inputfile.ReadOrStdin("/dev/zero", strings.NewReader("x"), "recovery password file", 10); !errors.Is(err, inputfile.ErrNotRegular) {
		t.Fatalf("/dev/zero as a path: %v", err)
	}
}
