package replay

import (
	"os"
	"testing"

	"github.com/unbrick/unbrick/ntfs/logfile"
)

// Oracle test of ZeroEndOfFileRecord (replay_win10.go), the one Windows 10
// operation ntfsrecover implements (its "Win10Action37"): real ntfs-3g
// changes that shrink an MFT record (a named stream removed, a resident
// value shrunk), encoded as before, followed by the ZeroEndOfFileRecord
// Windows 10 logs to clear the bytes the record no longer uses.
func TestReplayOracleZeroEndOfFileRecord(t *testing.T) {
	ntfsrecover := replayNeedTool(t, "ntfsrecover")
	full := os.Getenv("UNBRICK_JOURNAL_ORACLE") == "full"
	cases := []string{"committed", "uncommitted-tail", "already-on-disk"}
	names := []string{"stream-remove"}
	if full {
		cases = append(cases, "spans-pages", "wrap-around", "version-2.0", "committed-then-uncommitted")
		names = append(names, "resident-shrink")
	}
	journals := 0
	for _, ch := range mftChanges(t, names...) {
		change, changed, _ := encodeVolumeChange(t, ch, 0x18)
		vb, fb := openImage(t, ch.b)
		zeroed := 0
		for _, n := range changed {
			b, ok := rawMFTRecord(t, vb, n)
			va, fa := openImage(t, ch.a)
			a, aok := rawMFTRecord(t, va, n)
			fa.Close()
			if !ok || !aok || le32(b, 0x18) >= le32(a, 0x18) {
				continue // the record did not shrink
			}
			used := le32(b, 0x18)
			z := mftRecordOp(vb, n, 0x18, logfile.OpZeroEndOfFileRecord, logfile.OpNoop, used, 0, make([]byte, len(b)-used), nil)
			change = append(change, z)
			zeroed++
		}
		fb.Close()
		if zeroed == 0 {
			t.Fatalf("change %s: no MFT record shrank", ch.name)
		}
		t.Logf("change %s: %d record(s) shrink, %d log records", ch.name, zeroed, len(change))
		for _, tc := range oracleCases {
			if !containsString(cases, tc.name) {
				continue
			}
			journals++
			t.Run(ch.name+"/"+tc.name, func(t *testing.T) {
				oracleRun(t, ntfsrecover, replayCheckTool(), ch, tc, change, changed)
			})
		}
	}
	t.Logf("%d generated journals with ZeroEndOfFileRecord compared with ntfsrecover", journals)
}
