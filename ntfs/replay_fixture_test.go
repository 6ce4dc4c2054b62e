package ntfs

import (
	"os"
	"testing"
)

// TestReplayCorpusFixtureWrite regenerates the $LogFile images the
// remediation engine's replay tests install on the corpus disk
// win10-plain-ntfs (internal/remedy), when UNBRICK_WRITE_REPLAY_FIXTURE=1
// (needs the corpus and ntfslabel):
//   - testdata/journal/win10-plain-label.logfile.gz: version 1.1, clients
//     in use, a checkpoint and a committed transaction 0x18 encoding a real
//     ntfslabel change of the volume label (all J) as log records, as in
//     TestReplayThenDeleteCorpus;
//   - testdata/journal/win10-plain-unsupported.logfile.gz: the same,
//     followed by a committed transaction 0x20 holding a
//     DeleteDirtyClusters record, which PlanReplay does not redo.
//
// Each file is the whole $LogFile data of that volume, gzip-compressed.
func TestReplayCorpusFixtureWrite(t *testing.T) {
	if os.Getenv("UNBRICK_WRITE_REPLAY_FIXTURE") != "1" {
		t.Skip("set UNBRICK_WRITE_REPLAY_FIXTURE=1 to regenerate the fixtures")
	}
	d := loadCorpusDisk(t, "win10-plain-ntfs")
	a := d.extractVolume(t)
	change, logSize, _ := labelChange(t, a, 0x18)
	good := append(append([]genRecord{}, change...), forget(0x18))
	bad := append(append([]genRecord{}, good...),
		genRecord{typ: LogRecordStandard, tx: 0x20, redo: OpDeleteDirtyClusters, undo: OpNoop, redoData: make([]byte, 16)},
		forget(0x20))
	for name, recs := range map[string][]genRecord{"win10-plain-label": good, "win10-plain-unsupported": bad} {
		j := withCheckpoint(4*4096+0x40, 9, recs...)
		j.size = logSize
		log, _ := j.build()
		n := writeLogFixture(t, name, log)
		t.Logf("wrote the %s fixture (%d bytes, $LogFile %d bytes)", name, n, len(log))
	}
}
