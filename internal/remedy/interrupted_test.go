package remedy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/unbrick/unbrick/internal/testcorpus"
	"github.com/unbrick/unbrick/internal/undo"
)

// markerSize is the size of one end marker of an undo journal (tag, count,
// status, SHA-256; internal/undo/doc.go).
const markerSize = 38

// TestFinishInterruptedFix rebuilds, for every k, the state a fix killed
// after its k-th disk write leaves behind (the undo journal complete up to
// its prepared marker, no applied marker; the first k writes on the disk)
// and checks that the next fix finishes it: status remediated, the record
// names the interrupted run, and the disk is byte for byte what the
// uninterrupted fix made. A disk changed since is refused (exit 4) and not
// written.
func TestFinishInterruptedFix(t *testing.T) {
	for _, name := range []string{"win10-plain-ntfs", "win10-xts128-recoverypw"} {
		t.Run(name, func(t *testing.T) {
			v := oneVariant(t, name)
			img := testcorpus.Disk(t, v.name)
			orig, err := os.ReadFile(img)
			if err != nil {
				t.Fatal(err)
			}
			o, _ := fixOpts(t, v)
			full := volumeOf(t, fix(t, img, o), v)
			if full.Status != StatusRemediated {
				t.Fatalf("fix: %s %s", full.Status, full.Error)
			}
			fixed := fileSHA256(t, img)
			jdata, err := os.ReadFile(full.JournalFile)
			if err != nil {
				t.Fatal(err)
			}
			j, err := undo.Parse(jdata)
			if err != nil {
				t.Fatal(err)
			}
			n := len(j.Records)
			if n < 2 || j.Records[0].After == nil {
				t.Fatalf("journal has %d records (after-images %v)", n, j.Records[0].After != nil)
			}
			killed := jdata[:len(jdata)-markerSize] // no applied marker
			ks := []int{0, 1, n / 2, n - 1, n}
			if testing.Short() {
				ks = []int{1, n - 1}
			}
			for _, k := range ks {
				// The image as the killed fix left it.
				if err := os.WriteFile(img, orig, 0o600); err != nil {
					t.Fatal(err)
				}
				f, err := os.OpenFile(img, os.O_RDWR, 0)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range j.Records[:k] {
					if _, err := f.WriteAt(r.After, r.Offset); err != nil {
						t.Fatal(err)
					}
				}
				f.Close()
				o2 := o
				o2.Fix.JournalDir = filepath.Join(t.TempDir(), "journal")
				os.MkdirAll(o2.Fix.JournalDir, 0o700)
				jpath := filepath.Join(o2.Fix.JournalDir, filepath.Base(full.JournalFile))
				if err := os.WriteFile(jpath, killed, 0o600); err != nil {
					t.Fatal(err)
				}
				vol := volumeOf(t, fix(t, img, o2), v)
				if vol.Status != StatusRemediated || vol.FinishedRun != j.Header.RunID {
					t.Fatalf("k=%d: %s (finished %q): %s %v", k, vol.Status, vol.FinishedRun, vol.Error, vol.Notes)
				}
				if got := fileSHA256(t, img); got != fixed {
					t.Fatalf("k=%d: the finished image differs from the uninterrupted fix's", k)
				}
				if jj, err := undo.ReadFile(jpath); err != nil || jj.Incomplete() {
					t.Fatalf("k=%d: journal still incomplete (%v)", k, err)
				}
				// A second fix has nothing left to do.
				if again := volumeOf(t, fix(t, img, o2), v); again.Status != StatusAlreadyClean {
					t.Fatalf("k=%d: second fix: %s %s", k, again.Status, again.Error)
				}
			}

			// Killed after one write, then the disk changed (another tool
			// wrote into a range the fix had not reached): refused.
			if err := os.WriteFile(img, orig, 0o600); err != nil {
				t.Fatal(err)
			}
			f, err := os.OpenFile(img, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteAt(j.Records[0].After, j.Records[0].Offset)
			last := j.Records[n-1]
			junk := make([]byte, len(last.Before))
			for i := range junk {
				junk[i] = 0xA5
			}
			f.WriteAt(junk, last.Offset)
			f.Close()
			o3 := o
			o3.Fix.JournalDir = filepath.Join(t.TempDir(), "journal")
			os.MkdirAll(o3.Fix.JournalDir, 0o700)
			os.WriteFile(filepath.Join(o3.Fix.JournalDir, filepath.Base(full.JournalFile)), killed, 0o600)
			before := fileSHA256(t, img)
			vol := volumeOf(t, fix(t, img, o3), v)
			if vol.Status != StatusRefused || !strings.Contains(vol.Error, "unbrick undo") || !vol.Record {
				t.Fatalf("changed disk: %s: %s", vol.Status, vol.Error)
			}
			if fileSHA256(t, img) != before {
				t.Fatal("a changed disk was written")
			}
		})
	}
}
