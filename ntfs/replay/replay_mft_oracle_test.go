package replay

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"

	"github.com/unbrick/unbrick/internal/testcorpus"
	"github.com/unbrick/unbrick/ntfs"
	"github.com/unbrick/unbrick/ntfs/internal/ntfstest"
	"github.com/unbrick/unbrick/ntfs/logfile"
)

// Oracle tests of the MFT-record operations (replay_mft.go): real file
// creation, deletion and named-stream changes made through the ntfs-3g
// driver, encoded as the operations Windows logs for them
// (InitializeFileRecordSegment, DeallocateFileRecordSegment,
// CreateAttribute, DeleteAttribute, AddIndexEntryRoot,
// DeleteIndexEntryRoot, UpdateResidentValue, Set/ClearBits on $MFT's
// bitmap and $Bitmap), replayed by ntfsrecover and by unbrick.

// rawMFTRecord reads record n with its fixups removed; ok is false when it
// is not a FILE record with valid fixups.
func rawMFTRecord(t *testing.T, v *ntfs.Volume, n uint64) ([]byte, bool) {
	b := make([]byte, v.Boot().RecordSize)
	if n >= v.MFTRecords() {
		return b, false // past the end of $MFT's data
	}
	exts, err := v.RecordExtents(n)
	if err != nil {
		t.Fatal(err)
	}
	at := 0
	for _, e := range exts {
		if _, err := v.Device().ReadAt(b[at:at+e.Length], e.Offset); err != nil {
			t.Fatal(err)
		}
		at += e.Length
	}
	if _, _, _, err := applyFixups(b, "record"); err != nil || string(b[:4]) != "FILE" {
		return b, false
	}
	return b, true
}

func le16(b []byte, o int) int { return int(binary.LittleEndian.Uint16(b[o:])) }
func le32(b []byte, o int) int { return int(binary.LittleEndian.Uint32(b[o:])) }

type rawAttr struct {
	off, length int
	typ         uint32
	inst        uint16
}

func rawAttrs(b []byte) []rawAttr {
	var out []rawAttr
	for k := le16(b, 0x14); k+8 <= len(b); {
		typ := binary.LittleEndian.Uint32(b[k:])
		if typ == 0xFFFFFFFF {
			break
		}
		l := le32(b, k+4)
		out = append(out, rawAttr{off: k, length: l, typ: typ, inst: uint16(le16(b, k+0x0E))})
		k += l
	}
	return out
}

// mftRecordOp builds a log record acting on MFT record n.
func mftRecordOp(v *ntfs.Volume, n uint64, tx uint32, redo, undo logfile.LogOp, recOff, attrOff int, redoData, undoData []byte) ntfstest.LogRecord {
	cs, rs := int64(v.Boot().ClusterSize), int64(v.Boot().RecordSize)
	off := int64(n) * rs
	return ntfstest.LogRecord{Type: logfile.LogRecordStandard, Tx: tx, Redo: redo, Undo: undo,
		RedoData: redoData, UndoData: undoData,
		LCNs: []int64{v.Boot().MFTLCN + off/cs}, VCN: off / cs, ClusterIdx: uint16(off % cs / 512),
		RecOff: uint16(recOff), AttrOff: uint16(attrOff)}
}

// encodeMFTChange encodes the difference between A's and B's record n.
func encodeMFTChange(t *testing.T, va, vb *ntfs.Volume, n uint64, tx uint32) []ntfstest.LogRecord {
	a, aok := rawMFTRecord(t, va, n)
	b, bok := rawMFTRecord(t, vb, n)
	aUse := aok && le16(a, 0x16)&ntfs.RecordInUse != 0
	bUse := bok && le16(b, 0x16)&ntfs.RecordInUse != 0
	switch {
	case !aUse && !bUse:
		return nil
	case !aUse && bUse:
		return []ntfstest.LogRecord{mftRecordOp(va, n, tx, logfile.OpInitializeFileRecordSegment, logfile.OpNoop, 0, 0, clone(b[:le32(b, 0x18)]), nil)}
	case aUse && !bUse:
		return []ntfstest.LogRecord{mftRecordOp(va, n, tx, logfile.OpDeallocateFileRecordSegment, logfile.OpInitializeFileRecordSegment, 0, 0, nil, clone(a[:le32(a, 0x18)]))}
	}
	if bytes.Equal(a[0x10:0x28], b[0x10:0x28]) && bytes.Equal(a[0x30:le32(a, 0x18)], b[0x30:le32(b, 0x18)]) {
		return nil
	}
	aa, ba := rawAttrs(a), rawAttrs(b)
	key := func(x rawAttr) [2]uint32 { return [2]uint32{x.typ, uint32(x.inst)} }
	inB := map[[2]uint32]rawAttr{}
	for _, x := range ba {
		inB[key(x)] = x
	}
	inA := map[[2]uint32]rawAttr{}
	for _, x := range aa {
		inA[key(x)] = x
	}
	var out []ntfstest.LogRecord
	// 1. same-length resident attributes: value updates, on A's layout;
	// in an index root, a changed file name key's duplicated information
	// is an UpdateFileNameRoot.
	for _, x := range aa {
		y, ok := inB[key(x)]
		if !ok || x.length != y.length || a[x.off+8] != 0 {
			continue
		}
		dup := map[int]bool{}
		if x.typ == uint32(ntfs.AttrIndexRoot) && le32(a, x.off+le16(a, x.off+0x14)) == 0x30 {
			ea, eb := rootEntries(a, x.off), rootEntries(b, y.off)
			for i := range min(len(ea), len(eb)) {
				e := ea[i][0]
				if ea[i] != eb[i] || le16(a, x.off+e+12)&2 != 0 {
					continue
				}
				d := x.off + e + 0x18
				if !bytes.Equal(a[d:d+0x38], b[d:d+0x38]) {
					out = append(out, mftRecordOp(va, n, tx, logfile.OpUpdateFileNameRoot, logfile.OpUpdateFileNameRoot, x.off, e,
						clone(b[d:d+0x38]), clone(a[d:d+0x38])))
				}
				for k := e + 0x18; k < e+0x50; k++ {
					dup[k] = true
				}
			}
		}
		lo, hi := -1, -1
		for k := 0; k < x.length; k++ {
			if !dup[k] && a[x.off+k] != b[y.off+k] {
				if lo < 0 {
					lo = k
				}
				hi = k + 1
			}
		}
		if lo >= 0 {
			out = append(out, mftRecordOp(va, n, tx, logfile.OpUpdateResidentValue, logfile.OpUpdateResidentValue, x.off, lo,
				clone(b[y.off+lo:y.off+hi]), clone(a[x.off+lo:x.off+hi])))
		}
	}
	// Size changes so far, by the A offset they happen at: an attribute
	// at A offset o is now at o + the changes before it.
	type event struct{ at, delta int }
	var events []event
	now := func(o int) int {
		for _, e := range events {
			if e.at < o {
				o += e.delta
			}
		}
		return o
	}
	// 2. deleted attributes, last first.
	for i := len(aa) - 1; i >= 0; i-- {
		x := aa[i]
		if _, ok := inB[key(x)]; ok {
			continue
		}
		out = append(out, mftRecordOp(va, n, tx, logfile.OpDeleteAttribute, logfile.OpCreateAttribute, now(x.off), 0, nil, clone(a[x.off:x.off+x.length])))
		events = append(events, event{x.off, -x.length})
	}
	// 3. kept attributes that changed shape, in A's order.
	for _, x := range aa {
		y, ok := inB[key(x)]
		if !ok {
			continue
		}
		off := now(x.off)
		switch {
		case a[x.off+8] != 0 && b[y.off+8] != 0:
			// Non-resident: sizes and mapping pairs (what Windows
			// logs when a file's allocation changes).
			ro := le16(a, x.off+0x20)
			if ro != le16(b, y.off+0x20) {
				t.Fatalf("record %d: attribute %#x mapping pairs moved", n, x.typ)
			}
			sizes := func(r []byte, o int) []byte {
				s := make([]byte, 24)
				copy(s[0:], r[o+0x28:o+0x30])  // allocated
				copy(s[8:], r[o+0x38:o+0x40])  // valid (initialized)
				copy(s[16:], r[o+0x30:o+0x38]) // file (data) size
				return s
			}
			if sa, sb := sizes(a, x.off), sizes(b, y.off); !bytes.Equal(sa, sb) {
				out = append(out, mftRecordOp(va, n, tx, logfile.OpSetNewAttributeSizes, logfile.OpSetNewAttributeSizes, off, 0, sb, sa))
			}
			// (sizes first: ntfs-3g checks new mapping pairs against
			// the allocated size)
			ma, mb := a[x.off+ro:x.off+x.length], b[y.off+ro:y.off+y.length]
			if !bytes.Equal(ma, mb) {
				out = append(out, mftRecordOp(va, n, tx, logfile.OpUpdateMappingPairs, logfile.OpUpdateMappingPairs, off, ro, clone(mb), clone(ma)))
			}
		case x.length == y.length:
			continue
		case x.typ != uint32(ntfs.AttrIndexRoot) || !rootChangeByOneEntry(a, x.off, b, y.off):
			// A resident value of another length, the rest of the
			// header unchanged: one UpdateResidentValue of the whole
			// value (what Windows logs when a small file's data
			// changes size; an index root that moved its entries
			// into a new index block is rewritten the same way).
			vo := le16(a, x.off+0x14)
			if a[x.off+8] != 0 || vo != le16(b, y.off+0x14) || !bytes.Equal(a[x.off+8:x.off+0x10], b[y.off+8:y.off+0x10]) {
				t.Fatalf("record %d: attribute %#x changed length %d -> %d: not encodable here", n, x.typ, x.length, y.length)
			}
			av := a[x.off+vo : x.off+vo+le32(a, x.off+0x10)]
			bv := b[y.off+vo : y.off+vo+le32(b, y.off+0x10)]
			out = append(out, mftRecordOp(va, n, tx, logfile.OpUpdateResidentValue, logfile.OpUpdateResidentValue, off, vo, clone(bv), clone(av)))
		default:
			// An index root that grew or shrank by one entry; sub-node
			// VCNs of kept entries that changed (a split below) are
			// SetIndexEntryVcnRoot records on A's layout, first.
			ea, eb := rootEntries(a, x.off), rootEntries(b, y.off)
			// Entries are matched by file reference in a file name
			// index, by their key in a view index ($SDH, $SII...).
			i30 := le32(a, x.off+le16(a, x.off+0x14)) == 0x30
			ekey := func(r []byte, o int, e [2]int) string {
				if le16(r, o+e[0]+12)&2 != 0 {
					return "end"
				}
				if i30 {
					return string(r[o+e[0] : o+e[0]+8])
				}
				return string(r[o+e[0]+16 : o+e[0]+16+le16(r, o+e[0]+10)])
			}
			inBE := map[string][2]int{}
			for _, e := range eb {
				inBE[ekey(b, y.off, e)] = e
			}
			for _, e := range ea {
				f, ok := inBE[ekey(a, x.off, e)]
				if !ok || le16(a, x.off+e[0]+12)&1 == 0 || le16(b, y.off+f[0]+12)&1 == 0 {
					continue
				}
				va8, vb8 := a[x.off+e[1]-8:x.off+e[1]], b[y.off+f[1]-8:y.off+f[1]]
				if !bytes.Equal(va8, vb8) {
					out = append(out, mftRecordOp(va, n, tx, logfile.OpSetIndexEntryVcnRoot, logfile.OpSetIndexEntryVcnRoot, off, e[0], clone(vb8), clone(va8)))
				}
			}
			i := 0
			for i < len(ea) && i < len(eb) && ekey(a, x.off, ea[i]) == ekey(b, y.off, eb[i]) {
				i++
			}
			switch {
			case len(eb) == len(ea)+1:
				e := b[y.off+eb[i][0] : y.off+eb[i][1]]
				out = append(out, mftRecordOp(va, n, tx, logfile.OpAddIndexEntryRoot, logfile.OpDeleteIndexEntryRoot, off, ea[i][0], clone(e), nil))
			case len(ea) == len(eb)+1:
				e := a[x.off+ea[i][0] : x.off+ea[i][1]]
				out = append(out, mftRecordOp(va, n, tx, logfile.OpDeleteIndexEntryRoot, logfile.OpAddIndexEntryRoot, off, ea[i][0], nil, clone(e)))
			default:
				t.Fatalf("record %d: index root went from %d to %d entries", n, len(ea), len(eb))
			}
		}
		if y.length != x.length {
			events = append(events, event{x.off, y.length - x.length})
		}
	}
	// 4. new attributes, in order of their instance numbers (the order
	// they were made in, which keeps the record's next instance number
	// moving one by one), each at its B offset less the B attributes
	// before it not yet created.
	var fresh []rawAttr
	for _, y := range ba {
		if _, ok := inA[key(y)]; !ok {
			fresh = append(fresh, y)
		}
	}
	made := map[int]bool{}
	byInst := append([]rawAttr(nil), fresh...)
	sort.Slice(byInst, func(i, j int) bool { return byInst[i].inst < byInst[j].inst })
	for _, y := range byInst {
		off := y.off
		for _, z := range fresh {
			if z.off < y.off && !made[z.off] {
				off -= z.length
			}
		}
		made[y.off] = true
		out = append(out, mftRecordOp(va, n, tx, logfile.OpCreateAttribute, logfile.OpDeleteAttribute, off, 0, clone(b[y.off:y.off+y.length]), nil))
	}
	return out
}

// rootChangeByOneEntry reports whether the index root at A offset ao
// became the one at B offset bo by adding or removing one entry, its
// index header flags unchanged.
func rootChangeByOneEntry(a []byte, ao int, b []byte, bo int) bool {
	ea, eb := rootEntries(a, ao), rootEntries(b, bo)
	ha, hb := ao+le16(a, ao+0x14)+16, bo+le16(b, bo+0x14)+16
	return (len(ea) == len(eb)+1 || len(eb) == len(ea)+1) && a[ha+12] == b[hb+12]
}

// rootEntries lists the index entries of the $INDEX_ROOT attribute at off
// as [start, end) offsets relative to the attribute.
func rootEntries(b []byte, off int) [][2]int {
	hdr := le16(b, off+0x14) + 16
	p, end := hdr+le32(b, off+hdr), hdr+le32(b, off+hdr+4)
	var out [][2]int
	for p+16 <= end {
		l := le16(b, off+p+8)
		if l < 16 {
			break
		}
		out = append(out, [2]int{p, p + l})
		p += l
	}
	return out
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

// diffBitmapAttr encodes the differences of a non-resident bitmap (record
// rec, attribute typ) as Set/ClearBits records, one per run of equal new
// value inside one cluster.
func diffBitmapAttr(t *testing.T, va, vb *ntfs.Volume, rec uint64, typ ntfs.AttrType, tx uint32) []ntfstest.LogRecord {
	read := func(v *ntfs.Volume) ([]byte, *ntfs.RunReader) {
		f, err := v.OpenRef(ntfs.MakeRef(rec, 0))
		if err != nil {
			t.Fatal(err)
		}
		ra, size, err := f.AttrReader(typ, "")
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, size)
		if _, err := ra.ReadAt(b, 0); err != nil {
			t.Fatal(err)
		}
		rr, ok := ra.(*ntfs.RunReader)
		if !ok {
			t.Fatalf("record %d attribute %#x is resident", rec, typ)
		}
		return b, rr
	}
	ba, rr := read(va)
	bb, _ := read(vb)
	per := int64(va.Boot().ClusterSize) * 8
	bit := func(b []byte, i int64) bool { return i < int64(len(b))*8 && b[i>>3]&(1<<(i&7)) != 0 }
	var out []ntfstest.LogRecord
	total := int64(max(len(ba), len(bb))) * 8
	for i := int64(0); i < total; {
		if bit(ba, i) == bit(bb, i) {
			i++
			continue
		}
		j, val := i, bit(bb, i)
		for j < total && j/per == i/per && bit(ba, j) != bit(bb, j) && bit(bb, j) == val {
			j++
		}
		vcn := i / per
		lcn, _ := rr.LCN(vcn)
		rng := make([]byte, 8)
		binary.LittleEndian.PutUint32(rng[0:], uint32(i-vcn*per))
		binary.LittleEndian.PutUint32(rng[4:], uint32(j-i))
		r := ntfstest.LogRecord{Type: logfile.LogRecordStandard, Tx: tx, Redo: logfile.OpClearBitsInNonresidentBitMap, Undo: logfile.OpSetBitsInNonresidentBitMap,
			RedoData: rng, UndoData: rng, LCNs: []int64{lcn}, VCN: vcn}
		if val {
			r.Redo, r.Undo = r.Undo, r.Redo
		}
		out = append(out, r)
		i = j
	}
	return out
}

// mftChanges makes the named changes (all when only is empty).
func mftChanges(t *testing.T, only ...string) []oracleChange {
	replayNeedTool(t, "mkntfs")
	dir := t.TempDir()
	fresh := filepath.Join(dir, "fresh.img")
	if err := os.WriteFile(fresh, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(fresh, 16<<20); err != nil {
		t.Fatal(err)
	}
	replayRun(t, replayNeedTool(t, "mkntfs"), "-F", "-Q", "-q", "-L", "VOLUMEAA", fresh)
	write := func(p, s string) error { return os.WriteFile(p, []byte(s), 0o644) }
	type spec struct {
		name            string
		prepare, change func(m string) error
	}
	specs := []spec{
		{"create", func(m string) error {
			// A file made and removed leaves a free MFT record past
			// the system files for the new file to reuse (the MFT
			// itself does not grow during the change).
			if err := os.Mkdir(filepath.Join(m, "d"), 0o755); err != nil {
				return err
			}
			if err := write(filepath.Join(m, "d", "tmp"), "x"); err != nil {
				return err
			}
			return os.Remove(filepath.Join(m, "d", "tmp"))
		}, func(m string) error { return write(filepath.Join(m, "d", "new.txt"), "hello, journal\n") }},
		{"delete", func(m string) error {
			if err := os.Mkdir(filepath.Join(m, "d"), 0o755); err != nil {
				return err
			}
			return write(filepath.Join(m, "d", "old.txt"), "C-00000291 bad channel file\n")
		}, func(m string) error { return os.Remove(filepath.Join(m, "d", "old.txt")) }},
		{"stream-add", func(m string) error { return write(filepath.Join(m, "f.txt"), "data\n") },
			func(m string) error {
				return ntfstest.Setxattr(filepath.Join(m, "f.txt"), "user.unbrick", []byte("a named stream"))
			}},
		{"stream-remove", func(m string) error {
			if err := write(filepath.Join(m, "f.txt"), "data\n"); err != nil {
				return err
			}
			return ntfstest.Setxattr(filepath.Join(m, "f.txt"), "user.unbrick", []byte("a named stream"))
		}, func(m string) error { return ntfstest.Removexattr(filepath.Join(m, "f.txt"), "user.unbrick") }},
		{"resident-grow", func(m string) error { return write(filepath.Join(m, "f.txt"), "data\n") },
			func(m string) error { return write(filepath.Join(m, "f.txt"), "data\nand a longer resident value\n") }},
		// The new content differs from the old from its first byte:
		// ntfsrecover takes a shrunk value whose start is already in
		// place as done (replay_mft.go redoResizeResident).
		{"resident-shrink", func(m string) error {
			return write(filepath.Join(m, "f.txt"), "a resident value of forty bytes or so..\n")
		}, func(m string) error { return write(filepath.Join(m, "f.txt"), "shorter value, 24 bytes\n") }},
		{"root-create", func(m string) error {
			if err := write(filepath.Join(m, "tmp"), "x"); err != nil {
				return err
			}
			return os.Remove(filepath.Join(m, "tmp"))
		}, func(m string) error { return write(filepath.Join(m, "CrowdStrike.txt"), "hello\n") }},
		{"root-delete", func(m string) error { return write(filepath.Join(m, "C-00000291-00000000-00000032.sys"), "bad\n") },
			func(m string) error { return os.Remove(filepath.Join(m, "C-00000291-00000000-00000032.sys")) }},
		{"root-file-grow", func(m string) error { return write(filepath.Join(m, "f.txt"), "data\n") },
			func(m string) error { return write(filepath.Join(m, "f.txt"), "data, and more of it\n") }},
		{"dir-file-grow", func(m string) error {
			if err := os.Mkdir(filepath.Join(m, "d"), 0o755); err != nil {
				return err
			}
			return write(filepath.Join(m, "d", "f.txt"), "data\n")
		}, func(m string) error { return write(filepath.Join(m, "d", "f.txt"), "data, and more of it\n") }},
		{"overwrite", func(m string) error { return write(filepath.Join(m, "f.txt"), "aaaa\n") },
			func(m string) error { return write(filepath.Join(m, "f.txt"), "bbbb\n") }},
		{"extend", func(m string) error {
			return write(filepath.Join(m, "big.bin"), string(bytes.Repeat([]byte("unbrick!"), 1024)))
		},
			func(m string) error {
				f, err := os.OpenFile(filepath.Join(m, "big.bin"), os.O_WRONLY|os.O_APPEND, 0)
				if err != nil {
					return err
				}
				defer f.Close()
				_, err = f.Write(bytes.Repeat([]byte("journal!"), 4096))
				return err
			}},
		{"truncate", func(m string) error {
			return write(filepath.Join(m, "big.bin"), string(bytes.Repeat([]byte("unbrick!"), 5120)))
		}, func(m string) error { return os.Truncate(filepath.Join(m, "big.bin"), 8192) }},
	}
	var out []oracleChange
	for _, s := range specs {
		if len(only) > 0 && !containsString(only, s.name) {
			continue
		}
		c, ok := fuseChange(t, s.name, fresh, dir, s.prepare, s.change)
		if !ok {
			if os.Getenv("CI") == "true" {
				t.Fatal("FUSE mount with ntfs-3g is required under CI")
			}
			t.Skip("FUSE mount with ntfs-3g unavailable")
		}
		out = append(out, c)
	}
	return out
}

// encodeVolumeChange encodes every MFT record and bitmap difference of a
// change as transaction tx; it returns the records and the changed MFT
// record numbers.
func encodeVolumeChange(t *testing.T, ch oracleChange, tx uint32) ([]ntfstest.LogRecord, []uint64, map[logfile.LogOp]int) {
	return encodeVolumeChangeWith(t, ch, tx, indexEntries)
}

// indexMode says how changes inside existing index blocks are encoded.
type indexMode int

const (
	// indexEntries: Add/DeleteIndexEntryAllocation, UpdateFileNameAllocation.
	indexEntries indexMode = iota
	// indexValue: one partial UpdateNonresidentValue per changed block.
	indexValue
	// indexWriteEnd: one WriteEndOfIndexBuffer per changed block, from
	// its first changed entry (what Windows logs when it cuts a block in
	// a split).
	indexWriteEnd
)

// encodeVolumeChangeWith is encodeVolumeChange with the changes inside
// existing index blocks encoded as mode says. The
// order is MFT records, bitmaps, then index blocks and other non-resident
// data (clusters are allocated before they are written, as Windows logs
// it).
//
// Each of streams (a file path and a $DATA stream name) is also encoded
// as UpdateNonresidentValue records (encodeNonresidentData).
func encodeVolumeChangeWith(t *testing.T, ch oracleChange, tx uint32, mode indexMode, streams ...[2]string) ([]ntfstest.LogRecord, []uint64, map[logfile.LogOp]int) {
	va, fa := openImage(t, ch.a)
	defer fa.Close()
	vb, fb := openImage(t, ch.b)
	defer fb.Close()
	var recs []ntfstest.LogRecord
	var changed []uint64
	for n := uint64(0); n < vb.MFTRecords(); n++ { // (records past A's $MFT: the change grew it)
		if n == ntfs.RecordLogFile {
			continue
		}
		c := encodeMFTChange(t, va, vb, n, tx)
		if len(c) > 0 {
			changed = append(changed, n)
		}
		recs = append(recs, c...)
	}
	recs = append(recs, diffBitmapAttr(t, va, vb, 0, ntfs.AttrBitmap, tx)...)
	recs = append(recs, diffBitmapAttr(t, va, vb, ntfs.RecordBitmap, ntfs.AttrData, tx)...)
	key := uint16(0x18)
	for n := uint64(0); n < min(va.MFTRecords(), vb.MFTRecords()); n++ {
		if rb, ok := rawMFTRecord(t, vb, n); !ok || le16(rb, 0x16)&(ntfs.RecordInUse|ntfs.RecordDirectory) != ntfs.RecordInUse|ntfs.RecordDirectory {
			continue
		}
		c := encodeIndexBlocks(t, va, vb, n, tx, mode, key)
		if len(c) > 0 {
			key += 0x2C
		}
		recs = append(recs, c...)
	}
	sds := encodeNonresidentData(t, va, vb, ntfs.RecordSecure, "$SDS", tx, key)
	recs = append(recs, sds...)
	for _, st := range streams {
		key += 0x2C
		f, err := vb.Lookup(st[0])
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, encodeNonresidentData(t, va, vb, f.Ref().Record(), st[1], tx, key)...)
	}
	ops := map[logfile.LogOp]int{}
	for _, r := range recs {
		ops[r.Redo]++
	}
	return recs, changed, ops
}

func TestReplayOracleMFTOps(t *testing.T) {
	ntfsrecover := replayNeedTool(t, "ntfsrecover")
	full := os.Getenv("UNBRICK_JOURNAL_ORACLE") == "full"
	check := replayCheckTool()
	cases := []string{"committed", "uncommitted-tail", "uncommitted-reached", "already-on-disk", "spans-pages", "wrap-around", "version-2.0"}
	if !full {
		cases = cases[:3]
	}
	journals := 0
	seen := map[logfile.LogOp]int{}
	var only []string
	if !full {
		only = []string{"create", "delete", "root-create"}
	}
	for _, ch := range mftChanges(t, only...) {
		change, changed, ops := encodeVolumeChange(t, ch, 0x18)
		for op, k := range ops {
			seen[op] += k
		}
		t.Logf("change %s: MFT records %v, log records by redo op %v", ch.name, changed, ops)
		for _, tc := range oracleCases {
			if !containsString(cases, tc.name) {
				continue
			}
			journals++
			t.Run(ch.name+"/"+tc.name, func(t *testing.T) {
				oracleRun(t, ntfsrecover, check, ch, tc, change, changed)
			})
		}
	}
	var names []string
	for op, k := range seen {
		names = append(names, op.String()+"="+strconv.Itoa(k))
	}
	sort.Strings(names)
	t.Logf("%d generated journals compared with ntfsrecover; operations encoded: %v", journals, names)
}

func containsString(a []string, s string) bool {
	for _, x := range a {
		if x == s {
			return true
		}
	}
	return false
}

// replayCheckTool is the corpus ntfs-check, or "" without the corpus.
func replayCheckTool() string {
	if d := testcorpus.Dir(); d != "" {
		return filepath.Join(d, "tools", "ntfs-check")
	}
	return ""
}

// encodeIndexBlocks encodes the differences between A's and B's index
// blocks of directory record dir as AddIndexEntryAllocation,
// DeleteIndexEntryAllocation and UpdateFileNameAllocation records (or as
// mode says otherwise). Entries
// are matched by their MFT reference (the end entry by its flag). A block
// B has and A has not (the index grew a block) is one
// UpdateNonresidentValue carrying the block's header and entries, as
// Windows logs a new index block, after an OpenNonresidentAttribute record
// naming the directory's $INDEX_ALLOCATION at table offset key.
func encodeIndexBlocks(t *testing.T, va, vb *ntfs.Volume, dir uint64, tx uint32, mode indexMode, key uint16) []ntfstest.LogRecord {
	blocks := func(v *ntfs.Volume) ([]byte, *ntfs.RunReader) {
		f, err := v.OpenRef(ntfs.MakeRef(dir, 0))
		if err != nil {
			t.Fatal(err)
		}
		ra, size, err := f.AttrReader(ntfs.AttrIndexAllocation, "$I30")
		if err != nil {
			return nil, nil
		}
		b := make([]byte, size)
		if _, err := ra.ReadAt(b, 0); err != nil {
			t.Fatal(err)
		}
		return b, ra.(*ntfs.RunReader)
	}
	ba, rra := blocks(va)
	bb, rrb := blocks(vb)
	if bb == nil {
		if ba != nil {
			t.Fatalf("directory %d lost its index allocation: not encodable here", dir)
		}
		return nil
	}
	if len(ba) > len(bb) {
		t.Fatalf("directory %d: index allocation shrank from %d to %d bytes: not encodable here", dir, len(ba), len(bb))
	}
	xs, cs := va.Boot().IndexBlockSize, int64(va.Boot().ClusterSize)
	rb, _ := rawMFTRecord(t, vb, dir)
	ref := ntfs.MakeRef(dir, uint16(le16(rb, 0x10)))
	var out []ntfstest.LogRecord
	opened := false
	open := func() {
		if !opened {
			out = append(out, openAttrRecord(ref, ntfs.AttrIndexAllocation, key, tx))
			opened = true
		}
	}
	value := func(lcns []int64, vcn int64, recOff int, data, undo []byte) {
		open()
		undoOp := logfile.OpNoop
		if undo != nil {
			undoOp = logfile.OpUpdateNonresidentValue
		}
		out = append(out, ntfstest.LogRecord{Type: logfile.LogRecordStandard, Tx: tx, Redo: logfile.OpUpdateNonresidentValue, Undo: undoOp,
			RedoData: data, UndoData: undo, LCNs: lcns, VCN: vcn, RecOff: uint16(recOff), TargetAttr: key})
	}
	for k := 0; k+xs <= len(bb); k += xs {
		vcn := int64(k) / cs
		blockLCNs := func(rr *ntfs.RunReader) []int64 {
			lcns := make([]int64, max(1, int64(xs)/cs))
			for i := range lcns {
				l, ok := rr.LCN(vcn + int64(i))
				if !ok {
					t.Fatalf("directory %d: no cluster at VCN %d", dir, vcn+int64(i))
				}
				lcns[i] = l
			}
			return lcns
		}
		b := clone(bb[k : k+xs])
		if _, _, _, err := applyFixups(b, "B"); err != nil {
			t.Fatalf("directory %d block %d: %v", dir, k/xs, err)
		}
		var a []byte
		if k+xs <= len(ba) {
			a = clone(ba[k : k+xs])
			if _, _, _, err := applyFixups(a, "A"); err != nil || string(a[:4]) != "INDX" {
				a = nil
			}
		}
		if a == nil {
			// A new block: its header and entries.
			used := logfile.Align8(0x18 + le32(b, 0x1C))
			value(blockLCNs(rrb), vcn, 0, clone(b[:used]), nil)
			continue
		}
		if bytes.Equal(a[0x18:], b[0x18:]) {
			continue
		}
		open() // (before any append of a record that names key)
		lcn, _ := rra.LCN(vcn)
		if mode == indexWriteEnd {
			// The first entry at which A and B differ; before it the
			// blocks agree.
			p := 0x18 + le32(a, 0x18)
			for p+16 <= 0x18+le32(a, 0x1C) {
				l := le16(a, p+8)
				if l < 16 || !bytes.Equal(a[p:p+l], b[p:p+l]) {
					break
				}
				p += l
			}
			es := 0x18 + le32(a, 0x18)
			if !bytes.Equal(a[es:p], b[es:p]) || !bytes.Equal(a[0x18:0x1C], b[0x18:0x1C]) || !bytes.Equal(a[0x20:0x28], b[0x20:0x28]) {
				t.Fatalf("directory %d block %d: header or entries before %#x differ", dir, k/xs, p)
			}
			lcns := make([]int64, max(1, int64(xs)/cs))
			for i := range lcns {
				lcns[i] = lcn + int64(i)
			}
			rd, ud := clone(b[p:0x18+le32(b, 0x1C)]), clone(a[p:0x18+le32(a, 0x1C)])
			open()
			out = append(out, ntfstest.LogRecord{Type: logfile.LogRecordStandard, Tx: tx, Redo: logfile.OpWriteEndOfIndexBuffer, Undo: logfile.OpWriteEndOfIndexBuffer,
				RedoData: rd, UndoData: ud, LCNs: lcns, VCN: vcn, AttrOff: uint16(p), TargetAttr: key})
			continue
		}
		if mode == indexValue {
			lo, hi := 0x18, xs
			for lo < xs && a[lo] == b[lo] {
				lo++
			}
			for hi > lo && a[hi-1] == b[hi-1] {
				hi--
			}
			value(blockLCNs(rra), vcn, lo, clone(b[lo:hi]), clone(a[lo:hi]))
			continue
		}
		op := func(redo, undo logfile.LogOp, attrOff int, rd, ud []byte) ntfstest.LogRecord {
			lcns := make([]int64, max(1, int64(xs)/cs))
			for i := range lcns {
				lcns[i] = lcn + int64(i)
			}
			return ntfstest.LogRecord{Type: logfile.LogRecordStandard, Tx: tx, Redo: redo, Undo: undo, RedoData: rd, UndoData: ud,
				LCNs: lcns, VCN: vcn, AttrOff: uint16(attrOff), TargetAttr: key}
		}
		type ent struct {
			off, l int
			key    string
		}
		list := func(x []byte) []ent {
			var es []ent
			start, end := 0x18+le32(x, 0x18), 0x18+le32(x, 0x1C)
			for p := start; p+16 <= end; {
				l := le16(x, p+8)
				if l < 16 {
					break
				}
				key := string(x[p : p+8])
				if le32(x, p+12)&2 != 0 {
					key = "end"
				}
				es = append(es, ent{p, l, key})
				p += l
			}
			return es
		}
		ea, eb := list(a), list(b)
		inA, inB := map[string]ent{}, map[string]ent{}
		for _, e := range ea {
			inA[e.key] = e
		}
		for _, e := range eb {
			inB[e.key] = e
		}
		// file name information updates, on A's layout
		for _, e := range ea {
			f, ok := inB[e.key]
			if ok && e.key == "end" && le32(a, e.off+12)&1 != 0 && le32(b, f.off+12)&1 != 0 {
				if va8, vb8 := a[e.off+e.l-8:e.off+e.l], b[f.off+f.l-8:f.off+f.l]; !bytes.Equal(va8, vb8) {
					out = append(out, op(logfile.OpSetIndexEntryVcnAllocation, logfile.OpSetIndexEntryVcnAllocation, e.off, clone(vb8), clone(va8)))
				}
			}
			if !ok || e.key == "end" {
				continue
			}
			if e.l != f.l {
				t.Fatalf("directory %d: an entry changed length", dir)
			}
			tail := 0
			if le32(a, e.off+12)&1 != 0 && le32(b, f.off+12)&1 != 0 {
				// the sub-node VCN: a SetIndexEntryVcnAllocation
				tail = 8
				if va8, vb8 := a[e.off+e.l-8:e.off+e.l], b[f.off+f.l-8:f.off+f.l]; !bytes.Equal(va8, vb8) {
					out = append(out, op(logfile.OpSetIndexEntryVcnAllocation, logfile.OpSetIndexEntryVcnAllocation, e.off, clone(vb8), clone(va8)))
				}
			}
			if !bytes.Equal(a[e.off:e.off+0x18], b[f.off:f.off+0x18]) || !bytes.Equal(a[e.off+0x50:e.off+e.l-tail], b[f.off+0x50:f.off+f.l-tail]) {
				t.Fatalf("directory %d: entry at %#x changed outside its file name information", dir, e.off)
			}
			if d, g := a[e.off+0x18:e.off+0x50], b[f.off+0x18:f.off+0x50]; !bytes.Equal(d, g) {
				out = append(out, op(logfile.OpUpdateFileNameAllocation, logfile.OpUpdateFileNameAllocation, e.off, clone(g), clone(d)))
			}
		}
		// deleted entries, last first
		for i := len(ea) - 1; i >= 0; i-- {
			if _, ok := inB[ea[i].key]; !ok {
				e := ea[i]
				out = append(out, op(logfile.OpDeleteIndexEntryAllocation, logfile.OpAddIndexEntryAllocation, e.off, nil, clone(a[e.off:e.off+e.l])))
			}
		}
		// new entries, in B's order at B's offsets
		for _, f := range eb {
			if _, ok := inA[f.key]; !ok {
				out = append(out, op(logfile.OpAddIndexEntryAllocation, logfile.OpDeleteIndexEntryAllocation, f.off, clone(b[f.off:f.off+f.l]), nil))
			}
		}
	}
	return out
}

// openAttrRecord is an OpenNonresidentAttribute record putting attribute
// typ of file ref at open attribute table offset key. ntfs3 and ntfsrecover
// read the 0x2C-byte entry with their fields 8 bytes apart
// (replay_attrs.go); the entry carries the reference and type in both
// places so that each reads the same attribute.
func openAttrRecord(ref ntfs.FileRef, typ ntfs.AttrType, key uint16, tx uint32) ntfstest.LogRecord {
	e := make([]byte, 0x2C)
	binary.LittleEndian.PutUint32(e[0:], 0xFFFFFFFF)
	binary.LittleEndian.PutUint64(e[0x08:], uint64(ref)) // ntfs3 OPEN_ATTR_ENRTY_32
	binary.LittleEndian.PutUint32(e[0x1C:], uint32(typ))
	binary.LittleEndian.PutUint64(e[0x10:], uint64(ref)) // ntfsrecover ATTR_OLD
	binary.LittleEndian.PutUint32(e[0x24:], uint32(typ))
	binary.LittleEndian.PutUint32(e[0x28:], 4096) // bytes per index (ntfs3)
	return ntfstest.LogRecord{Type: logfile.LogRecordStandard, Tx: tx, Redo: logfile.OpOpenNonresidentAttribute, Undo: logfile.OpNoop, RedoData: e, TargetAttr: key}
}

// encodeNonresidentData encodes the differences of file rec's non-resident
// $DATA stream name between A and B as UpdateNonresidentValue records
// (undo: the old bytes), at most 1 KiB each and inside one cluster, after
// an OpenNonresidentAttribute record at table offset key.
func encodeNonresidentData(t *testing.T, va, vb *ntfs.Volume, rec uint64, name string, tx uint32, key uint16) []ntfstest.LogRecord {
	read := func(v *ntfs.Volume) ([]byte, *ntfs.RunReader) {
		f, err := v.OpenRef(ntfs.MakeRef(rec, 0))
		if err != nil {
			t.Fatal(err)
		}
		ra, size, err := f.AttrReader(ntfs.AttrData, name)
		if err != nil {
			return nil, nil
		}
		rr, ok := ra.(*ntfs.RunReader)
		if !ok {
			return nil, nil
		}
		b := make([]byte, size)
		if _, err := ra.ReadAt(b, 0); err != nil {
			t.Fatal(err)
		}
		return b, rr
	}
	db, rr := read(vb)
	if db == nil {
		return nil
	}
	// A's bytes: the same clusters (B's run list) read from A's image, so
	// that a stream that grew inside its allocation compares cluster by
	// cluster.
	cs0 := int64(vb.Boot().ClusterSize)
	da := make([]byte, len(db))
	for off := int64(0); off < int64(len(db)); off += cs0 {
		lcn, ok := rr.LCN(off / cs0)
		if !ok || lcn < 0 {
			t.Fatalf("record %d stream %s: no cluster at VCN %d", rec, name, off/cs0)
		}
		n := min(cs0, int64(len(db))-off)
		if _, err := va.Device().ReadAt(da[off:off+n], lcn*cs0); err != nil {
			t.Fatal(err)
		}
	}
	rb, _ := rawMFTRecord(t, vb, rec)
	ref := ntfs.MakeRef(rec, uint16(le16(rb, 0x10)))
	cs := int64(va.Boot().ClusterSize)
	var out []ntfstest.LogRecord
	for i := int64(0); i < int64(len(da)); {
		if da[i] == db[i] {
			i++
			continue
		}
		j := i
		for j < int64(len(da)) && j-i < 1024 && j/cs == i/cs && da[j] != db[j] {
			j++
		}
		// keep equal bytes inside a run of changes together
		for j < int64(len(da)) && j-i < 1024 && j/cs == i/cs {
			k := j
			for k < int64(len(da)) && k-j < 16 && k/cs == i/cs && da[k] == db[k] {
				k++
			}
			if k < int64(len(da)) && k/cs == i/cs && k-i < 1024 && da[k] != db[k] {
				j = k + 1
				continue
			}
			break
		}
		if len(out) == 0 {
			out = append(out, openAttrRecord(ref, ntfs.AttrData, key, tx))
		}
		vcn := i / cs
		lcn, _ := rr.LCN(vcn)
		out = append(out, ntfstest.LogRecord{Type: logfile.LogRecordStandard, Tx: tx, Redo: logfile.OpUpdateNonresidentValue, Undo: logfile.OpUpdateNonresidentValue,
			RedoData: clone(db[i:j]), UndoData: clone(da[i:j]), LCNs: []int64{lcn}, VCN: vcn, RecOff: uint16(i % cs), TargetAttr: key})
		i = j
	}
	return out
}
