package disk

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/unbrick/unbrick/internal/nbd"
)

// Two spellings of one socket path are one export; another export name or
// another socket is not.
func TestNBDLockKey(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "s"), nil, 0o644)
	os.Symlink(dir, filepath.Join(dir, "via"))
	key := func(raw string) string {
		u, err := nbd.ParseURI(raw)
		if err != nil {
			t.Fatal(err)
		}
		return nbdLockKey(u)
	}
	a := key("nbd+unix:///disk?socket=" + filepath.Join(dir, "s"))
	if b := key("nbd+unix:///disk?socket=" + filepath.Join(dir, "via", "s")); a != b {
		t.Errorf("a socket reached through a symlink is another export")
	}
	if b := key("nbd+unix:///other?socket=" + filepath.Join(dir, "s")); a == b {
		t.Errorf("two export names share a lock")
	}
	if key("nbd://Host.Example:10809/d") != key("nbd://host.example:10809/d") {
		t.Errorf("host names differ by case only")
	}
}

// Two runs opening one NBD export for writing: the second is busy until
// the first lets go.
func TestNBDExportLocked(t *testing.T) {
	needQemuNBD(t)
	dir := t.TempDir()
	raw := filepath.Join(dir, "raw.img")
	patternDisk(t, raw, 4<<20)
	sock := filepath.Join(dir, "nbd.sock")
	cmd := exec.Command("qemu-nbd", "--persistent", "--shared=4", "--format=raw", "--socket="+sock, raw)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	uri := "nbd+unix:///?socket=" + sock
	a, err := OpenTarget(uri, true)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := OpenTarget(uri, true)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	unlockA, err := a.Lock()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Lock(); !errors.Is(err, ErrBusy) {
		t.Fatalf("second run on a locked export: %v, want busy", err)
	}
	unlockA()
	unlockB, err := b.Lock()
	if err != nil {
		t.Fatalf("after the first run let go: %v", err)
	}
	unlockB()
}
