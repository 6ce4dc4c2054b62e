package ntfs

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/unbrick/unbrick/bitlocker"
	"github.com/unbrick/unbrick/internal/testcorpus"
	"github.com/unbrick/unbrick/ntfs/internal/ntfstest"
)

// TestCorpusBitLockerVolumes reads every BitLocker corpus volume through
// bitlocker.Volume and checks listings against ntfsls run on dislocker's
// independent decryption of the same volume, and contents, mtimes and 8.3
// names against the manifest.
func TestCorpusBitLockerVolumes(t *testing.T) {
	if testing.Short() {
		t.Skip("BitLocker corpus volumes (key stretching, dislocker): skipped in -short")
	}
	dislocker := ntfstest.NeedTool(t, "dislocker-file")
	m := testcorpus.LoadManifest(t)
	for _, name := range corpusVariants(t, m, true) {
		t.Run(name, func(t *testing.T) {
			v := m.Variant(t, name)
			disk := testcorpus.Disk(t, name)
			off, size := ntfstest.OSVolumeGeometry(t, v)
			key, dargs := ntfstest.UnlockArgs(t, v)

			// Witness: dislocker's decryption, as a plain NTFS volume file.
			plain := filepath.Join(t.TempDir(), "dislocker.ntfs")
			args := append([]string{"-q", "-r", "-O", strconv.Itoa(int(off)), "-V", disk}, dargs...)
			args = append(args, "--", plain)
			if out, err := exec.Command(dislocker, args...).CombinedOutput(); err != nil {
				t.Fatalf("dislocker-file: %v\n%s", err, out)
			}

			f, err := os.Open(disk)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			blv, err := bitlocker.Open(io.NewSectionReader(f, off, size), size)
			if err != nil {
				t.Fatalf("bitlocker.Open: %v", err)
			}
			if err := blv.Unlock(key); err != nil {
				t.Fatalf("bitlocker Unlock: %v", err)
			}
			vol, err := Open(blv, blv.Size())
			if err != nil {
				t.Fatalf("ntfs.Open over bitlocker.Volume: %v", err)
			}
			checkVolumeAgainstWitnesses(t, &corpusVolume{variant: v, path: plain, vol: vol})
		})
	}
}
