package disk

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/unbrick/unbrick/internal/testcorpus"
)

// A corpus disk whose OS partition lost its NTFS signature, and the same
// disk cut to 1 MiB, still show a candidate that may hold Windows.
func TestMayHoldWindowsDamagedAndCut(t *testing.T) {
	src := testcorpus.Disk(t, "win10-plain-ntfs")
	dir := t.TempDir()
	flipped := filepath.Join(dir, "flipped.img")
	copyFile(t, src, flipped)
	writeAt(t, flipped, []byte{'X'}, 52428800+3) // "NTFS    " -> "NXFS    "
	cut := filepath.Join(dir, "cut.img")
	copyFile(t, src, cut)
	if err := os.Truncate(cut, 1<<20); err != nil {
		t.Fatal(err)
	}
	// The BitLocker disk with its "-FVE-FS-" signature damaged: its FAT32-
	// like header must not pass for a FAT data volume.
	bl := testcorpus.Disk(t, "win10-xts128-recoverypw")
	blFlipped := filepath.Join(dir, "bl-flipped.img")
	copyFile(t, bl, blFlipped)
	writeAt(t, blFlipped, []byte{'X'}, 52428800+4) // "-FVE-FS-" -> "-XVE-FS-"
	for _, p := range []string{src, flipped, cut, blFlipped} {
		tg, err := OpenTarget(p, false)
		if err != nil {
			t.Fatal(err)
		}
		cands, err := tg.Candidates()
		tg.Close()
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		var may []Candidate
		for _, c := range cands {
			if c.MayHoldWindows() {
				may = append(may, c)
			}
		}
		if p == src {
			if len(may) != 0 {
				t.Errorf("intact disk: %d unrecognized candidates: %v", len(may), may)
			}
			continue
		}
		if len(may) != 1 || may[0].Partition != 3 {
			t.Fatalf("%s: candidates that may hold Windows = %v, want partition 3", filepath.Base(p), may)
		}
		if may[0].Unrecognized() == "" {
			t.Errorf("no explanation")
		}
		t.Logf("%s: %s: %s", filepath.Base(p), may[0], may[0].Unrecognized())
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestMayHoldWindowsByType(t *testing.T) {
	for _, tc := range []struct {
		c    Candidate
		want bool
	}{
		{Candidate{Scheme: SchemeGPT, TypeGUID: gptTypeBasicData, Kind: Other}, true},
		{Candidate{Scheme: SchemeGPT, TypeGUID: gptTypeBasicData, Kind: Empty}, true},
		{Candidate{Scheme: SchemeGPT, TypeGUID: gptTypeBasicData, Kind: FAT}, false},
		{Candidate{Scheme: SchemeGPT, TypeGUID: gptTypeBasicData, Kind: NTFS}, false},
		{Candidate{Scheme: SchemeGPT, TypeGUID: gptTypeESP, Kind: Other}, false},
		{Candidate{Scheme: SchemeGPT, TypeGUID: gptTypeWinRE, Kind: Other}, false},
		{Candidate{Scheme: SchemeGPT, TypeGUID: "0FC63DAF-8483-4772-8E79-3D69D8477DE4", Kind: Other}, false},
		{Candidate{Scheme: SchemeGPT, TypeGUID: "12345678-0000-0000-0000-000000000000", Kind: Other}, true},
		{Candidate{Scheme: SchemeMBR, MBRType: 0x07, Kind: Other}, true},
		{Candidate{Scheme: SchemeMBR, MBRType: 0x83, Kind: Other}, false},
		{Candidate{Scheme: SchemeMBR, MBRType: 0x27, Kind: Other}, false},
		{Candidate{Scheme: SchemeVolume, Kind: Other}, false},
	} {
		if got := tc.c.MayHoldWindows(); got != tc.want {
			t.Errorf("%+v: MayHoldWindows = %v, want %v", tc.c, got, tc.want)
		}
	}
}

func TestOpenTargetFIFODoesNotBlock(t *testing.T) {
	p := filepath.Join(t.TempDir(), "fifo")
	if err := mkfifo(p); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	for _, w := range []bool{false, true} {
		done := make(chan error, 1)
		go func() {
			tg, err := OpenTarget(p, w)
			if tg != nil {
				tg.Close()
			}
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil {
				t.Errorf("writable=%v: a FIFO was accepted as a target", w)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("writable=%v: OpenTarget blocked on a FIFO", w)
		}
	}
}

func TestLockExcludesSecondRun(t *testing.T) {
	p := sparseFile(t, "disk.img", 1<<20)
	a, err := OpenTarget(p, true)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := OpenTarget(p, true)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	unlock, err := a.Lock()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Lock(); !errors.Is(err, ErrBusy) {
		t.Fatalf("second lock: %v, want ErrBusy", err)
	}
	unlock()
	unlockB, err := b.Lock()
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	unlockB()
}
