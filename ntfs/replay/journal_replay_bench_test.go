package replay

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/unbrick/unbrick/ntfs"
	"github.com/unbrick/unbrick/ntfs/internal/ntfstest"
	"github.com/unbrick/unbrick/ntfs/logfile"
)

// BenchmarkPlanReplayFullLog measures Plan (read the whole $LogFile,
// group transactions, plan the redo and the clean restart pages) on the
// largest $LogFile mkntfs makes (64 MiB, for a volume of 16 GiB and more,
// as Windows' default for large volumes), filled to about 90 % with
// committed records of one transaction that change nothing on disk, so
// that the cost measured is the log's reading and analysis. Bytes/s are
// $LogFile bytes.
func BenchmarkPlanReplayFullLog(b *testing.B) {
	mkntfs, err := exec.LookPath("mkntfs")
	if err != nil {
		b.Skip("mkntfs (ntfs-3g) not installed")
	}
	img := filepath.Join(b.TempDir(), "big.ntfs")
	f, err := os.Create(img)
	if err != nil {
		b.Fatal(err)
	}
	if err := f.Truncate(16 << 30); err != nil {
		b.Fatal(err)
	}
	f.Close()
	if out, err := exec.Command(mkntfs, "-Q", "-F", "-q", img).CombinedOutput(); err != nil {
		b.Fatalf("mkntfs: %v\n%s", err, out)
	}
	f, err = os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	v, err := ntfs.Open(f, st.Size())
	if err != nil {
		b.Fatal(err)
	}
	lfr, err := v.OpenRef(ntfs.MakeRef(ntfs.RecordLogFile, 0))
	if err != nil {
		b.Fatal(err)
	}
	ra, logSize, err := lfr.AttrReader(ntfs.AttrData, "")
	if err != nil {
		b.Fatal(err)
	}
	// One filler record takes about 0x30 + 0x30 + 200 bytes of log.
	n := int(logSize * 9 / 10 / 296)
	j := &ntfstest.LogGen{Size: logSize, PageSize: 4096, Major: 2, StartSeq: 3,
		Records: append(append([]ntfstest.LogRecord{{Type: logfile.LogRecordCheckpoint, Client: ntfstest.CheckpointClient()}}, ntfstest.Filler(0x30, n)...), ntfstest.Forget(0x30))}
	j.StartOff = j.Geometry().FirstPage + 0x40
	log, _ := j.Build()
	exts, err := ra.(*ntfs.RunReader).Extents(0, len(log))
	if err != nil {
		b.Fatal(err)
	}
	pos := 0
	for _, e := range exts {
		if _, err := f.WriteAt(log[pos:pos+e.Length], e.Offset); err != nil {
			b.Fatal(err)
		}
		pos += e.Length
	}
	v, err = ntfs.Open(f, st.Size())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(logSize)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		res, err := Plan(v)
		if err != nil {
			b.Fatal(err)
		}
		if got := len(res.Analysis.Log.Records); got < n {
			b.Fatalf("%d records read, %d written", got, n)
		}
	}
	b.ReportMetric(float64(n), "records")
}
