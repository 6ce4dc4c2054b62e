package image

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/unbrick/unbrick/internal/inputfile"
	"github.com/unbrick/unbrick/internal/inputfile/inputfiletest"
)

func TestReadConfigFileRefusesSpecialFiles(t *testing.T) {
	inputfiletest.Refused(t, inputfile.MaxConfig, func(p string) error {
		c, err := ReadConfigFile(p)
		if c != DefaultConfig() {
			t.Errorf("%s: config %+v returned with the error", p, c)
		}
		return err
	})
}

func TestReadConfigFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, ConfigName)
	os.WriteFile(p, DefaultConfig().Render(true), 0o644)
	if c, err := ReadConfigFile(p); err != nil || c != DefaultConfig() {
		t.Fatalf("%+v, %v", c, err)
	}
	os.WriteFile(p, []byte("mode = auto\ncolour = blue\n"), 0o644)
	if _, err := ReadConfigFile(p); err == nil || !strings.Contains(err.Error(), p+" line 2: unknown setting") {
		t.Errorf("bad line: %v", err)
	}
	if _, err := ReadConfigFile(filepath.Join(dir, "missing.conf")); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing: %v", err)
	}
}

// ParseConfig used to stop silently at 1 MiB; past the limit it is now an
// error, and an endless stream ends there too.
func TestParseConfigBounded(t *testing.T) {
	big := bytes.Repeat([]byte("# padding padding padding padding\n"), inputfile.MaxConfig/34+1)
	if _, err := ParseConfig(bytes.NewReader(big)); !errors.Is(err, inputfile.ErrTooLarge) {
		t.Errorf("oversized: %v", err)
	}
	if _, err := ParseConfig(io.LimitReader(zeros{}, 1<<40)); !errors.Is(err, inputfile.ErrTooLarge) {
		t.Errorf("endless: %v", err)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestUnsealBounded(t *testing.T) {
	plain := bytes.Repeat([]byte("x"), 1000)
	sealed, err := Seal(plain, "correct horse", 10)
	if err != nil {
		t.Fatal(err)
	}
	defer func(n int64) { maxUnsealed = n }(maxUnsealed)
	maxUnsealed = 999
	if _, err := Unseal(sealed, "correct horse"); !errors.Is(err, inputfile.ErrTooLarge) {
		t.Errorf("over the limit: %v", err)
	}
	maxUnsealed = 1000
	if got, err := Unseal(sealed, "correct horse"); err != nil || !bytes.Equal(got, plain) {
		t.Errorf("at the limit: %v", err)
	}
}
