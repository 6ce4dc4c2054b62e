package disk

import (
	"testing"

	"github.com/unbrick/unbrick/internal/testcorpus"
)

// BenchmarkOpenCandidates: open a corpus GPT disk image and list its
// volumes (what every command does before unlocking).
func BenchmarkOpenCandidates(b *testing.B) {
	img := testcorpus.Disk(b, "win10-xts128-recoverypw")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tg, err := OpenTarget(img, false)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := tg.Select(0, BitLocker); err != nil {
			b.Fatal(err)
		}
		tg.Close()
	}
}
