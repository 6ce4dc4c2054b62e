package durable

import (
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// tempDir is t.TempDir without its os.RemoveAll clean-up: under Wine 8,
// Go 1.26's RemoveAll on Windows fails with "Invalid function" (seen in
// unlinkat; Wine 8 does not implement a call it relies on), which would
// fail every test run by scripts/ci-windows.sh.
// The clean-up here removes entries one by one with os.Remove, deepest
// first, and reports what it could not remove.
func tempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "durable-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		var paths []string
		filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
			if err == nil {
				paths = append(paths, p)
			}
			return nil
		})
		sort.Sort(sort.Reverse(sort.StringSlice(paths)))
		for _, p := range paths {
			os.Chmod(p, 0o755)
			if err := os.Remove(p); err != nil {
				t.Errorf("clean up %s: %v", p, err)
			}
		}
	})
	return dir
}
