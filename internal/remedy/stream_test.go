package remedy

import (
	"context"
	"errors"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"weak"

	"github.com/unbrick/unbrick/internal/testcorpus"
)

// TestStreamKeepsNoFinishedTarget: with Options.Stream, each target's
// reports go to Hooks.Target and the engine keeps none of them once the
// target is done: when a target finishes, every report of the targets
// before it has been garbage collected (weak pointers), and the run
// returns only the reports whose fleet log record could not be saved,
// after the end-of-run retry. The same run without Stream keeps them all
// (the check can fail).
func TestStreamKeepsNoFinishedTarget(t *testing.T) {
	dir := t.TempDir()
	var targets []string
	for i := 0; i < 3; i++ {
		targets = append(targets, testcorpus.Disk(t, "win10-plain-ntfs"))
	}
	// Unreadable targets: reported (failed) but never logged.
	targets = append(targets, filepath.Join(dir, "gone-1.img"), filepath.Join(dir, "gone-2.img"))
	stubborn := targets[1] // its record is never saved

	run := func(stream bool, jdir string) (ret []*Volume, leaked []string, told int) {
		var mu sync.Mutex
		var handed []weak.Pointer[Volume]
		var handedTarget []string
		o := Options{Fix: FixOptions{JournalDir: jdir}, Parallel: 1, Stream: stream}
		o.Hooks.Log = func(v *Volume) error {
			if v.Target == stubborn {
				return errors.New("write unbrick.jsonl: no space left on device")
			}
			return nil // keeps nothing
		}
		o.Hooks.Target = func(target string, vols []*Volume) {
			mu.Lock()
			defer mu.Unlock()
			told++
			// Every report handed out before this target must be gone,
			// except those the engine keeps for its retry.
			runtime.GC()
			for i, w := range handed {
				if v := w.Value(); v != nil && v.LogError == "" && !slices.Contains(leaked, handedTarget[i]) {
					leaked = append(leaked, handedTarget[i])
				}
			}
			for _, v := range vols {
				handed = append(handed, weak.Make(v))
				handedTarget = append(handedTarget, target)
			}
		}
		ret = Fix(context.Background(), targets, o)
		return ret, leaked, told
	}

	ret, leaked, told := run(true, filepath.Join(dir, "j1"))
	if told != len(targets) {
		t.Fatalf("Hooks.Target told of %d targets, want %d", told, len(targets))
	}
	if len(leaked) > 0 {
		t.Fatalf("streaming: reports of finished targets still reachable: %v", leaked)
	}
	if len(ret) == 0 {
		t.Fatal("streaming: the report whose record was never saved was not returned")
	}
	for _, v := range ret {
		if v.Target != stubborn || v.LogError == "" {
			t.Errorf("streaming returned %s partition %d (%s, log error %q): only %s's unsaved reports belong there",
				v.Target, v.Partition, v.Status, v.LogError, stubborn)
		}
	}

	// Without Stream: the engine keeps every report (to return them), so
	// the same check finds them. The images are fixed now: already clean.
	ret, leaked, _ = run(false, filepath.Join(dir, "j2"))
	if len(leaked) == 0 {
		t.Fatal("without Stream no report was found reachable: the check cannot tell")
	}
	if len(ret) < len(targets) {
		t.Fatalf("without Stream: %d reports for %d targets", len(ret), len(targets))
	}
}

// TestStreamRetryAndOnHost: a record saved on the end-of-run retry is
// returned with its LogError cleared and a note saying so; Scan with
// Stream returns nothing; on a host (no TARGET) Stream is ignored and
// every report is returned.
func TestStreamRetryAndOnHost(t *testing.T) {
	dir := t.TempDir()
	img := testcorpus.Disk(t, "win10-plain-ntfs")
	gone := filepath.Join(dir, "gone.img")
	l := &logged{fail: 1}
	o := Options{Fix: FixOptions{JournalDir: filepath.Join(dir, "j")}, Parallel: 2, Stream: true}
	o.Hooks.Log = l.log
	var mu sync.Mutex
	told := 0
	o.Hooks.Target = func(string, []*Volume) { mu.Lock(); told++; mu.Unlock() }
	ret := Fix(context.Background(), []string{img, gone}, o)
	if told != 2 {
		t.Fatalf("Hooks.Target told of %d targets, want 2", told)
	}
	if len(ret) != 1 || ret[0].Target != img || ret[0].LogError != "" || ret[0].Status != StatusRemediated ||
		!strings.Contains(strings.Join(ret[0].Notes, "\n"), "saved on a second attempt") {
		t.Fatalf("returned %d reports (%+v), want %s's remediated report, saved on the retry", len(ret), ret, img)
	}
	if ExitCode(ret, false) != 0 {
		t.Errorf("exit %d for a record saved on the retry", ExitCode(ret, false))
	}

	if vols := Scan(context.Background(), []string{img, gone}, Options{Stream: true}); len(vols) != 0 {
		t.Errorf("Scan with Stream returned %d reports, want none (no record to save)", len(vols))
	}

	host := Options{Stream: true, Fix: FixOptions{DryRun: true}}
	host.Identity.OnHost = true
	if vols := Fix(context.Background(), []string{gone}, host); len(vols) != 1 || vols[0].Status != StatusFailed {
		t.Fatalf("on a host with Stream: %d reports %+v, want the failed target's", len(vols), vols)
	}
}
