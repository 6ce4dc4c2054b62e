package disk

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeOverlay writes the first bytes of a qcow2 image naming base as its
// backing file (QEMU's qcow2 header: magic, backing file offset at 8 and
// size at 16, big-endian): all backingFileOf reads.
func fakeOverlay(t *testing.T, path, base string) {
	t.Helper()
	b := make([]byte, 512)
	copy(b, "QFI\xfb")
	binary.BigEndian.PutUint32(b[4:], 3)
	binary.BigEndian.PutUint64(b[8:], 256)
	binary.BigEndian.PutUint32(b[16:], uint32(len(base)))
	copy(b[256:], base)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSnapshotChainManyOverlays: a base with five overlays is refused for
// writing, naming the first three in name order and counting the others,
// and the folder's index keeps those three names, not all five.
func TestSnapshotChainManyOverlays(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "base.raw")
	if err := os.WriteFile(base, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"vm5", "vm1", "vm4", "vm2", "vm3"} {
		fakeOverlay(t, filepath.Join(dir, n+".qcow2"), "base.raw")
	}
	fakeOverlay(t, filepath.Join(dir, "other.qcow2"), "other-base.raw") // no such base: ignored
	fi, err := os.Stat(base)
	if err != nil {
		t.Fatal(err)
	}
	id, ok := identity(fi)
	if !ok {
		t.Skip("no file identity on this system: no snapshot-chain check")
	}
	_, err = OpenTarget(base, true)
	var ue *UnsupportedContainerError
	if !errors.As(err, &ue) || !ue.Unsafe {
		t.Fatalf("writable base: %v, want an unsafe-container refusal", err)
	}
	want := filepath.Join(dir, "vm1.qcow2") + ", " + filepath.Join(dir, "vm2.qcow2") + ", " + filepath.Join(dir, "vm3.qcow2") + " and 2 more are based on it"
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("refusal %q\nwant it to say %q", err, want)
	}
	idx, err := buildChildIndex(dir)
	if err != nil {
		t.Fatal(err)
	}
	if c := idx.children[id]; c == nil || c.n != 5 || len(c.first) != 3 {
		t.Fatalf("index for the base: %+v, want 5 counted and 3 names kept", c)
	}
}
