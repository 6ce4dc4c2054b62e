package replay

import (
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/unbrick/unbrick/ntfs"
	"github.com/unbrick/unbrick/ntfs/edit"
	"github.com/unbrick/unbrick/ntfs/internal/ntfstest"
	"github.com/unbrick/unbrick/ntfs/logfile"
)

// replayBase makes a fresh mkntfs volume and the ntfslabel change records.
func replayBase(t *testing.T) (string, []ntfstest.LogRecord) {
	chs := oracleChanges(t)
	va, fa := openImage(t, chs[0].a)
	vb, fb := openImage(t, chs[0].b)
	defer fa.Close()
	defer fb.Close()
	change, _ := diffRecords(t, va, vb, 0x18)
	return chs[0].a, change
}

func planReadOnly(t *testing.T, p string) (*ReplayResult, error) {
	f, err := os.Open(p) // read-only: Plan cannot write
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	v, err := ntfs.Open(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	return Plan(v)
}

func TestReplayRefusesUnsupportedOp(t *testing.T) {
	a, change := replayBase(t)
	create := change[0]
	create.Redo, create.Undo = logfile.OpDeleteDirtyClusters, logfile.OpNoop
	p := filepath.Join(t.TempDir(), "v.img")
	replayCopy(t, a, p)
	log, _ := ntfstest.WithCheckpoint(4*4096+0x40, 3, change[0], create, ntfstest.Forget(0x18)).Build()
	installLog(t, p, log)
	before := fileSHA(t, p)
	_, err := planReadOnly(t, p)
	var ue *UnsupportedLogOpError
	if !errors.As(err, &ue) || ue.Op != logfile.OpDeleteDirtyClusters || !strings.Contains(err.Error(), "DeleteDirtyClusters") {
		t.Fatalf("want an error naming DeleteDirtyClusters, got %v", err)
	}
	if fileSHA(t, p) != before {
		t.Fatal("volume changed")
	}
	// The analysis says so too.
	v, f := openImage(t, p)
	defer f.Close()
	an, err := AnalyzeJournal(v)
	if err != nil || an.ReplayPossible || len(an.Unsupported) != 1 || an.Unsupported[0] != "DeleteDirtyClusters" {
		t.Fatalf("analysis %+v, %v", an, err)
	}
	// An uncommitted unsupported record is not redone and does not block.
	replayCopy(t, a, p)
	log, _ = ntfstest.WithCheckpoint(4*4096+0x40, 3, append([]ntfstest.LogRecord{change[0], ntfstest.Forget(0x18)}, func() ntfstest.LogRecord { c := create; c.Tx = 0x40; return c }())...).Build()
	installLog(t, p, log)
	if _, err := planReadOnly(t, p); err != nil {
		t.Fatalf("uncommitted DeleteDirtyClusters: %v", err)
	}
}

func TestReplayRefusesWrongLCN(t *testing.T) {
	a, change := replayBase(t)
	c := change[0]
	c.LCNs = []int64{c.LCNs[0] + 1}
	p := filepath.Join(t.TempDir(), "v.img")
	replayCopy(t, a, p)
	log, _ := ntfstest.WithCheckpoint(4*4096+0x40, 3, c, ntfstest.Forget(0x18)).Build()
	installLog(t, p, log)
	_, err := planReadOnly(t, p)
	var ue *UnsupportedLogOpError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "run list") {
		t.Fatalf("want a refusal naming the run list mismatch, got %v", err)
	}
}

// TestReplayFuzzedLogPages corrupts random bytes of the log pages of a
// journal installed on a real volume: Plan must return a plan or an
// error, never panic, and never change the volume.
func TestReplayFuzzedLogPages(t *testing.T) {
	a, change := replayBase(t)
	p := filepath.Join(t.TempDir(), "v.img")
	rng := rand.New(rand.NewSource(7))
	recs := append(ntfstest.Filler(0x30, 20), ntfstest.Forget(0x30))
	recs = append(append(recs, change...), ntfstest.Forget(0x18))
	good, _ := ntfstest.WithCheckpoint(5*4096+0x40, 3, recs...).Build()
	plans, refusals, agree, oracleRefused, oracleReplayed := 0, 0, 0, 0, 0
	ntfsrecover, _ := exec.LookPath("ntfsrecover")
	for i := 0; i < 40; i++ {
		log := append([]byte(nil), good...)
		var hits []string
		for k := 0; k < 1+rng.Intn(6); k++ {
			// restart pages, tail pages and the pages in use
			page := []int{0, 1, 2, 3, 5, 6, 7}[rng.Intn(7)]
			at := page*4096 + rng.Intn(4096)
			log[at] = byte(rng.Intn(256))
			hits = append(hits, fmt.Sprintf("%#x", at))
		}
		replayCopy(t, a, p)
		installLog(t, p, log)
		before := fileSHA(t, p)
		res, err := planReadOnly(t, p)
		if fileSHA(t, p) != before {
			t.Fatal("Plan changed the volume")
		}
		if err != nil {
			refusals++
			if ntfsrecover != "" {
				x := p + ".x"
				replayCopy(t, p, x)
				if exec.Command(ntfsrecover, x).Run() == nil {
					oracleReplayed++
					t.Logf("journal %d (bytes %v changed): refused, ntfsrecover replayed: %v", i, hits, err)
				}
			}
			continue
		}
		plans++
		// Where we replay, compare with the oracle when it replays too.
		if ntfsrecover == "" {
			continue
		}
		x := p + ".x"
		replayCopy(t, p, x)
		if out, err := exec.Command(ntfsrecover, x).CombinedOutput(); err != nil {
			oracleRefused++
			t.Logf("journal %d (bytes %v changed): we planned %d write(s), ntfsrecover refused: %s", i, hits, len(res.Plan.Writes), lastLine(string(out)))
			continue
		}
		v, f := openImage(t, p)
		if err := edit.Apply(f, res.Plan, edit.ApplyOptions{NoSync: true}); err != nil {
			t.Fatal(err)
		}
		f.Close()
		if fileSHA(t, p) != fileSHA(t, x) {
			t.Errorf("journal %d: replay differs from ntfsrecover", i)
		} else {
			agree++
		}
		_ = v
	}
	t.Logf("40 corrupted journals: %d planned (%d identical to ntfsrecover, %d ntfsrecover refused), %d refused (ntfsrecover replayed %d of those)",
		plans, agree, oracleRefused, refusals, oracleReplayed)
	if oracleRefused > 0 {
		t.Errorf("%d journal(s) ntfsrecover refuses were replayed", oracleRefused)
	}
}

// TestReplayRefusesChangeOutsideAttribute: an UpdateResidentValue whose
// record offset is not an attribute (here the record header) is refused
// rather than written.
func TestReplayRefusesChangeOutsideAttribute(t *testing.T) {
	a, change := replayBase(t)
	c := change[0]
	c.RecOff, c.AttrOff = 0x10, 0
	p := filepath.Join(t.TempDir(), "v.img")
	replayCopy(t, a, p)
	log, _ := ntfstest.WithCheckpoint(4*4096+0x40, 3, c, ntfstest.Forget(0x18)).Build()
	installLog(t, p, log)
	before := fileSHA(t, p)
	_, err := planReadOnly(t, p)
	var ue *UnsupportedLogOpError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "not inside the attribute") {
		t.Fatalf("want a refusal, got %v", err)
	}
	if fileSHA(t, p) != before {
		t.Fatal("volume changed")
	}
}

// The logfile analysis tests (ntfs/logfile) judge their logs with a
// stand-in for replaySupported; this keeps the stand-in honest.
func TestReplaySupportsAnalyzedOps(t *testing.T) {
	for _, op := range []logfile.LogOp{logfile.OpNoop, logfile.OpForgetTransaction, logfile.OpUpdateResidentValue} {
		if !replaySupported(op) {
			t.Errorf("replaySupported(%v) = false", op)
		}
	}
}
