package main

import (
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// gunzipTo decompresses src into dst.
func gunzipTo(t *testing.T, src, dst string) {
	t.Helper()
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, zr); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// shortDemoDisk is testdata/demo-disk.img.gz cut 4 MiB before the end of
// its Windows partition (partition 2 ends at 35,651,584 - 1 MiB of GPT
// backup area).
func shortDemoDisk(t *testing.T, dir string) string {
	t.Helper()
	img := filepath.Join(dir, "short.img")
	gunzipTo(t, "../../testdata/demo-disk.img.gz", img)
	if err := os.Truncate(img, 30<<20); err != nil {
		t.Fatal(err)
	}
	return img
}
