package durable

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSyncDir(t *testing.T) {
	dir := tempDir(t)
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := SyncDir(dir); err != nil {
		t.Fatalf("SyncDir(%s) = %v; want nil", dir, err)
	}
}

func TestSyncDirMissing(t *testing.T) {
	missing := filepath.Join(tempDir(t), "nope")
	err := SyncDir(missing)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("SyncDir(missing) = %v; want an error wrapping fs.ErrNotExist", err)
	}
	if !strings.Contains(err.Error(), missing) {
		t.Errorf("error %q does not name the directory %s", err, missing)
	}
}

func TestSyncDirOnFile(t *testing.T) {
	f := filepath.Join(tempDir(t), "f")
	if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := SyncDir(f); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("SyncDir(file) = %v; want a not-a-directory error", err)
	}
}

func TestRenameReplaces(t *testing.T) {
	dir := tempDir(t)
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	if err := os.WriteFile(a, []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b, []byte("old content, longer"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Rename(a, b); err != nil {
		t.Fatalf("Rename: %v", err)
	}
	got, err := os.ReadFile(b)
	if err != nil || string(got) != "new" {
		t.Fatalf("after Rename, b = %q, %v; want \"new\"", got, err)
	}
	if _, err := os.Stat(a); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("after Rename, a still there (stat: %v)", err)
	}
}

func TestRenameAcrossDirectories(t *testing.T) {
	root := tempDir(t)
	for _, d := range []string{"x", "y"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	a, b := filepath.Join(root, "x", "a"), filepath.Join(root, "y", "b")
	if err := os.WriteFile(a, []byte("moved"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Rename(a, b); err != nil {
		t.Fatalf("Rename: %v", err)
	}
	if got, _ := os.ReadFile(b); string(got) != "moved" {
		t.Fatalf("b = %q; want \"moved\"", got)
	}
}

func TestRenameMissingSource(t *testing.T) {
	dir := tempDir(t)
	b := filepath.Join(dir, "b")
	if err := os.WriteFile(b, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := Rename(filepath.Join(dir, "none"), b)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Rename(missing, b) = %v; want an error wrapping fs.ErrNotExist", err)
	}
	if got, _ := os.ReadFile(b); string(got) != "keep" {
		t.Fatalf("failed Rename changed b to %q", got)
	}
}

func TestWriteFile(t *testing.T) {
	dir := tempDir(t)
	p := filepath.Join(dir, "cursor.json")
	for _, want := range []string{"first, a long line", "second"} {
		if err := WriteFile(p, []byte(want), 0o644); err != nil {
			t.Fatalf("WriteFile: %v", err)
		}
		got, err := os.ReadFile(p)
		if err != nil || string(got) != want {
			t.Fatalf("content = %q, %v; want %q", got, err, want)
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Fatalf("directory holds %v; want only cursor.json (no temporary file left)", names)
	}
}

func TestWriteFileMissingDir(t *testing.T) {
	p := filepath.Join(tempDir(t), "no", "such", "f")
	err := WriteFile(p, []byte("x"), 0o644)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("WriteFile into a missing directory = %v; want fs.ErrNotExist", err)
	}
}

func TestMkdirAll(t *testing.T) {
	root := tempDir(t)
	d := filepath.Join(root, "a", "b", "c")
	if err := MkdirAll(d, 0o755); err != nil {
		t.Fatalf("MkdirAll: %v", err)
	}
	if st, err := os.Stat(d); err != nil || !st.IsDir() {
		t.Fatalf("after MkdirAll, stat %s = %v, %v", d, st, err)
	}
	// Existing: no error, nothing changed.
	if err := MkdirAll(d, 0o755); err != nil {
		t.Fatalf("MkdirAll of an existing directory: %v", err)
	}
	// A file in the way.
	f := filepath.Join(root, "file")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := MkdirAll(filepath.Join(f, "sub"), 0o755); err == nil {
		t.Fatal("MkdirAll under a regular file succeeded")
	}
}
