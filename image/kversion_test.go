package image

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func newGzipForTest(w io.Writer) io.WriteCloser { return gzip.NewWriter(w) }

func TestKernelVersion(t *testing.T) {
	v, err := kernelVersion(bytes.NewReader(fakeBzImage("6.1.0-56-amd64 (x) #1")))
	if err != nil || v != "6.1.0-56-amd64 (x) #1" {
		t.Fatalf("got %q, %v", v, err)
	}
	for name, data := range map[string][]byte{
		"short":    []byte("MZ"),
		"no HdrS":  make([]byte, 4096),
		"zero ptr": func() []byte { b := fakeBzImage("x"); b[0x20E], b[0x20F] = 0, 0; return b }(),
	} {
		if _, err := kernelVersion(bytes.NewReader(data)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestKernelVersionRealKernel checks the header parser against a real
// Debian kernel when the boot chain is cached (scripts/fetch-bootchain.sh).
func TestKernelVersionRealKernel(t *testing.T) {
	bc := realBootChain(t)
	v, err := kernelVersionFile(bc.Kernel)
	if err != nil || !strings.HasPrefix(v, bc.Release+" ") {
		t.Fatalf("version %q, %v", v, err)
	}
}

// realBootChain returns the cached boot chain, or skips; with
// UNBRICK_REQUIRE_BOOTCHAIN=1 (scripts/ci-image.sh) a missing one fails.
func realBootChain(t *testing.T) *BootChain {
	t.Helper()
	dir := os.Getenv("UNBRICK_BOOTCHAIN")
	if dir == "" {
		h, _ := os.UserHomeDir()
		dir = filepath.Join(h, ".cache/unbrick/bootchain")
	}
	bc, err := LoadBootChain(dir)
	if err != nil {
		if os.Getenv("UNBRICK_REQUIRE_BOOTCHAIN") == "1" {
			t.Fatalf("boot chain required: %v", err)
		}
		t.Skipf("no boot chain cached (%v); run scripts/fetch-bootchain.sh", err)
	}
	return bc
}
