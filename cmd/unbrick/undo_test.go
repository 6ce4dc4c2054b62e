package main

import (
	"bytes"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/unbrick/unbrick/internal/undo"
)

// fileSection is a partition view of an *os.File for the synthetic journal.
type fileSection struct {
	f    *os.File
	base int64
}

func (s fileSection) ReadAt(p []byte, off int64) (int, error)  { return s.f.ReadAt(p, s.base+off) }
func (s fileSection) WriteAt(p []byte, off int64) (int, error) { return s.f.WriteAt(p, s.base+off) }

// makeJournaledImage writes an image, changes it through an undo.Recorder
// and returns the image path, the journal path and the original sha256.
func makeJournaledImage(t *testing.T) (string, string, [32]byte) {
	t.Helper()
	dir := t.TempDir()
	img := filepath.Join(dir, "disk.img")
	orig := bytes.Repeat([]byte("unbrick undo test pattern 0123456789abcdef"), 10000)
	orig = orig[:409600]
	if err := os.WriteFile(img, orig, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const base, size = 65536, 262144
	r := undo.NewRecorder(fileSection{f, base}, base, size)
	r.WriteAt(bytes.Repeat([]byte{0xEE}, 1024), 8192)
	r.WriteAt(bytes.Repeat([]byte{0x00}, 512), 8704)
	jpath := filepath.Join(dir, "run-vol.journal")
	jf, err := os.Create(jpath)
	if err != nil {
		t.Fatal(err)
	}
	h := undo.Header{Created: time.Now(), RunID: "run", VolumeID: "vol", Target: img, TargetSize: int64(len(orig))}
	if _, err := r.Commit(jf, h, f.Sync); err != nil {
		t.Fatal(err)
	}
	jf.Close()
	return img, jpath, sha256.Sum256(orig)
}

func fileSHA(t *testing.T, p string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

func TestUndoCLI(t *testing.T) {
	img, jpath, want := makeJournaledImage(t)
	changed := fileSHA(t, img)
	if changed == want {
		t.Fatal("the recorder did not change the image")
	}
	code, out, errs := runCLI(t, "undo", img, "--journal", jpath, "--check")
	if code != 0 || !strings.Contains(out, "check passed") || fileSHA(t, img) != changed {
		t.Fatalf("--check: code %d out %q err %q", code, out, errs)
	}
	code, out, errs = runCLI(t, "undo", "--journal", jpath, "--log", filepath.Join(t.TempDir(), "logs"), img)
	if code != 0 || !strings.Contains(out, "restored 2 ranges") {
		t.Fatalf("undo: code %d out %q err %q", code, out, errs)
	}
	if fileSHA(t, img) != want {
		t.Fatal("undo did not give a byte-identical image")
	}
	code, out, _ = runCLI(t, "undo", "--journal", jpath, "--log", filepath.Join(t.TempDir(), "logs"), img)
	if code != 0 || !strings.Contains(out, "nothing to restore") {
		t.Fatalf("second undo: code %d out %q", code, out)
	}
}

func TestUndoCLIRefusesChangedDisk(t *testing.T) {
	img, jpath, _ := makeJournaledImage(t)
	f, _ := os.OpenFile(img, os.O_RDWR, 0)
	f.WriteAt([]byte{0x12}, 65536+8192+3) // someone changed a byte the fix wrote
	f.Close()
	before := fileSHA(t, img)
	code, _, errs := runCLI(t, "undo", "--journal", jpath, "--log", filepath.Join(t.TempDir(), "logs"), img)
	if code != 4 || !strings.Contains(errs, "no longer holds") {
		t.Fatalf("code %d, stderr %q; want 4 and a mismatch message", code, errs)
	}
	if fileSHA(t, img) != before {
		t.Fatal("undo wrote to a disk whose after-images do not match")
	}
}

func TestUndoCLIUsage(t *testing.T) {
	if code, _, _ := runCLI(t, "undo", "img"); code != 2 {
		t.Errorf("no --journal: code %d, want 2", code)
	}
	if code, _, _ := runCLI(t, "undo", "--journal", "j"); code != 2 {
		t.Errorf("no target: code %d, want 2", code)
	}
	dir := t.TempDir()
	torn := filepath.Join(dir, "torn.journal")
	os.WriteFile(torn, []byte(undo.Magic+"\x01\x00"), 0o600)
	img := filepath.Join(dir, "x.img")
	os.WriteFile(img, make([]byte, 4096), 0o600)
	if code, _, errs := runCLI(t, "undo", "--journal", torn, "--log", filepath.Join(t.TempDir(), "logs"), img); code != 4 || !strings.Contains(errs, "torn") {
		t.Errorf("torn journal: code %d, stderr %q", code, errs)
	}
	// A journal cut to 0 or 1 byte (the fix was killed as it created it)
	// is torn too, not a failure.
	for _, data := range [][]byte{nil, []byte("U")} {
		os.WriteFile(torn, data, 0o600)
		if code, _, errs := runCLI(t, "undo", "--journal", torn, "--log", filepath.Join(t.TempDir(), "logs"), img); code != 4 || !strings.Contains(errs, "torn") {
			t.Errorf("%d-byte journal: code %d, stderr %q", len(data), code, errs)
		}
	}
	// A device or FIFO given as the journal is refused, not read.
	if code, _, errs := runCLI(t, "undo", "--journal", "/dev/zero", "--log", filepath.Join(t.TempDir(), "logs"), img); code != 1 || !strings.Contains(errs, "not a regular file") && !strings.Contains(errs, "device") {
		t.Errorf("/dev/zero journal: code %d, stderr %q", code, errs)
	}
}
