package remedy

import (
	"os"
	"testing"

	"github.com/unbrick/unbrick/internal/testcorpus"
)

// TestShortImage: an image cut inside the last (recovery) partition still
// fixes its Windows volume; an image cut inside the Windows volume is
// refused, nothing written.
func TestShortImage(t *testing.T) {
	v := oneVariant(t, "win10-plain-ntfs")
	img := testcorpus.Disk(t, v.name)
	osEnd := int64(v.osVolume()["offset_bytes"].(float64) + v.osVolume()["size_bytes"].(float64))

	// Cut 1 MiB into the partition after the OS volume.
	if err := os.Truncate(img, osEnd+1<<20); err != nil {
		t.Fatal(err)
	}
	o, _ := fixOpts(t, v)
	vols := fix(t, img, o)
	if vol := volumeOf(t, vols, v); vol.Status != StatusRemediated {
		t.Fatalf("cut after the OS volume: %s (%s)", vol.Status, vol.Error)
	}

	// Cut the last MiB of the OS volume itself.
	img2 := testcorpus.Disk(t, v.name)
	if err := os.Truncate(img2, osEnd-1<<20); err != nil {
		t.Fatal(err)
	}
	before := fileSHA256(t, img2)
	vols = fix(t, img2, o)
	vol := volumeOf(t, vols, v)
	if vol.Status != StatusRefused || ExitCode(vols, false) != 4 {
		t.Fatalf("cut OS volume: %s exit %d (%s)", vol.Status, ExitCode(vols, false), vol.Error)
	}
	if fileSHA256(t, img2) != before {
		t.Fatal("a short volume was written")
	}
}
