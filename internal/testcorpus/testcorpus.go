// Package testcorpus locates the shared fixture corpus (../shared/corpus,
// see its README.md) for tests and decompresses fixtures into a test's
// temporary directory.
//
// When the corpus is absent (a user's machine), tests that need it are
// skipped with a message saying so. Under CI (CI=true) an absent corpus is a
// test failure: CI must always run the corpus tests.
package testcorpus

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// EnvDir names an environment variable that overrides the corpus location.
const EnvDir = "UNBRICK_CORPUS"

// Dir returns the corpus directory, or "" when it cannot be found. It looks
// at $UNBRICK_CORPUS, then for shared/corpus beside the repository root and
// in every parent directory of the working directory.
func Dir() string {
	if d := os.Getenv(EnvDir); d != "" {
		if isCorpus(d) {
			return d
		}
		return ""
	}
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		starts = append(starts, filepath.Dir(file))
	}
	for _, s := range starts {
		for d := s; ; d = filepath.Dir(d) {
			c := filepath.Join(d, "shared", "corpus")
			if isCorpus(c) {
				return c
			}
			c = filepath.Join(d, "..", "shared", "corpus")
			if isCorpus(c) {
				abs, _ := filepath.Abs(c)
				return abs
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	return ""
}

func isCorpus(d string) bool {
	st, err := os.Stat(filepath.Join(d, "manifest.json"))
	return err == nil && st.Mode().IsRegular()
}

// Require returns the corpus directory. It skips the test with a clear
// message when the corpus is absent, except under CI, where it fails.
func Require(t testing.TB) string {
	t.Helper()
	d := Dir()
	if d == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("fixture corpus not found (looked for ../shared/corpus and $%s); CI must provide it", EnvDir)
		}
		t.Skipf("fixture corpus not found (../shared/corpus or $%s): skipping corpus test", EnvDir)
	}
	return d
}

// Path returns the path of a file inside the corpus (e.g. "src/startup_key.bek",
// "tools/ntfs-check"), skipping or failing as Require does.
func Path(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(Require(t), filepath.FromSlash(rel))
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("corpus file %s: %v", rel, err)
	}
	return p
}

// Decompress gunzips a corpus file (rel is relative to the corpus root, e.g.
// "disks/win10-plain-ntfs.img.gz" or "src/aes_128.bin.gz") into t.TempDir()
// and returns the path of the writable copy. The copy is sparse where the
// source has runs of zero blocks.
func Decompress(t testing.TB, rel string) string {
	t.Helper()
	src := Path(t, rel)
	name := strings.TrimSuffix(filepath.Base(rel), ".gz")
	dst := filepath.Join(t.TempDir(), name)
	if err := gunzipSparse(src, dst); err != nil {
		t.Fatalf("decompress %s: %v", rel, err)
	}
	return dst
}

// Disk decompresses the whole-disk image of a corpus variant
// (e.g. "win10-xts128-recoverypw") and returns its path.
func Disk(t testing.TB, variant string) string {
	t.Helper()
	return Decompress(t, "disks/"+variant+".img.gz")
}

func gunzipSparse(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	zr, err := gzip.NewReader(in)
	if err != nil {
		return fmt.Errorf("gzip header: %w", err)
	}
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	var off int64
	for {
		n, rerr := io.ReadFull(zr, buf)
		if n > 0 {
			chunk := buf[:n]
			// Write non-zero 4 KiB blocks only; holes stay sparse.
			for i := 0; i < n; i += 4096 {
				end := min(i+4096, n)
				if !allZero(chunk[i:end]) {
					if _, err := out.WriteAt(chunk[i:end], off+int64(i)); err != nil {
						out.Close()
						return err
					}
				}
			}
			off += int64(n)
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			out.Close()
			return fmt.Errorf("gunzip: %w", rerr)
		}
	}
	if err := out.Truncate(off); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// Manifest is the decoded corpus manifest.json. Variants and Sources are kept
// as generic JSON so that tests read the fields they need.
type Manifest struct {
	Schema   json.RawMessage  `json:"schema"`
	Variants []map[string]any `json:"variants"`
	Sources  []map[string]any `json:"sources"`
}

// LoadManifest reads the corpus manifest, skipping or failing as Require does.
func LoadManifest(t testing.TB) *Manifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(Require(t), "manifest.json"))
	if err != nil {
		t.Fatalf("read manifest: %v", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("parse manifest: %v", err)
	}
	return &m
}

// Variant returns the manifest entry of the named variant.
func (m *Manifest) Variant(t testing.TB, name string) map[string]any {
	t.Helper()
	for _, v := range m.Variants {
		if v["name"] == name {
			return v
		}
	}
	t.Fatalf("manifest has no variant %q", name)
	return nil
}

// VariantNames returns the names of all variants that are not hold-outs.
func (m *Manifest) VariantNames() []string {
	var out []string
	for _, v := range m.Variants {
		if h, _ := v["holdout"].(bool); h {
			continue
		}
		if n, ok := v["name"].(string); ok {
			out = append(out, n)
		}
	}
	return out
}
