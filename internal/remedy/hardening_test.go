package remedy

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/unbrick/unbrick/internal/disk"
	"github.com/unbrick/unbrick/internal/exitcode"
	"github.com/unbrick/unbrick/internal/testcorpus"
)

// logged collects what Hooks.Log receives.
type logged struct {
	mu   sync.Mutex
	vols []*Volume
	fail int // fail this many calls first
}

func (l *logged) log(v *Volume) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail > 0 {
		l.fail--
		return errors.New("write unbrick.jsonl: no space left on device")
	}
	l.vols = append(l.vols, v)
	return nil
}

// A Windows partition whose NTFS signature lost a byte, or that an image
// cut to 1 MiB no longer holds, is reported and logged as unrecognized
// (exit 5), never dropped; nothing is written.
func TestUnrecognizedWindowsPartitionIsReported(t *testing.T) {
	v := oneVariant(t, "win10-plain-ntfs")
	for _, tc := range []struct {
		name   string
		damage func(img string)
	}{
		{"signature byte changed", func(img string) {
			f, err := os.OpenFile(img, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteAt([]byte{'X'}, 52428800+3)
			f.Close()
		}},
		{"cut to 1 MiB", func(img string) {
			if err := os.Truncate(img, 1<<20); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := testcorpus.Disk(t, v.name)
			tc.damage(img)
			before := fileSHA256(t, img)
			for _, fixMode := range []bool{false, true} {
				o, _ := fixOpts(t, v)
				l := &logged{}
				o.Hooks.Log = l.log
				var vols []*Volume
				if fixMode {
					vols = Fix(context.Background(), []string{img}, o)
				} else {
					vols = Scan(context.Background(), []string{img}, o)
				}
				vol := volumeOf(t, vols, v)
				if vol.Status != StatusUnrecognized || !vol.Record {
					t.Fatalf("fix=%v: partition 3 is %s (record %v): %s", fixMode, vol.Status, vol.Record, vol.Error)
				}
				if !strings.Contains(vol.Error, "may hold Windows") {
					t.Errorf("error does not explain: %s", vol.Error)
				}
				if fixMode {
					if got := ExitCode(vols, false); got != exitcode.NeedsReview {
						t.Errorf("exit %d, want 5", got)
					}
					if len(l.vols) == 0 || l.vols[0].Partition != 3 {
						t.Errorf("no fleet record for partition 3: %d records", len(l.vols))
					}
				} else if got := ExitCode(vols, true); got != exitcode.OK {
					t.Errorf("scan exit %d, want 0", got)
				}
			}
			if fileSHA256(t, img) != before {
				t.Fatal("an unrecognized volume was written")
			}
		})
	}
}

// A target with no Windows system volume is logged as no-windows (exit 5).
func TestNoWindowsTargetIsRecorded(t *testing.T) {
	// The recovery partition of a corpus disk, as a volume image: NTFS
	// without Windows.
	img := recoveryVolume(t)
	o := Options{Fix: FixOptions{JournalDir: filepath.Join(t.TempDir(), "j")}, Parallel: 1}
	l := &logged{}
	o.Hooks.Log = l.log
	vols := Fix(context.Background(), []string{img}, o)
	var nw *Volume
	for _, v := range vols {
		if v.Status == StatusNoWindows {
			nw = v
		}
	}
	if nw == nil {
		for _, v := range vols {
			t.Logf("%d %s %s %s", v.Partition, v.Kind, v.Status, v.Error)
		}
		t.Fatal("no no-windows report")
	}
	if ExitCode(vols, false) != exitcode.NeedsReview || len(l.vols) != 1 || l.vols[0] != nw {
		t.Fatalf("exit %d, %d records", ExitCode(vols, false), len(l.vols))
	}
	if len(nw.Notes) == 0 {
		t.Error("the no-windows report does not say what was found")
	}
	// Booted on a host, the same target alone gives one host-level record.
	o.Identity.OnHost, l.vols = true, nil
	vols = Fix(context.Background(), []string{img}, o)
	if len(l.vols) != 1 || l.vols[0].Target != "host" || l.vols[0].Status != StatusNoWindows {
		t.Fatalf("on host: %d records %v", len(l.vols), vols)
	}
}

// A fleet log that cannot be written after a successful fix keeps the
// truth: the status stays remediated, the record is retried at the end of
// the run, and the exit code is 1 only while it is still missing.
func TestFleetLogFailureKeepsStatus(t *testing.T) {
	v := oneVariant(t, "win10-plain-ntfs")
	for _, fails := range []int{1, 2} {
		img := testcorpus.Disk(t, v.name)
		o, _ := fixOpts(t, v)
		l := &logged{fail: fails}
		o.Hooks.Log = l.log
		vols := fix(t, img, o)
		vol := volumeOf(t, vols, v)
		if vol.Status != StatusRemediated {
			t.Fatalf("fails=%d: status %s (%s)", fails, vol.Status, vol.Error)
		}
		switch fails {
		case 1: // saved on the retry
			if vol.LogError != "" || len(l.vols) != 1 || ExitCode(vols, false) != exitcode.OK {
				t.Fatalf("retry: log error %q, %d records, exit %d", vol.LogError, len(l.vols), ExitCode(vols, false))
			}
		case 2: // still missing
			if !strings.Contains(vol.LogError, "no space") || ExitCode(vols, false) != exitcode.Failure {
				t.Fatalf("missing record: log error %q, exit %d", vol.LogError, ExitCode(vols, false))
			}
		}
	}
}

// A target another run holds is reported busy (exit 4), nothing written.
func TestBusyTargetIsNotWritten(t *testing.T) {
	v := oneVariant(t, "win10-plain-ntfs")
	img := testcorpus.Disk(t, v.name)
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := lockForTest(f); err != nil {
		t.Skipf("no advisory locks here: %v", err)
	}
	before := fileSHA256(t, img)
	o, _ := fixOpts(t, v)
	l := &logged{}
	o.Hooks.Log = l.log
	vols := fix(t, img, o)
	if len(vols) != 1 || vols[0].Status != StatusBusy || ExitCode(vols, false) != exitcode.Refused {
		t.Fatalf("got %v", vols)
	}
	if len(l.vols) != 0 {
		t.Error("a busy target was logged")
	}
	if fileSHA256(t, img) != before {
		t.Fatal("a busy target was written")
	}
	unlockForTest(f)
	if vol := volumeOf(t, fix(t, img, o), v); vol.Status != StatusRemediated {
		t.Fatalf("after release: %s %s", vol.Status, vol.Error)
	}
}

// recoveryVolume copies partition 4 (Windows RE, small NTFS) of a plain
// corpus disk into a volume image of its own.
func recoveryVolume(t *testing.T) string {
	src := testcorpus.Disk(t, "win10-plain-ntfs")
	tg, err := disk.OpenTarget(src, false)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	cands, err := tg.Candidates()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cands {
		if c.Partition == 4 && c.Kind == disk.NTFS {
			b := make([]byte, c.Size)
			if _, err := tg.ReadAt(b, c.Offset); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(t.TempDir(), "recovery.img")
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
			return p
		}
	}
	t.Fatal("no NTFS partition 4")
	return ""
}

// A damaged copy of the FVE metadata is named in scan's and fix's report,
// not only by `bitlocker info`; the volume still opens from a valid copy.
func TestDamagedFVEMetadataCopyIsNoted(t *testing.T) {
	v := oneVariant(t, "win10-xts128-recoverypw")
	img := testcorpus.Disk(t, v.name)
	osOff := int64(v.osVolume()["offset_bytes"].(float64))
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	// The second metadata block's offset is at 0xB8 of the volume header.
	var b [8]byte
	if _, err := f.ReadAt(b[:], osOff+0xB8); err != nil {
		t.Fatal(err)
	}
	second := int64(binary.LittleEndian.Uint64(b[:]))
	f.WriteAt([]byte("XXXXXXXX"), osOff+second) // its "-FVE-FS-" signature
	f.Close()
	o, _ := fixOpts(t, v)
	for _, vols := range [][]*Volume{Scan(context.Background(), []string{img}, o), fix(t, img, o)} {
		vol := volumeOf(t, vols, v)
		found := false
		for _, n := range vol.Notes {
			found = found || strings.Contains(n, "metadata copy 2 of 3 is damaged")
		}
		if !found || vol.BitLocker == nil || vol.BitLocker.MetadataCopies[1] == "valid" {
			t.Fatalf("%s: notes %q", vol.Status, vol.Notes)
		}
	}
}

// A Windows volume that cannot be opened whole (the image ends early in
// it) or read is logged under its own partition, never replaced by a
// no-windows record for the disk.
func TestUnreadableWindowsVolumeIsLogged(t *testing.T) {
	v := oneVariant(t, "win10-plain-ntfs")
	osOff := int64(v.osVolume()["offset_bytes"].(float64))
	for _, cut := range []int64{osOff + 1<<20, osOff + 8<<20} {
		img := testcorpus.Disk(t, v.name)
		if err := os.Truncate(img, cut); err != nil {
			t.Fatal(err)
		}
		o, _ := fixOpts(t, v)
		l := &logged{}
		o.Hooks.Log = l.log
		vols := fix(t, img, o)
		vol := volumeOf(t, vols, v)
		if !vol.Record || vol.Status == StatusNoWindows || vol.Status.ExitCode() == exitcode.OK {
			t.Fatalf("cut at %d: partition 3 %s (record %v): %s", cut, vol.Status, vol.Record, vol.Error)
		}
		found := false
		for _, r := range l.vols {
			found = found || r.Partition == 3
			if r.Status == StatusNoWindows {
				t.Errorf("cut at %d: a no-windows record beside the failed Windows volume", cut)
			}
		}
		if !found {
			t.Errorf("cut at %d: no fleet record for partition 3", cut)
		}
	}
}

// A volume with Windows/System32 whose SYSTEM hive cannot be found is a
// damaged Windows volume: needs-review and logged under its partition.
func TestWindowsWithoutHiveNeedsReview(t *testing.T) {
	v := oneVariant(t, "win10-plain-ntfs")
	img := testcorpus.Disk(t, v.name)
	o, _ := fixOpts(t, v)
	// Rename config/SYSTEM's long name in place: find the name in the
	// config directory's index and change one letter (UTF-16 "SYSTEM").
	data, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	name := []byte{'S', 0, 'Y', 0, 'S', 0, 'T', 0, 'E', 0, 'M', 0}
	n := 0
	for i := 0; i+len(name) <= len(data); i++ {
		if string(data[i:i+len(name)]) == string(name) && i > 52428800 {
			data[i] = 'X'
			n++
		}
	}
	if n == 0 {
		t.Fatal("no SYSTEM name found")
	}
	if err := os.WriteFile(img, data, 0o600); err != nil {
		t.Fatal(err)
	}
	l := &logged{}
	o.Hooks.Log = l.log
	vol := volumeOf(t, fix(t, img, o), v)
	if vol.Status != StatusNeedsReview || !vol.Record || !strings.Contains(vol.Error, "damaged Windows volume") {
		t.Fatalf("%s (record %v): %s", vol.Status, vol.Record, vol.Error)
	}
}
