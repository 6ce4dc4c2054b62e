package replay

import (
	"encoding/binary"
	"errors"
	"math/bits"
	"path/filepath"
	"strings"
	"testing"

	"github.com/unbrick/unbrick/ntfs/internal/ntfstest"
	"github.com/unbrick/unbrick/ntfs/logfile"
)

// TestReplayMemoryLimits: a replay that would hold more of the volume's
// sectors than maxOverlayBytes is refused (*ReplayRefusedError naming
// MaxOverlayBytes), and so is a journal whose restart area gives a size
// above logfile.MaxLogFileSize (the typed *logfile.TooLargeError inside);
// the same journal of its real size, under the real limits, replays.
func TestReplayMemoryLimits(t *testing.T) {
	a, change := replayBase(t)
	p := filepath.Join(t.TempDir(), "v.img")
	replayCopy(t, a, p)
	log, _ := ntfstest.WithCheckpoint(4*4096+0x40, 3, change[0], ntfstest.Forget(0x18)).Build()
	installLog(t, p, log)
	if res, err := planReadOnly(t, p); err != nil || len(res.Redone) == 0 {
		t.Fatalf("under the real limits: %v", err)
	}

	old := maxOverlayBytes
	maxOverlayBytes = 4 << 10 // four sectors, both copies
	_, err := planReadOnly(t, p)
	maxOverlayBytes = old
	var re *ReplayRefusedError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "MaxOverlayBytes") || !strings.Contains(err.Error(), "nothing was written") {
		t.Fatalf("over the sector budget: %v, want a refusal naming MaxOverlayBytes", err)
	}

	// The restart pages claim a 1 GiB journal: refused before a log page
	// is read.
	for _, off := range []int{0, 4096} {
		pg := log[off:]
		ra := int(binary.LittleEndian.Uint16(pg[0x18:]))
		binary.LittleEndian.PutUint32(pg[ra+0x10:], uint32(67-bits.Len64(1<<30)))
		binary.LittleEndian.PutUint64(pg[ra+0x18:], 1<<30)
	}
	installLog(t, p, log)
	before := fileSHA(t, p)
	_, err = planReadOnly(t, p)
	var tl *logfile.TooLargeError
	if !errors.As(err, &re) || !errors.As(err, &tl) || tl.Size != 1<<30 || !strings.Contains(err.Error(), "MaxLogFileSize") {
		t.Fatalf("a 1 GiB journal: %v, want a refusal wrapping *logfile.TooLargeError", err)
	}
	if fileSHA(t, p) != before {
		t.Fatal("a refused replay changed the volume")
	}
}
