package disk

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestLockOrderFileAndLoop: a run given an image file and a run given a
// loop device serving it lock the same names in the same order, the file
// first. (Each locking its own name first let the two take one lock each,
// find the other busy and both give up: CI saw a round where neither ran.)
func TestLockOrderFileAndLoop(t *testing.T) {
	img := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(img, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	dev := loopDevice(t, img, "512")
	ft, err := OpenTarget(img, true)
	if err != nil {
		t.Fatal(err)
	}
	defer ft.Close()
	dt, err := OpenTarget(dev, true)
	if err != nil {
		t.Fatal(err)
	}
	defer dt.Close()
	fo, do := ft.lockOrder(), dt.lockOrder()
	if len(fo) < 2 || len(fo) != len(do) {
		t.Fatalf("lock order: file target %q, loop target %q: want the same names, at least the file and %s", fo, do, dev)
	}
	for i := range fo {
		if !sameNode(fo[i], do[i]) {
			t.Fatalf("lock order differs at %d: file target %q, loop target %q", i, fo, do)
		}
	}
	if !sameNode(fo[0], img) {
		t.Fatalf("lock order %q: the image file must come first", fo)
	}

	// Another run holds the file: the run given the loop device is busy
	// and holds nothing afterwards.
	other, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := unix.Flock(int(other.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	if _, err := dt.Lock(); !errors.Is(err, ErrBusy) {
		t.Fatalf("Lock through %s while the image file is held: %v, want ErrBusy", dev, err)
	}
	probe, err := os.Open(dev)
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	if err := unix.Flock(int(probe.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatalf("%s still locked after a busy Lock: %v", dev, err)
	}
	unix.Flock(int(probe.Fd()), unix.LOCK_UN)
	unix.Flock(int(other.Fd()), unix.LOCK_UN)

	unlock, err := dt.Lock()
	if err != nil {
		t.Fatalf("Lock through %s once free: %v", dev, err)
	}
	if _, err := ft.Lock(); !errors.Is(err, ErrBusy) {
		t.Fatalf("Lock of the image file while the loop device run holds the disk: %v, want ErrBusy", err)
	}
	unlock()
	unlock2, err := ft.Lock()
	if err != nil {
		t.Fatalf("Lock of the image file once free: %v", err)
	}
	unlock2()
}
