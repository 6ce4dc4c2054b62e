package remedy

import (
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/unbrick/unbrick/internal/exitcode"
	"github.com/unbrick/unbrick/internal/testcorpus"
)

func fileSum(t *testing.T, p string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// TestWavesStopAtFailureLimit: a canary wave of two unreadable targets
// passes --max-failures 1: no further target is started (not-started, exit
// 4, no record, not a byte read or written); the same run with a limit of
// 2 fixes them all; a percentage limit counts against all targets.
func TestWavesStopAtFailureLimit(t *testing.T) {
	dir := t.TempDir()
	bad := []string{filepath.Join(dir, "gone-1.img"), filepath.Join(dir, "gone-2.img")}
	var good []string
	for i := 0; i < 3; i++ {
		good = append(good, testcorpus.Disk(t, "win10-plain-ntfs"))
	}
	before := map[string][32]byte{}
	for _, g := range good {
		before[g] = fileSum(t, g)
	}
	targets := append(append([]string(nil), bad...), good...)

	var mu sync.Mutex
	var order []string
	o := Options{Fix: FixOptions{JournalDir: filepath.Join(dir, "j")}, Parallel: 1,
		Waves: Waves{Size: 2, Limited: true, MaxFailures: 1}}
	o.Hooks.Target = func(target string, vols []*Volume) {
		mu.Lock()
		order = append(order, target)
		mu.Unlock()
	}
	l := &logged{}
	o.Hooks.Log = l.log
	vols := Fix(context.Background(), targets, o)
	if len(order) != len(targets) {
		t.Fatalf("Hooks.Target told of %d targets, want %d", len(order), len(targets))
	}
	st := map[string]Status{}
	for _, v := range vols {
		st[v.Target] = v.Status
	}
	for _, b := range bad {
		if st[b] != StatusFailed {
			t.Errorf("%s: %s, want failed", b, st[b])
		}
	}
	for _, g := range good {
		if st[g] != StatusNotStarted {
			t.Errorf("%s: %s, want not-started", g, st[g])
		}
		if fileSum(t, g) != before[g] {
			t.Errorf("%s was written though not started", g)
		}
	}
	for _, r := range l.vols {
		if r.Status == StatusNotStarted {
			t.Error("a not-started target has a fleet log record")
		}
	}
	if ExitCode(vols, false) != exitcode.Failure {
		t.Errorf("exit %d, want 1", ExitCode(vols, false))
	}

	// Limit 2: two failures do not pass it; every good disk is fixed.
	o.Waves.MaxFailures = 2
	vols = Fix(context.Background(), targets, o)
	n := 0
	for _, v := range vols {
		if v.Status == StatusRemediated {
			n++
		}
		if v.Status == StatusNotStarted {
			t.Errorf("%s not started under a limit of 2", v.Target)
		}
	}
	if n != len(good) {
		t.Errorf("%d remediated, want %d", n, len(good))
	}

	// 20 % of 5 targets is 1: the second failure stops the run, whose
	// canary wave is the first two.
	o.Waves = Waves{Size: 2, Limited: true, MaxFailures: 20, Percent: true}
	fresh := testcorpus.Disk(t, "win10-plain-ntfs")
	vols = Fix(context.Background(), []string{bad[0], bad[1], fresh, good[0], good[1]}, o)
	for _, v := range vols {
		if v.Target == fresh && v.Status != StatusNotStarted {
			t.Errorf("20%%: %s is %s, want not-started", fresh, v.Status)
		}
	}
}

// TestInterruptedRunStartsNothing: a cancelled run (Ctrl-C) starts no
// target; on a host it does not claim "no Windows".
func TestInterruptedRunStartsNothing(t *testing.T) {
	g := testcorpus.Disk(t, "win10-plain-ntfs")
	sum := fileSum(t, g)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	l := &logged{}
	o := Options{Fix: FixOptions{JournalDir: filepath.Join(t.TempDir(), "j")}, Parallel: 2}
	o.Hooks.Log = l.log
	o.Identity.OnHost = true
	vols := Fix(ctx, []string{g}, o)
	if len(vols) != 1 || vols[0].Status != StatusNotStarted || len(l.vols) != 0 {
		t.Fatalf("cancelled run: %d volumes (%v), %d records", len(vols), vols, len(l.vols))
	}
	if fileSum(t, g) != sum {
		t.Fatal("a cancelled run wrote the disk")
	}
}

// TestWaveBarrier: with waves of 2 and 2 workers, no target of a wave
// starts before every target of the previous wave is done.
func TestWaveBarrier(t *testing.T) {
	var targets []string
	for i := 0; i < 5; i++ {
		targets = append(targets, filepath.Join(t.TempDir(), "missing.img"))
	}
	var mu sync.Mutex
	var events []string
	o := Options{Parallel: 2, Waves: Waves{Size: 2}}
	o.Hooks.Target = func(target string, vols []*Volume) {
		mu.Lock()
		events = append(events, target)
		mu.Unlock()
	}
	Scan(context.Background(), targets, o)
	pos := map[string]int{}
	for i, e := range events {
		pos[e] = i
	}
	for i, tg := range targets {
		if w := i / 2; w > 0 {
			for j := (w - 1) * 2; j < w*2; j++ {
				if pos[targets[j]] > pos[tg] {
					t.Fatalf("target %d finished before target %d of the previous wave: %v", i, j, events)
				}
			}
		}
	}
}
