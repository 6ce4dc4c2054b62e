package replay

import (
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/unbrick/unbrick/ntfs"
	"github.com/unbrick/unbrick/ntfs/edit"
	"github.com/unbrick/unbrick/ntfs/internal/ntfstest"
)

// TestReplayThenDeleteCorpus gives the plain corpus volume an unclean
// journal holding a real committed change (ntfslabel's, made on a copy and
// encoded as log records), shows that the delete refuses the unclean
// volume, replays the journal, deletes the faulty files and runs the corpus
// verifier (which allows the $LogFile change) on the disk. ntfsrecover -n
// must then find nothing to replay.
func TestReplayThenDeleteCorpus(t *testing.T) {
	d := ntfstest.LoadCorpusDisk(t, "win10-plain-ntfs")
	a := d.ExtractVolume(t)
	change, logSize, newLabel := labelChange(t, a, 0x18)
	j := ntfstest.WithCheckpoint(4*4096+0x40, 9, append(change, ntfstest.Forget(0x18))...)
	j.Size = logSize
	log, _ := j.Build()
	installLog(t, a, log)

	v, f := openImage(t, a)
	var re *ntfs.RefusedError
	if _, err := edit.PlanDelete(v, ntfstest.CrowdStrikeDir+"/"+ntfstest.FaultyFiles(t, d)[0], edit.DeleteOptions{}); !errors.As(err, &re) {
		t.Fatalf("delete on the unclean volume: %v, want a refusal", err)
	}
	res, err := Plan(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := edit.Apply(f, res.Plan, edit.ApplyOptions{NoSync: true}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	t.Logf("replay: %s", strings.Join(res.Plan.Notes, "; "))
	sum := 0
	for _, n := range res.RedoneByOp() {
		sum += n
	}
	if sum != len(res.Redone) || res.RedoneByOp()["UpdateResidentValue"] == 0 {
		t.Errorf("RedoneByOp %v for %d redone records", res.RedoneByOp(), len(res.Redone))
	}
	t.Log(res.Summary())
	if v2, f2 := openImage(t, a); v2.Info().Label != newLabel {
		f2.Close()
		t.Fatalf("label after replay %q, want %q", v2.Info().Label, newLabel)
	} else {
		f2.Close()
	}
	if p, err := exec.LookPath("ntfsrecover"); err == nil {
		out, err := exec.Command(p, "-n", "-v", a).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Volume is clean, nothing to do") {
			t.Errorf("ntfsrecover -n after replay: %v: %s", err, lastLine(string(out)))
		}
	}
	for _, g := range ntfstest.FaultyFiles(t, d) {
		deleteWithUs(t, a, ntfstest.CrowdStrikeDir+"/"+g, edit.DeleteOptions{})
	}
	ntfstest.RequireCheckClean(t, a, false, "after replay and delete")
	d.PutVolume(t, a)
	t.Log(ntfstest.VerifyDisk(t, d.Path, d.Variant, "fixed", "--allow-journal-change"))
}
