package replay

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/unbrick/unbrick/internal/testcorpus"
	"github.com/unbrick/unbrick/ntfs/internal/ntfstest"
	"github.com/unbrick/unbrick/ntfs/logfile"
)

// bitLockerFixtureVariant is the BitLocker corpus disk whose OS volume gets
// a replayable journal in the remediation engine's tests.
const bitLockerFixtureVariant = "win10-xts128-recoverypw"

// TestReplayFixtureWriteBitLocker regenerates
// ntfs/testdata/journal/win10-xts128-recoverypw-label.logfile.gz when
// UNBRICK_WRITE_REPLAY_FIXTURE=1 (needs the corpus, dislocker-file and
// ntfslabel): the $LogFile, version 2.0 as Windows 10 writes it, of the
// BitLocker corpus volume, holding a checkpoint and a committed transaction
// 0x18 that encodes a real ntfslabel change (label all J) of that volume
// as log records. The volume is decrypted by dislocker, not by us, so that
// the journal describes the volume as an independent reader sees it. The
// engine's test (internal/remedy TestDefaultReplayBitLocker) installs it
// through the BitLocker write path and fixes the disk with the default
// policy; regenerate it whenever the corpus is rebuilt.
func TestReplayFixtureWriteBitLocker(t *testing.T) {
	if os.Getenv("UNBRICK_WRITE_REPLAY_FIXTURE") != "1" {
		t.Skip("set UNBRICK_WRITE_REPLAY_FIXTURE=1 to regenerate the fixture")
	}
	dislocker := ntfstest.NeedTool(t, "dislocker-file")
	m := testcorpus.LoadManifest(t)
	v := m.Variant(t, bitLockerFixtureVariant)
	disk := testcorpus.Disk(t, bitLockerFixtureVariant)
	off, _ := ntfstest.OSVolumeGeometry(t, v)
	_, dargs := ntfstest.UnlockArgs(t, v)
	a := filepath.Join(t.TempDir(), "plain.ntfs")
	args := append([]string{"-q", "-r", "-O", strconv.Itoa(int(off)), "-V", disk}, dargs...)
	args = append(args, "--", a)
	if out, err := exec.Command(dislocker, args...).CombinedOutput(); err != nil {
		t.Fatalf("dislocker-file: %v\n%s", err, out)
	}
	change, logSize, _ := labelChange(t, a, 0x18)
	j := &ntfstest.LogGen{Size: logSize, PageSize: 4096, Major: 2, StartSeq: 9,
		Records: append([]ntfstest.LogRecord{{Type: logfile.LogRecordCheckpoint, Client: ntfstest.CheckpointClient()}}, append(change, ntfstest.Forget(0x18))...)}
	j.StartOff = j.Geometry().FirstPage + 0x40
	log, _ := j.Build()

	// The independent reader must see the transaction to replay.
	installLog(t, a, log)
	if p, err := exec.LookPath("ntfsrecover"); err == nil {
		// -k: accept a version 2.0 journal (ntfsrecover calls it Fast Startup).
		out, _ := exec.Command(p, "-n", "-v", "-k", a).CombinedOutput()
		if !strings.Contains(string(out), "Marking transaction 0x18") {
			t.Fatalf("ntfsrecover -n does not see the committed transaction: %s", out)
		}
	}
	n := writeLogFixture(t, bitLockerFixtureVariant+"-label", log)
	t.Logf("wrote the %s fixture (%d bytes, $LogFile %d bytes, version 2.0)", bitLockerFixtureVariant, n, len(log))
}
