package edit

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/unbrick/unbrick/ntfs"
)

func TestNodeTooFullIsRefused(t *testing.T) {
	var es [][]byte
	for i := 0; i < 15; i++ {
		es = append(es, buildIndexEntry(strings.Repeat("n", 60)+string(rune('a'+i)), ntfs.MakeRef(uint64(40+i), 1), 1, -1))
	}
	in, err := ntfs.ParseIndexBlock(buildIndexBlock(2, es, false), true)
	if err != nil {
		t.Fatal(err)
	}
	n := newIxNode(in)
	for n.length() <= n.alloc {
		n.insert(0, bytes.Clone(es[0]))
	}
	_, err = n.serializeBlock()
	var ns *needsSplitError
	if !errors.As(err, &ns) {
		t.Fatalf("over-full node: %v", err)
	}
	if err := wrapSplit(err, "x"); !errors.Is(err, ntfs.ErrRefused) || !strings.Contains(err.Error(), "split") {
		t.Fatalf("wrapSplit: %v", err)
	}
}
