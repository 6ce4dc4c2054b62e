package remedy

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/unbrick/unbrick/bitlocker"
	"github.com/unbrick/unbrick/internal/disk"
	"github.com/unbrick/unbrick/internal/testcorpus"
	"github.com/unbrick/unbrick/internal/undo"
)

// Speed targets (issue #4): fix of a BitLocker corpus disk within key
// derivation + 30 ms; --parallel 2 at 300 images per minute or more.
// BenchmarkUnlockOnly is the floor (open, one 2^20-round stretch, unwrap);
// BenchmarkFixBitLocker minus it is the engine's own cost. Each fix is
// undone from its journal between iterations, outside the timer.

func undoAll(b *testing.B, vols []*Volume) {
	for _, v := range vols {
		if v.JournalFile == "" {
			continue
		}
		j, err := undo.ReadFile(v.JournalFile)
		if err != nil {
			b.Fatal(err)
		}
		f, err := os.OpenFile(v.Target, os.O_RDWR, 0)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := undo.Restore(j, f, v.TargetSize, undo.RestoreOptions{}); err != nil {
			b.Fatal(err)
		}
		f.Close()
		os.Remove(v.JournalFile)
	}
}

func BenchmarkUnlockOnly(b *testing.B) {
	v := oneVariant(b, "win10-xts128-recoverypw")
	img := testcorpus.Disk(b, v.name)
	_, secret := v.unlock()
	t, err := disk.OpenTarget(img, false)
	if err != nil {
		b.Fatal(err)
	}
	defer t.Close()
	c, err := t.Select(v.osPartition())
	if err != nil {
		b.Fatal(err)
	}
	sec := t.Section(c)
	b.ResetTimer()
	for range b.N {
		bl, err := bitlocker.Open(sec, sec.Size())
		if err != nil {
			b.Fatal(err)
		}
		if err := bl.Unlock(bitlocker.RecoveryPassword(secret)); err != nil {
			b.Fatal(err)
		}
	}
}

func benchFix(b *testing.B, name string) {
	v := oneVariant(b, name)
	img := testcorpus.Disk(b, v.name)
	keys := keysOnly(b, v)
	o := Options{Keys: KeyOptions{Typed: keys}, Fix: FixOptions{JournalDir: b.TempDir()}, Parallel: 1}
	b.ResetTimer()
	for range b.N {
		vols := Fix(context.Background(), []string{img}, o)
		if st := volumeOf(b, vols, v).Status; st != StatusRemediated {
			b.Fatalf("status %s: %s", st, volumeOf(b, vols, v).Error)
		}
		b.StopTimer()
		undoAll(b, vols)
		b.StartTimer()
	}
}

func BenchmarkFixBitLocker(b *testing.B) { benchFix(b, "win10-xts128-recoverypw") }
func BenchmarkFixPlain(b *testing.B)     { benchFix(b, "win10-plain-ntfs") }

// BenchmarkFixParallel2 fixes 4 BitLocker disks per iteration with
// Parallel 2 and reports the throughput in images per minute.
func BenchmarkFixParallel2(b *testing.B) {
	v := oneVariant(b, "win10-xts128-recoverypw")
	var imgs []string
	for range 4 {
		imgs = append(imgs, testcorpus.Disk(b, v.name))
	}
	o := Options{Keys: KeyOptions{Typed: keysOnly(b, v)}, Fix: FixOptions{JournalDir: b.TempDir()}, Parallel: 2}
	var busy time.Duration
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		vols := Fix(context.Background(), imgs, o)
		busy += time.Since(start)
		b.StopTimer()
		for _, vol := range vols {
			if vol.Windows && vol.Status != StatusRemediated {
				b.Fatalf("%s: %s %s", vol.Target, vol.Status, vol.Error)
			}
		}
		undoAll(b, vols)
		b.StartTimer()
	}
	b.ReportMetric(float64(len(imgs)*b.N)/busy.Minutes(), "images/min")
}

func keysOnly(tb testing.TB, v variant) []TypedKey {
	k, _ := typedKeys(tb, v)
	return k
}
