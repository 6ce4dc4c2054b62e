package edit

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/unbrick/unbrick/ntfs"
	"github.com/unbrick/unbrick/ntfs/internal/mst"
)

// buildIndexEntry makes a $I30 index entry for name (namespace ns), with
// a child pointer when child >= 0.
func buildIndexEntry(name string, ref ntfs.FileRef, ns uint8, child int64) []byte {
	u := unitsToBytes(delTestUTF16(name))
	key := make([]byte, 66+len(u))
	binary.LittleEndian.PutUint64(key, uint64(ntfs.MakeRef(5, 5)))
	key[64] = byte(len(u) / 2)
	key[65] = ns
	copy(key[66:], u)
	l := (16 + len(key) + 7) &^ 7
	e := make([]byte, l)
	binary.LittleEndian.PutUint64(e, uint64(ref))
	binary.LittleEndian.PutUint16(e[8:], uint16(l))
	binary.LittleEndian.PutUint16(e[10:], uint16(len(key)))
	copy(e[16:], key)
	if child >= 0 {
		return entSetChild(e, child)
	}
	return e
}

// buildObjIDEntry makes a $O (view index) entry: 16-byte key, 56 bytes
// of data (file reference and three birth GUIDs), child pointer when
// child >= 0.
func buildObjIDEntry(key []byte, ref ntfs.FileRef, child int64) []byte {
	e := make([]byte, 16+16+56)
	binary.LittleEndian.PutUint16(e[0:], 32) // data offset
	binary.LittleEndian.PutUint16(e[2:], 56) // data length
	binary.LittleEndian.PutUint16(e[8:], uint16(len(e)))
	binary.LittleEndian.PutUint16(e[10:], 16)
	copy(e[16:32], key)
	binary.LittleEndian.PutUint64(e[32:], uint64(ref))
	if child >= 0 {
		return entSetChild(e, child)
	}
	return e
}

func buildEndEntry(child int64) []byte {
	e := make([]byte, 16)
	binary.LittleEndian.PutUint16(e[8:], 16)
	binary.LittleEndian.PutUint16(e[12:], ntfs.IndexEntryEnd)
	if child >= 0 {
		return entSetChild(e, child)
	}
	return e
}

// buildIndexBlock makes a protected 4096-byte INDX block holding entries
// (the END entry is added).
func buildIndexBlock(vcn int64, entries [][]byte, node bool) []byte {
	const size = 4096
	b := make([]byte, size)
	copy(b, "INDX")
	binary.LittleEndian.PutUint16(b[4:], 0x28)
	binary.LittleEndian.PutUint16(b[6:], 1+size/512)
	binary.LittleEndian.PutUint64(b[16:], uint64(vcn))
	binary.LittleEndian.PutUint32(b[24:], 0x28) // entries offset (header-relative): after the USA
	binary.LittleEndian.PutUint32(b[24+8:], size-24)
	if node {
		b[24+12] = ntfs.IndexNodeHasChildren
	}
	off := 24 + 0x28
	end := int64(-1)
	if node {
		end = 99
	}
	for _, e := range append(entries, buildEndEntry(end)) {
		off += copy(b[off:], e)
	}
	binary.LittleEndian.PutUint32(b[24+4:], uint32(off-24))
	out, _, err := mst.Protect(b, 0x28, 1+size/512, 1)
	if err != nil {
		panic(err)
	}
	return out
}

func TestEntryChildPointerHelpers(t *testing.T) {
	e := buildIndexEntry("kernel32.dll", ntfs.MakeRef(70, 3), 1, -1)
	c := entSetChild(e, 42)
	if !entHasChild(c) || entChild(c) != 42 || entLen(c) != len(e)+8 || entRef(c) != ntfs.MakeRef(70, 3) {
		t.Fatalf("entSetChild: %x", c)
	}
	if d := entDropChild(c); !bytes.Equal(d, e) {
		t.Fatalf("entDropChild does not undo entSetChild")
	}
	if got := string(unitsToBytes(entName(c))); got != string(unitsToBytes(delTestUTF16("kernel32.dll"))) {
		t.Fatalf("entName %q", got)
	}
}

func TestMSTProtectRoundTrip(t *testing.T) {
	blk := buildIndexBlock(7, [][]byte{buildIndexEntry("a.dll", ntfs.MakeRef(30, 1), 1, -1)}, false)
	clean := append([]byte(nil), blk...)
	n, err := ntfs.ParseIndexBlock(clean, true)
	if err != nil {
		t.Fatal(err)
	}
	again, usn, err := mst.Protect(n.Raw, n.USAOffset, n.USACount, n.USN)
	if err != nil {
		t.Fatal(err)
	}
	if usn != n.USN+1 {
		t.Fatalf("USN %d -> %d", n.USN, usn)
	}
	for i := 0; i < 8; i++ {
		if binary.LittleEndian.Uint16(again[i*512+510:]) != usn {
			t.Fatalf("stride %d tail not stamped", i)
		}
	}
	if _, err := ntfs.ParseIndexBlock(again, true); err != nil {
		t.Fatalf("re-protected block does not parse: %v", err)
	}
	if mst.NextUSN(0xFFFE) != 1 || mst.NextUSN(0xFFFF) != 1 || mst.NextUSN(5) != 6 {
		t.Fatal("nextUSN does not skip 0 and 0xFFFF")
	}
}

// FuzzIndexEdit takes an INDX block (valid seeds, mutated by the fuzzer)
// of a $I30 index or, with view set, of a view index ($ObjId:$O: a real
// block ntfs-3g made and built ones), parses it with the read side,
// applies the edit primitives the delete uses (remove an entry, move a key
// in with or without child pointer, drop and set child pointers) and
// serializes it. The result must be a block the read side parses back to
// exactly the edited entries, or a needs-split refusal: never a panic,
// never a corrupt block. For a view block, the key and data accessors and
// the COLLATION_NTOFS_ULONGS comparison of every key with the inserted one
// must not panic, and the comparison must be antisymmetric.
func FuzzIndexEdit(f *testing.F) {
	var leaf, node, oleaf, onode [][]byte
	for i := 0; i < 20; i++ {
		leaf = append(leaf, buildIndexEntry(fmt.Sprintf("api-ms-win-core-file-l1-%d-0.dll", i), ntfs.MakeRef(uint64(100+i), 1), 1, -1))
		node = append(node, buildIndexEntry(fmt.Sprintf("node-%02d.sys", i), ntfs.MakeRef(uint64(300+i), 2), 0, int64(i)))
		key := make([]byte, 16)
		binary.LittleEndian.PutUint32(key, uint32(i)<<24|uint32(i))
		oleaf = append(oleaf, buildObjIDEntry(key, ntfs.MakeRef(uint64(500+i), 1), -1))
		onode = append(onode, buildObjIDEntry(key, ntfs.MakeRef(uint64(600+i), 3), int64(i)))
	}
	f.Add(buildIndexBlock(3, leaf, false), uint8(4), uint8(0), []byte("C-0000~4.SYS"), false)
	f.Add(buildIndexBlock(9, node[:6], true), uint8(2), uint8(1), []byte("C-00000291-00000000-00000032.sys"), false)
	f.Add(buildIndexBlock(1, leaf[:1], false), uint8(0), uint8(2), []byte("x"), false)
	f.Add(seed(f, "indx-objid.bin"), uint8(5), uint8(0), []byte("0123456789abcdef"), true)
	f.Add(seed(f, "indx-objid.bin"), uint8(7), uint8(1), []byte("\xff\xff\xff\x7f"), true)
	f.Add(buildIndexBlock(2, oleaf, false), uint8(3), uint8(1), []byte("\x00\x00\x00\x05"), true)
	f.Add(buildIndexBlock(4, onode[:5], true), uint8(1), uint8(2), []byte("k"), true)
	f.Fuzz(func(t *testing.T, blk []byte, at uint8, op uint8, name []byte, view bool) {
		if len(blk) > 4096 {
			return
		}
		// Any shorter input is the start of a block: the mutator keeps
		// exploring instead of throwing away every length-changing edit.
		full := make([]byte, 4096)
		copy(full, blk)
		in, err := ntfs.ParseIndexBlock(full, !view)
		if err != nil {
			return
		}
		n := newIxNode(in)
		i := int(at) % len(n.entries)
		var key []byte
		if view {
			k := make([]byte, 16)
			copy(k, name)
			key = buildObjIDEntry(k, ntfs.MakeRef(77, 7), -1)
			for _, e := range n.entries {
				if entIsEnd(e) {
					continue
				}
				entData(e)
				if ek := entKey(e); len(ek) == 16 {
					c1, err1 := ntfs.CollateULongs(k, ek)
					c2, err2 := ntfs.CollateULongs(ek, k)
					if err1 != nil || err2 != nil || c1 != -c2 || (c1 == 0) != bytes.Equal(k, ek) {
						t.Fatalf("CollateULongs(%x, %x) = %d, %v; reversed %d, %v", k, ek, c1, err1, c2, err2)
					}
				} else if _, err := ntfs.CollateULongs(k, ek); err == nil {
					t.Fatalf("CollateULongs accepts a %d-byte key against a 16-byte one", len(ek))
				}
			}
		} else {
			if len(name) == 0 || len(name) > 255 {
				name = []byte("fuzz")
			}
			key = buildIndexEntry(string(bytes.ToValidUTF8(name, []byte("?"))), ntfs.MakeRef(77, 7), 1, -1)
		}
		switch op % 4 {
		case 0:
			if !entIsEnd(n.entries[i]) {
				n.remove(i)
			}
		case 1:
			if n.flags&ntfs.IndexNodeHasChildren != 0 {
				key = entSetChild(key, 5)
			}
			n.insert(i, key)
		case 2:
			if n.flags&ntfs.IndexNodeHasChildren != 0 {
				n.entries[i] = entSetChild(n.entries[i], 11)
			}
		case 3:
			if n.flags&ntfs.IndexNodeHasChildren == 0 && !entIsEnd(n.entries[i]) {
				n.entries[i] = entDropChild(n.entries[i])
			}
		}
		want := append([][]byte(nil), n.entries...)
		out, err := n.serializeBlock()
		var ns *needsSplitError
		if errors.As(err, &ns) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		prot, _, err := mst.Protect(out, n.usaOff, n.usaCount, n.usn)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ntfs.ParseIndexBlock(prot, !view)
		if err != nil {
			t.Fatalf("edited block does not parse: %v", err)
		}
		if len(back.Entries) != len(want) {
			t.Fatalf("%d entries back, %d written", len(back.Entries), len(want))
		}
		for k, e := range back.Entries {
			if !bytes.Equal(back.Raw[e.Offset:e.Offset+e.Length], want[k]) {
				t.Fatalf("entry %d differs after the round trip", k)
			}
		}
	})
}

// TestCollateULongs: COLLATION_NTOFS_ULONGS compares little-endian 32-bit
// words in order, which is not the order of the bytes.
func TestCollateULongs(t *testing.T) {
	k := func(words ...uint32) []byte {
		b := make([]byte, 4*len(words))
		for i, w := range words {
			binary.LittleEndian.PutUint32(b[4*i:], w)
		}
		return b
	}
	for _, c := range []struct {
		a, b []byte
		want int
	}{
		{k(1, 0, 0, 0), k(2, 0, 0, 0), -1},
		{k(0x100, 0, 0, 0), k(0x01, 0, 0, 0), 1}, // bytes 00 01.. vs 01 00..: byte order says less
		{k(0xFFFFFFFF, 0, 0, 0), k(0x7FFFFFFF, 9, 9, 9), 1},
		{k(5, 6, 7, 8), k(5, 6, 7, 9), -1},
		{k(5, 6, 7, 8), k(5, 6, 7, 8), 0},
	} {
		got, err := ntfs.CollateULongs(c.a, c.b)
		if err != nil || got != c.want {
			t.Errorf("CollateULongs(%x, %x) = %d, %v; want %d", c.a, c.b, got, err, c.want)
		}
	}
	for _, bad := range [][2][]byte{{k(1), k(1, 2)}, {nil, nil}, {[]byte{1, 2, 3}, []byte{1, 2, 3}}} {
		var fe *ntfs.FormatError
		if _, err := ntfs.CollateULongs(bad[0], bad[1]); !errors.Is(err, ntfs.ErrCorrupt) {
			t.Errorf("CollateULongs(%x, %x): err %v, want ErrCorrupt", bad[0], bad[1], err)
		} else if !errors.As(err, &fe) || fe.Field != "key length" {
			t.Errorf("CollateULongs(%x, %x): err %#v, want a *FormatError on the key length", bad[0], bad[1], fe)
		}
	}
	if g := formatGUID([]byte{0x59, 0xee, 0xec, 0x43, 0xb3, 0xe2, 0xdc, 0x11, 0xad, 0x7e, 0, 0x1c, 0x25, 0x82, 0x59, 0x8f}); g != "43ecee59-e2b3-11dc-ad7e-001c2582598f" {
		t.Errorf("formatGUID: %s", g)
	}
}

// seed reads a fuzz seed from ntfs/testdata (the read side's fuzz tests
// have the same helper).
func seed(f *testing.F, name string) []byte {
	b, err := os.ReadFile(filepath.Join("..", "testdata", name))
	if err != nil {
		f.Fatal(err)
	}
	return b
}
