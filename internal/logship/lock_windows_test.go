//go:build windows

package logship

import (
	"os"
	"path/filepath"
	"testing"
)

// TestTryLockWindows: a second handle on the lock file finds it busy
// until the first one unlocks.
func TestTryLockWindows(t *testing.T) {
	dir, err := os.MkdirTemp("", "logship-lock-")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "sink.lock")
	open := func() *os.File {
		f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	a, b := open(), open()
	defer func() {
		a.Close()
		b.Close()
		os.Remove(p)
		os.Remove(dir)
	}()
	if busy, err := tryLock(a); busy || err != nil {
		t.Fatalf("first tryLock = busy %v, %v; want the lock", busy, err)
	}
	if busy, err := tryLock(b); !busy || err != nil {
		t.Fatalf("second handle's tryLock = busy %v, %v; want busy", busy, err)
	}
	unlock(a)
	if busy, err := tryLock(b); busy || err != nil {
		t.Fatalf("tryLock after unlock = busy %v, %v; want the lock", busy, err)
	}
	unlock(b)
}
