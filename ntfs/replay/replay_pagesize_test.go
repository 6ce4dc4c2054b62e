package replay

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/unbrick/unbrick/ntfs/internal/mst"
	"github.com/unbrick/unbrick/ntfs/internal/ntfstest"
	"github.com/unbrick/unbrick/ntfs/logfile"
)

// TestReplayRefusesLogPageSizeMismatch: a journal whose log page size
// differs from its system page size is refused before anything is
// written (ntfs3 rejects such a log; ntfsrecover would rewrite its restart
// pages at the wrong place).
func TestReplayRefusesLogPageSizeMismatch(t *testing.T) {
	mkntfs := replayNeedTool(t, "mkntfs")
	p := filepath.Join(t.TempDir(), "v.img")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, 16<<20); err != nil {
		t.Fatal(err)
	}
	replayRun(t, mkntfs, "-F", "-Q", "-q", p)
	log, _ := ntfstest.WithCheckpoint(4*4096+0x40, 3, append(ntfstest.Filler(0x30, 3), ntfstest.Forget(0x30))...).Build()
	for _, off := range []int{0, 4096} {
		pg := log[off : off+4096]
		if err := logfile.UnprotectPage(pg, int(binary.LittleEndian.Uint16(pg[4:])), 9); err != nil {
			t.Fatal(err)
		}
		binary.LittleEndian.PutUint32(pg[0x14:], 2048) // log page size
		if err := mst.ProtectInPlace(pg); err != nil {
			t.Fatal(err)
		}
	}
	installLog(t, p, log)
	before := fileSHA(t, p)
	_, err := planReadOnly(t, p)
	var re *ReplayRefusedError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "log page size 2048 differs from the system page size 4096") {
		t.Fatalf("want a refusal naming the page sizes, got %v", err)
	}
	if fileSHA(t, p) != before {
		t.Fatal("a refused replay changed the volume")
	}
}
