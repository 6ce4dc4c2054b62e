//go:build windows

package durable

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/windows"
)

// underWine reports whether the test runs under Wine (its ntdll exports
// wine_get_version), whose MoveFileEx differs from Windows' in places.
func underWine() bool {
	return windows.NewLazySystemDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil
}

// TestSyncDirWindows is the case that failed before this package: opening
// a directory and calling Sync on it is refused on Windows (Wine answers
// Access denied), so every fleet log open failed.
func TestSyncDirWindows(t *testing.T) {
	dir := tempDir(t)
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	syncErr := d.Sync()
	d.Close()
	t.Logf("(*os.File).Sync on a directory handle: %v", syncErr)
	if err := SyncDir(dir); err != nil {
		t.Fatalf("SyncDir(%s) = %v; want nil", dir, err)
	}
	// Slash-separated and drive-relative spellings are accepted too.
	if err := SyncDir(filepath.ToSlash(dir)); err != nil {
		t.Fatalf("SyncDir(%s) = %v; want nil", filepath.ToSlash(dir), err)
	}
}

// TestRenameOverReadOnlyTarget: MoveFileEx refuses to replace a read-only
// file; Rename must report that rather than pretend.
func TestRenameOverReadOnlyTarget(t *testing.T) {
	if underWine() {
		t.Skip("Wine 8's MoveFileEx replaces read-only files; Windows refuses (ERROR_ACCESS_DENIED)")
	}
	dir := tempDir(t)
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	if err := os.WriteFile(a, []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b, []byte("old"), 0o444); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(b, 0o644)
	if err := Rename(a, b); err == nil {
		got, _ := os.ReadFile(b)
		t.Fatalf("Rename over a read-only file succeeded (b = %q); MoveFileEx should refuse", got)
	}
}
