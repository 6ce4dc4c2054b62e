package replay

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/unbrick/unbrick/ntfs"
	"github.com/unbrick/unbrick/ntfs/internal/ntfstest"
)

// labelChange encodes a real change of the plain NTFS volume image vol as
// log records of transaction tx: ntfslabel (ntfs-3g) sets the volume label
// to as many Js as it has characters on a copy, and the MFT records that
// differ become the log records Windows would write for them. It returns
// the records (without ForgetTransaction), the size of vol's $LogFile and
// the new label. vol itself is not changed.
func labelChange(t *testing.T, vol string, tx uint32) ([]ntfstest.LogRecord, int64, string) {
	t.Helper()
	changed := ntfstest.CopyFile(t, vol)
	va, fa := openImage(t, vol)
	label := va.Info().Label
	fa.Close()
	if label == "" {
		t.Fatal("the volume has no label to change")
	}
	newLabel := strings.Repeat("J", len(label))
	replayRun(t, replayNeedTool(t, "ntfslabel"), changed, newLabel)
	va, fa = openImage(t, vol)
	defer fa.Close()
	vb, fb := openImage(t, changed)
	defer fb.Close()
	recs, _ := diffRecords(t, va, vb, tx)
	lfr, err := va.OpenRef(ntfs.MakeRef(ntfs.RecordLogFile, 0))
	if err != nil {
		t.Fatal(err)
	}
	_, logSize, err := lfr.AttrReader(ntfs.AttrData, "")
	if err != nil {
		t.Fatal(err)
	}
	return recs, logSize, newLabel
}

// writeLogFixture stores a generated $LogFile image, gzip-compressed, as
// ntfs/testdata/journal/NAME.logfile.gz and returns its compressed size.
func writeLogFixture(t *testing.T, name string, log []byte) int {
	t.Helper()
	var gz bytes.Buffer
	w, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if _, err := w.Write(log); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join("..", "testdata", "journal", name+".logfile.gz")
	if err := os.WriteFile(out, gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return gz.Len()
}
