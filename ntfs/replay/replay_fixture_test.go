package replay

import (
	"os"
	"testing"

	"github.com/unbrick/unbrick/ntfs/internal/ntfstest"
	"github.com/unbrick/unbrick/ntfs/logfile"
)

// TestReplayCorpusFixtureWrite regenerates the $LogFile images the
// remediation engine's replay tests install on the corpus disk
// win10-plain-ntfs (internal/remedy), when UNBRICK_WRITE_REPLAY_FIXTURE=1
// (needs the corpus and ntfslabel):
//   - ntfs/testdata/journal/win10-plain-label.logfile.gz: version 1.1, clients
//     in use, a checkpoint and a committed transaction 0x18 encoding a real
//     ntfslabel change of the volume label (all J) as log records, as in
//     TestReplayThenDeleteCorpus;
//   - ntfs/testdata/journal/win10-plain-unsupported.logfile.gz: the same,
//     followed by a committed transaction 0x20 holding a
//     DeleteDirtyClusters record, which Plan does not redo.
//
// Each file is the whole $LogFile data of that volume, gzip-compressed.
func TestReplayCorpusFixtureWrite(t *testing.T) {
	if os.Getenv("UNBRICK_WRITE_REPLAY_FIXTURE") != "1" {
		t.Skip("set UNBRICK_WRITE_REPLAY_FIXTURE=1 to regenerate the fixtures")
	}
	d := ntfstest.LoadCorpusDisk(t, "win10-plain-ntfs")
	a := d.ExtractVolume(t)
	change, logSize, _ := labelChange(t, a, 0x18)
	good := append(append([]ntfstest.LogRecord{}, change...), ntfstest.Forget(0x18))
	bad := append(append([]ntfstest.LogRecord{}, good...),
		ntfstest.LogRecord{Type: logfile.LogRecordStandard, Tx: 0x20, Redo: logfile.OpDeleteDirtyClusters, Undo: logfile.OpNoop, RedoData: make([]byte, 16)},
		ntfstest.Forget(0x20))
	for name, recs := range map[string][]ntfstest.LogRecord{"win10-plain-label": good, "win10-plain-unsupported": bad} {
		j := ntfstest.WithCheckpoint(4*4096+0x40, 9, recs...)
		j.Size = logSize
		log, _ := j.Build()
		n := writeLogFixture(t, name, log)
		t.Logf("wrote the %s fixture (%d bytes, $LogFile %d bytes)", name, n, len(log))
	}
}
