package remedy

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/unbrick/unbrick/bitlocker"
	"github.com/unbrick/unbrick/internal/disk"
	"github.com/unbrick/unbrick/internal/testcorpus"
)

// TestOpenWritable (moved from cmd/unbrick's TestOpenVolumeWritable)
// writes through Open's plaintext view of a BitLocker partition on a
// whole-disk image, by the one write path (stage, undo journal, commit),
// checks the write with dislocker-file, and checks that a short image is
// refused for writing.
func TestOpenWritable(t *testing.T) {
	img := testcorpus.Disk(t, "win10-xts128-bek-startupkey")
	bek, err := os.ReadFile(testcorpus.Path(t, "src/startup_key.bek"))
	if err != nil {
		t.Fatal(err)
	}
	o, err := Open(OpenRequest{Target: img, Writable: true, Accept: []disk.Kind{disk.BitLocker},
		Keys: KeyOptions{Typed: []TypedKey{{Key: bitlocker.BEK(bek), Source: "--bek"}}}})
	if err != nil {
		t.Fatalf("%s: %v", ErrorStatus(err), err)
	}
	if by, _ := o.BitLocker.UnlockedBy(); o.Candidate.Partition != 3 || by != "B3411A58-3400-420A-8B7E-9B5F706425C0" {
		t.Fatalf("opened %+v by %s", o.Candidate, by)
	}
	data := bytes.Repeat([]byte("unbrick write test "), 1000)[:16384]
	const at = 40 << 20
	if _, err := o.view.WriteAt(data, at); err != nil {
		t.Fatal(err)
	}
	c, err := o.Commit(JournalOptions{Dir: t.TempDir(), RunID: "test"})
	if err != nil || c.Applied != c.Writes || c.Writes == 0 {
		t.Fatalf("commit %+v: %v", c, err)
	}
	o.Close()
	if dis, err := exec.LookPath("dislocker-file"); err == nil {
		out := filepath.Join(t.TempDir(), "dis.img")
		if b, err := exec.Command(dis, "-O", "52428800", "-V", img, "-f", testcorpus.Path(t, "src/startup_key.bek"), "--", out).CombinedOutput(); err != nil {
			t.Fatalf("dislocker-file: %v %s", err, b)
		}
		f, err := os.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(data))
		f.ReadAt(got, at)
		f.Close()
		if !bytes.Equal(got, data) {
			t.Error("dislocker does not read back what Open's view wrote")
		}
	} else if os.Getenv("CI") != "" {
		t.Fatal("dislocker-file not installed")
	}

	// A short image: opens, but is never written.
	src := testcorpus.Decompress(t, "src/recovery_password.bin.gz")
	o, err = Open(OpenRequest{Target: src, Writable: true,
		Keys: KeyOptions{Typed: []TypedKey{{Key: bitlocker.RecoveryPassword("284867-596541-514998-422114-660297-261613-215424-199408"), Source: "typed"}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if err := o.CheckWhole(); ErrorStatus(err) != StatusRefused {
		t.Errorf("writable open of a short image: %v", err)
	}
	if _, err := o.Commit(JournalOptions{Dir: t.TempDir()}); ErrorStatus(err) != StatusRefused {
		t.Errorf("commit on a short image: %v", err)
	}
}
