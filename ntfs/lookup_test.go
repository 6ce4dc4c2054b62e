package ntfs

import (
	"errors"
	"testing"
	"unicode/utf16"
)

// TestLookupIsDescent shows that a lookup reads one index block per level
// of the 3-level System32 index, not the whole index: the walk reads every
// block the manifest counts (ntfs-3g-made index), a lookup only its path.
func TestLookupIsDescent(t *testing.T) {
	cv := openPlainCorpus(t, "win10-plain-ntfs")
	v := cv.vol
	ov := cv.variant["os_volume"].(map[string]any)["ntfs"].(map[string]any)
	s32 := ov["index_system32"].(map[string]any)
	wantBlocks := int(s32["index_blocks"].(float64))

	dir, err := v.Lookup("Windows/System32")
	if err != nil {
		t.Fatal(err)
	}
	if got := dir.Ref().Record(); got != uint64(s32["inode"].(float64)) {
		t.Fatalf("System32 is record %d, manifest %v", got, s32["inode"])
	}
	ix, err := dir.OpenIndex("$I30")
	if err != nil {
		t.Fatal(err)
	}
	var names [][]uint16
	if err := ix.Walk(func(n *IndexNode, e *IndexEntry) error {
		names = append(names, e.FileName.NameUTF16)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if ix.NodesRead != wantBlocks {
		t.Fatalf("full walk read %d index blocks, manifest says System32 has %d", ix.NodesRead, wantBlocks)
	}
	maxPath, total := 0, 0
	for _, name := range names {
		ix2, err := dir.OpenIndex("$I30")
		if err != nil {
			t.Fatal(err)
		}
		hit, err := ix2.FindName(name)
		if err != nil {
			t.Fatalf("FindName(%q): %v", string(utf16.Decode(name)), err)
		}
		if CollateFileNames(v.Upcase(), hit.Entry.FileName.NameUTF16, name) != 0 {
			t.Fatalf("FindName(%q) found %q", string(utf16.Decode(name)), hit.Entry.FileName.Name)
		}
		if ix2.NodesRead != len(hit.Path)-1 {
			t.Fatalf("lookup read %d blocks for a path of %d nodes", ix2.NodesRead, len(hit.Path))
		}
		maxPath = max(maxPath, ix2.NodesRead)
		total += ix2.NodesRead
	}
	if maxPath < 2 || maxPath > 3 {
		t.Errorf("deepest lookup read %d index blocks; want 2 or 3 for this index (manifest: depth at least 3)", maxPath)
	}
	t.Logf("System32: %d names, %d index blocks; a lookup reads at most %d blocks (mean %.2f)", len(names), wantBlocks, maxPath, float64(total)/float64(len(names)))

	// A miss also costs one path, and says so.
	ix3, err := dir.OpenIndex("$I30")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ix3.FindName(utf16.Encode([]rune("no-such-file.dll"))); !errors.Is(err, ErrNotFound) {
		t.Fatalf("FindName of a missing file: %v, want ErrNotFound", err)
	}
	if ix3.NodesRead > maxPath {
		t.Errorf("a miss read %d index blocks", ix3.NodesRead)
	}
	var st lookupStats
	if _, err := v.lookup("Windows/System32/drivers/CrowdStrike/csagent.sys", &st); err != nil {
		t.Fatal(err)
	}
	t.Logf("lookup of a 5-component path: %d index blocks and %d records read", st.nodesRead, st.records)
}
