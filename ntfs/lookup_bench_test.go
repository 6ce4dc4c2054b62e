package ntfs

import "testing"

// BenchmarkLookup measures a 5-component path lookup (B-tree descent in
// each directory) on the plain corpus volume.
func BenchmarkLookup(b *testing.B) {
	cv := openPlainCorpus(b, "win10-plain-ntfs")
	for b.Loop() {
		if _, err := cv.vol.Lookup(`Windows\System32\drivers\CrowdStrike\C-00000291-00000000-00000032.sys`); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadDirSystem32 measures the full in-order walk of the 2500-entry,
// 146-block System32 index.
func BenchmarkReadDirSystem32(b *testing.B) {
	cv := openPlainCorpus(b, "win10-plain-ntfs")
	for b.Loop() {
		if _, err := cv.vol.ReadDir("Windows/System32"); err != nil {
			b.Fatal(err)
		}
	}
}
