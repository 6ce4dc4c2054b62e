// Package inputfiletest checks that a loader refuses the inputs
// internal/inputfile guards against: a character device (/dev/zero), a
// FIFO, a directory and a regular file one byte over the loader's limit
// (sparse, so nothing is written). Each must fail promptly with an error
// that errors.Is the matching inputfile sentinel and names the path.
//
//	inputfiletest.Refused(t, inputfile.MaxRules, func(p string) error {
//		_, err := rules.ParseFile(p, rules.Options{})
//		return err
//	})
package inputfiletest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/unbrick/unbrick/internal/inputfile"
)

// Timeout is how long one load may take before the test calls it blocked.
const Timeout = 5 * time.Second

// Case is one input a loader must refuse.
type Case struct {
	Name string // "device", "fifo", "directory", "oversized"
	Path string
	Want error // inputfile.ErrNotRegular or inputfile.ErrTooLarge
}

// Cases makes the inputs under t.TempDir: /dev/zero (when present), a
// FIFO (when the system can make one), the directory itself, and a
// sparse regular file of limit+1 bytes.
func Cases(t testing.TB, limit int64) []Case {
	t.Helper()
	dir := t.TempDir()
	var cs []Case
	if fi, err := os.Stat("/dev/zero"); err == nil && fi.Mode()&os.ModeDevice != 0 {
		cs = append(cs, Case{"device", "/dev/zero", inputfile.ErrNotRegular})
	}
	fifo := filepath.Join(dir, "fifo")
	if err := mkfifo(fifo); err == nil {
		cs = append(cs, Case{"fifo", fifo, inputfile.ErrNotRegular})
	} else {
		t.Logf("no FIFO case: mkfifo: %v", err)
	}
	sub := filepath.Join(dir, "a-directory")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	cs = append(cs, Case{"directory", sub, inputfile.ErrNotRegular})
	big := filepath.Join(dir, "oversized")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.Truncate(big, limit+1); err != nil {
		t.Fatal(err)
	}
	cs = append(cs, Case{"oversized", big, inputfile.ErrTooLarge})
	return cs
}

// Refused runs load on every case of Cases(t, limit), each in a subtest,
// and fails unless the error wraps the case's sentinel and names its
// path. A load that has not returned after Timeout panics, ending the
// test binary: the stuck goroutine cannot be stopped otherwise, and one
// reading /dev/zero without a limit would exhaust memory.
func Refused(t *testing.T, limit int64, load func(path string) error) {
	t.Helper()
	for _, c := range Cases(t, limit) {
		t.Run(c.Name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() { done <- load(c.Path) }()
			select {
			case err := <-done:
				if !errors.Is(err, c.Want) {
					t.Fatalf("%s: err = %v, want one wrapping %q", c.Path, err, c.Want)
				}
				if !strings.Contains(err.Error(), c.Path) {
					t.Errorf("error does not name the path %s: %v", c.Path, err)
				}
			case <-time.After(Timeout):
				// The load is still blocked on a FIFO or still reading a
				// device (an unbounded read of /dev/zero grows by about
				// 1 GB/s): no goroutine can be stopped, so stop the test
				// binary before it exhausts memory.
				panic(fmt.Sprintf("%s: %s: load did not return within %v (blocked on the %s, or reading it without a limit)", t.Name(), c.Path, Timeout, c.Name))
			}
		})
	}
}
