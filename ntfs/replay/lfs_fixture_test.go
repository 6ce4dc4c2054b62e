package replay

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"testing"

	"github.com/unbrick/unbrick/ntfs/internal/ntfstest"
	"github.com/unbrick/unbrick/ntfs/logfile"
)

// TestJournalFixtureWrite regenerates ntfs/testdata/journal/dirty-mixed.img.gz,
// the volume cmd/unbrick's `ntfs journal` test reads, when
// UNBRICK_WRITE_JOURNAL_FIXTURE=1 (needs mkntfs and ntfslabel). Content:
// a mkntfs volume whose $LogFile (version 1.1, clients in use) holds a
// checkpoint, a committed transaction 0x18 encoding a real ntfslabel change
// as UpdateResidentValue records, a committed transaction 0x20 with a
// DeleteDirtyClusters record (an operation unbrick does not redo), and an
// uncommitted transaction 0x40 of Noop records.
func TestJournalFixtureWrite(t *testing.T) {
	if os.Getenv("UNBRICK_WRITE_JOURNAL_FIXTURE") != "1" {
		t.Skip("set UNBRICK_WRITE_JOURNAL_FIXTURE=1 to regenerate the fixture")
	}
	dir := t.TempDir()
	a := filepath.Join(dir, "a.img")
	if err := os.WriteFile(a, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(a, 16<<20); err != nil {
		t.Fatal(err)
	}
	replayRun(t, replayNeedTool(t, "mkntfs"), "-F", "-Q", "-q", "-L", "VOLUMEAA", a)
	b := filepath.Join(dir, "b.img")
	replayCopy(t, a, b)
	replayRun(t, replayNeedTool(t, "ntfslabel"), b, "VOLUMEBB")
	va, fa := openImage(t, a)
	vb, fb := openImage(t, b)
	change, _ := diffRecords(t, va, vb, 0x18)
	fa.Close()
	fb.Close()
	recs := append(change, ntfstest.Forget(0x18),
		ntfstest.LogRecord{Type: logfile.LogRecordStandard, Tx: 0x20, Redo: logfile.OpDeleteDirtyClusters, Undo: logfile.OpNoop, RedoData: make([]byte, 16)},
		ntfstest.Forget(0x20))
	recs = append(recs, ntfstest.Filler(0x40, 2)...)
	log, _ := ntfstest.WithCheckpoint(4*4096+0x40, 3, recs...).Build()
	installLog(t, a, log)
	img, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	w, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if _, err := w.Write(img); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join("..", "testdata", "journal", "dirty-mixed.img.gz")
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d bytes)", out, gz.Len())
}
