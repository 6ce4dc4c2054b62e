package replay

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/unbrick/unbrick/ntfs"
	"github.com/unbrick/unbrick/ntfs/internal/ntfstest"
	"github.com/unbrick/unbrick/ntfs/logfile"
)

// Oracle tests of UpdateNonresidentValue (replay_nrvalue.go): real ntfs-3g
// changes that write index blocks and $Secure's $SDS, encoded as the
// records Windows logs for them (a new index block as one whole-block
// UpdateNonresidentValue after an OpenNonresidentAttribute record; changes
// inside existing blocks and $SDS as partial UpdateNonresidentValue
// writes), replayed by ntfsrecover and by unbrick.

// nrValueChange is a real change and how its index blocks are encoded.
type nrValueChange struct {
	oracleChange
	index indexMode
	// dir is checked after replay: its listing must be B's when committed.
	dir string
	// notOnAfter: the change creates two attributes in one record, at
	// offsets that depend on the order; on the after image (whose records
	// ntfs-3g leaves without LSNs, so that no tool can tell the change is
	// there) their re-insertion is refused by ntfsrecover. Windows stamps
	// its records' LSNs and skips them.
	notOnAfter bool
	// stream, when set, is a file and $DATA stream name whose contents
	// (read by ntfs-3g's ntfscat) must be B's when committed, A's when not.
	stream [2]string
}

func longName(i int) string {
	return fmt.Sprintf("C-00000291-%02d-a-rather-long-channel-file-name.sys", i)
}

func deepName(i int) string {
	return fmt.Sprintf("C-00000291-%03d-a-rather-long-channel-file-name-for-the-tree-test.sys", i)
}

// nrValueChanges makes the named changes (all when only is empty).
func nrValueChanges(t *testing.T, only ...string) []nrValueChange {
	mkntfs := replayNeedTool(t, "mkntfs")
	dir := t.TempDir()
	fresh := filepath.Join(dir, "fresh.img")
	if err := os.WriteFile(fresh, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(fresh, 16<<20); err != nil {
		t.Fatal(err)
	}
	replayRun(t, mkntfs, "-F", "-Q", "-q", "-L", "VOLUMEAA", fresh)
	write := func(p, s string) error { return os.WriteFile(p, []byte(s), 0o644) }
	// freeRecords makes and removes n files so that the change finds free
	// MFT records (the MFT does not grow during it).
	freeRecords := func(m string, n int) error {
		if err := os.Mkdir(filepath.Join(m, "tmp"), 0o755); err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			if err := write(filepath.Join(m, "tmp", strconv.Itoa(i)), "x"); err != nil {
				return err
			}
		}
		for i := 0; i < n; i++ {
			if err := os.Remove(filepath.Join(m, "tmp", strconv.Itoa(i))); err != nil {
				return err
			}
		}
		return nil
	}
	files := func(m string, from, to int) error {
		for i := from; i < to; i++ {
			if err := write(filepath.Join(m, "d", longName(i)), "bad channel file\n"); err != nil {
				return err
			}
		}
		return nil
	}
	type spec struct {
		name            string
		mode            indexMode
		dir             string
		notOnAfter      bool
		prepare, change func(m string) error
		opts            []string
		stream          [2]string
	}
	specs := []spec{
		// The directory's index root overflows: its entries move to a
		// new index block (one whole-block UpdateNonresidentValue).
		{"dir-grow", indexEntries, "/d", true, func(m string) error {
			if err := freeRecords(m, 24); err != nil {
				return err
			}
			if err := os.Mkdir(filepath.Join(m, "d"), 0o755); err != nil {
				return err
			}
			return files(m, 0, 2)
		}, func(m string) error { return files(m, 2, 12) }, nil, [2]string{}},
		// The directory's only index block overflows: a second block
		// (whole-block UpdateNonresidentValue), the first one loses
		// entries, the root gains the median entry.
		{"dir-split", indexWriteEnd, "/d", true, func(m string) error {
			if err := freeRecords(m, 40); err != nil {
				return err
			}
			if err := os.Mkdir(filepath.Join(m, "d"), 0o755); err != nil {
				return err
			}
			return files(m, 0, 12)
		}, func(m string) error { return files(m, 12, 28) }, nil, [2]string{}},
		// A file added to and one removed from a directory with an
		// index block: the block's tail rewritten (WriteEndOfIndexBuffer).
		{"dir-block-add", indexWriteEnd, "/d", false, func(m string) error {
			if err := freeRecords(m, 24); err != nil {
				return err
			}
			if err := os.Mkdir(filepath.Join(m, "d"), 0o755); err != nil {
				return err
			}
			return files(m, 0, 12)
		}, func(m string) error { return write(filepath.Join(m, "d", "C-00000291-05b.sys"), "new\n") }, nil, [2]string{}},
		{"dir-block-delete", indexWriteEnd, "/d", false, func(m string) error {
			if err := os.Mkdir(filepath.Join(m, "d"), 0o755); err != nil {
				return err
			}
			return files(m, 0, 12)
		}, func(m string) error { return os.Remove(filepath.Join(m, "d", longName(9))) }, nil, [2]string{}},
		// A three-level index (root, inner blocks, leaves) in which
		// leaves split: new leaf blocks, entries added to inner blocks,
		// sub-node VCNs changed (SetIndexEntryVcnAllocation).
		{"dir-deep", indexEntries, "/d", true, func(m string) error {
			if err := freeRecords(m, 80); err != nil {
				return err
			}
			if err := os.Mkdir(filepath.Join(m, "d"), 0o755); err != nil {
				return err
			}
			for i := 0; i < 100; i += 2 {
				if err := write(filepath.Join(m, "d", deepName(i)), "x\n"); err != nil {
					return err
				}
			}
			return nil
		}, func(m string) error {
			for i := 0; i < 12; i++ {
				// all between deepName(24) and deepName(26): one leaf
				name := fmt.Sprintf("C-00000291-024-b-%02d-channel-file-name-for-the-tree-test.sys", i)
				if err := write(filepath.Join(m, "d", name), "x\n"); err != nil {
					return err
				}
			}
			return nil
		}, nil, [2]string{}},
		// A named stream whose data lives in an extension record (the
		// base record is full of small streams): its clusters rewritten,
		// as UpdateNonresidentValue on an attribute found through the
		// file's $ATTRIBUTE_LIST.
		{"stream-in-extension", indexEntries, "", false, func(m string) error {
			p := filepath.Join(m, "f.bin")
			if err := write(p, "data\n"); err != nil {
				return err
			}
			for i := 0; i < 40; i++ {
				if err := ntfstest.Setxattr(p, fmt.Sprintf("user.s%02d", i), bytes.Repeat([]byte{'x'}, 100+i)); err != nil {
					return err
				}
			}
			return ntfstest.Setxattr(p, "user.big", bytes.Repeat([]byte{'y'}, 9000))
		}, func(m string) error {
			return ntfstest.Setxattr(filepath.Join(m, "f.bin"), "user.big", bytes.Repeat([]byte("unbrick!"), 9000/8))
		}, nil, [2]string{"/f.bin", "big"}},
		// Files created with no free MFT record left: $MFT grows (its
		// mapping pairs, sizes and bitmap), the new records lie past its
		// old end.
		{"mft-grow", indexEntries, "/d", true, func(m string) error {
			return os.Mkdir(filepath.Join(m, "d"), 0o755)
		}, func(m string) error { return files(m, 0, 24) }, nil, [2]string{}},
		// A file in a directory with an index block grows: the sizes in
		// its entry change in place (a partial write of the block).
		{"dir-block-update", indexValue, "/d", false, func(m string) error {
			if err := os.Mkdir(filepath.Join(m, "d"), 0o755); err != nil {
				return err
			}
			return files(m, 0, 12)
		}, func(m string) error {
			return write(filepath.Join(m, "d", longName(3)), "a longer bad channel file, still resident\n")
		}, nil, [2]string{}},
		// A new security descriptor (chmod with ntfs-3g's permissions
		// option): appended to $Secure's $SDS stream and its mirror copy
		// (partial UpdateNonresidentValue writes of other data than index
		// blocks), indexed in $SDH and $SII.
		{"sds", indexEntries, "", false, func(m string) error { return write(filepath.Join(m, "f.txt"), "data\n") },
			func(m string) error { return os.Chmod(filepath.Join(m, "f.txt"), 0o600) }, []string{"permissions"},
			[2]string{"/$Secure", "$SDS"}},
	}
	var out []nrValueChange
	for _, s := range specs {
		if len(only) > 0 && !containsString(only, s.name) {
			continue
		}
		c, ok := fuseChangeOpts(t, s.name, fresh, dir, s.opts, s.prepare, s.change)
		if !ok {
			if os.Getenv("CI") == "true" {
				t.Fatal("FUSE mount with ntfs-3g is required under CI")
			}
			t.Skip("FUSE mount with ntfs-3g unavailable")
		}
		out = append(out, nrValueChange{oracleChange: c, index: s.mode, dir: s.dir, notOnAfter: s.notOnAfter, stream: s.stream})
	}
	return out
}

func TestReplayOracleNonresidentValue(t *testing.T) {
	ntfsrecover := replayNeedTool(t, "ntfsrecover")
	full := os.Getenv("UNBRICK_JOURNAL_ORACLE") == "full"
	check := replayCheckTool()
	cases := []string{"committed", "uncommitted-tail", "uncommitted-reached", "already-on-disk", "spans-pages", "wrap-around", "version-2.0",
		"restart-page-0-older", "committed-then-uncommitted", "new-block-over-stale-block", "new-block-over-torn-block"}
	var only []string
	if !full {
		cases = []string{"committed", "uncommitted-tail", "uncommitted-reached", "spans-pages"}
		only = []string{"dir-grow", "dir-block-update"}
	}
	journals := 0
	seen := map[logfile.LogOp]int{}
	for _, ch := range nrValueChanges(t, only...) {
		// ($Secure's $SDS is always encoded; other streams on demand)
		var streams [][2]string
		if ch.stream[0] != "" && ch.stream[0] != "/$Secure" {
			streams = append(streams, ch.stream)
		}
		if ch.name == "stream-in-extension" {
			// the case exists to resolve the attribute through the
			// attribute list: make sure ntfs-3g put it out of the base
			vb, fb := openImage(t, ch.b)
			f, err := vb.Lookup(ch.stream[0])
			fb.Close()
			if err != nil {
				t.Fatal(err)
			}
			if f.Base.FindAttr(ntfs.AttrData, ch.stream[1]) != nil || len(f.Extensions) == 0 {
				t.Fatalf("%s: stream %s is in the base record (%d extension records)", ch.stream[0], ch.stream[1], len(f.Extensions))
			}
		}
		change, changed, ops := encodeVolumeChangeWith(t, ch.oracleChange, 0x18, ch.index, streams...)
		if ops[logfile.OpUpdateNonresidentValue]+ops[logfile.OpWriteEndOfIndexBuffer] == 0 {
			t.Fatalf("change %s: no UpdateNonresidentValue or WriteEndOfIndexBuffer encoded (ops %v)", ch.name, ops)
		}
		for op, k := range ops {
			seen[op] += k
		}
		t.Logf("change %s: MFT records %v, log records by redo op %v", ch.name, changed, ops)
		all := oracleCases
		if full {
			all = append(append([]oracleCase(nil), oracleCases...), staleBlockCases...)
		}
		for _, tc := range all {
			if !containsString(cases, tc.name) || (ch.notOnAfter && tc.onAfter && !tc.undo) {
				continue
			}
			if tc.prepare != nil && !tc.undo && !hasNewIndexBlock(change) {
				continue
			}
			journals++
			t.Run(ch.name+"/"+tc.name, func(t *testing.T) {
				if y := oracleRun(t, ntfsrecover, check, ch.oracleChange, tc, change, changed); y != "" && !t.Failed() {
					checkListing(t, ch, tc, y)
				}
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

// checkListing compares the directory listing of the replayed volume y
// with the after image's (committed) or the before image's, both listed by
// ntfs-3g's ntfsls, and with our own reader's listing of y.
func checkListing(t *testing.T, ch nrValueChange, tc oracleCase, y string) {
	want := ch.a
	if (tc.committed || tc.onAfter) && !tc.undo {
		want = ch.b
	}
	if ch.stream[0] != "" {
		ntfscat := replayNeedTool(t, "ntfscat")
		cat := func(img string) []byte {
			out, err := exec.Command(ntfscat, "-a", "0x80", "-n", ch.stream[1], img, ch.stream[0]).Output()
			if err != nil {
				t.Fatalf("ntfscat %s:%s: %v", ch.stream[0], ch.stream[1], err)
			}
			return out
		}
		if got, exp := cat(y), cat(want); !bytes.Equal(got, exp) {
			t.Errorf("%s:%s of the replayed volume (%d bytes) is not the %s image's (%d bytes)", ch.stream[0], ch.stream[1], len(got), map[bool]string{true: "after", false: "before"}[want == ch.b], len(exp))
		}
	}
	if ch.dir == "" {
		return
	}
	ntfsls := replayNeedTool(t, "ntfsls")
	list := func(img string) string {
		out, err := exec.Command(ntfsls, "-a", "-p", ch.dir, img).CombinedOutput()
		if err != nil {
			t.Fatalf("ntfsls %s: %v: %s", img, err, out)
		}
		var names []string
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if l != "." && l != ".." {
				names = append(names, l)
			}
		}
		return strings.Join(names, "\n")
	}
	got, exp := list(y), list(want)
	if got != exp {
		t.Errorf("ntfsls %s of the replayed volume:\n%s\nwant (committed %v):\n%s", ch.dir, got, tc.committed, exp)
	}
	v, f := openImage(t, y)
	defer f.Close()
	ents, err := v.ReadDir(ch.dir)
	if err != nil {
		t.Fatalf("ReadDir %s on the replayed volume: %v", ch.dir, err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name)
	}
	if n := len(strings.Fields(got)); n != len(names) {
		t.Errorf("our reader lists %d entries in %s, ntfsls %d", len(names), ch.dir, n)
	}
}

// hasNewIndexBlock reports whether the change writes a whole new index
// block.
func hasNewIndexBlock(change []ntfstest.LogRecord) bool {
	for _, c := range change {
		if c.Redo == logfile.OpUpdateNonresidentValue && c.RecOff == 0 && len(c.RedoData) >= 4 && string(c.RedoData[:4]) == "INDX" {
			return true
		}
	}
	return false
}

// staleBlockCases put old contents where the change writes a whole new
// index block (clusters that held an index block before they were freed
// and reused): a valid INDX block of another directory, and the same torn.
// The log carries the whole block, so both tools replace it.
var staleBlockCases = []oracleCase{
	{name: "new-block-over-stale-block", committed: true, journal: func(c []ntfstest.LogRecord) *ntfstest.LogGen {
		return ntfstest.WithCheckpoint(4*4096+0x40, 3, append(c, ntfstest.Forget(0x18))...)
	}, prepare: func(t *testing.T, img string, change []ntfstest.LogRecord) { staleBlock(t, img, change, false) }},
	{name: "new-block-over-torn-block", committed: true, journal: func(c []ntfstest.LogRecord) *ntfstest.LogGen {
		return ntfstest.WithCheckpoint(4*4096+0x40, 3, append(c, ntfstest.Forget(0x18))...)
	}, prepare: func(t *testing.T, img string, change []ntfstest.LogRecord) { staleBlock(t, img, change, true) }},
}

// staleBlock copies the root directory's first index block over the
// clusters of each new index block of the change (torn: with one 512-byte
// stride's update sequence number broken).
func staleBlock(t *testing.T, img string, change []ntfstest.LogRecord, torn bool) {
	v, f := openImage(t, img)
	defer f.Close()
	root, err := v.OpenRef(ntfs.MakeRef(ntfs.RecordRoot, 0))
	if err != nil {
		t.Fatal(err)
	}
	ra, _, err := root.AttrReader(ntfs.AttrIndexAllocation, "$I30")
	if err != nil {
		t.Fatalf("the root directory has no index block to copy: %v", err)
	}
	blk := make([]byte, v.Boot().IndexBlockSize)
	if _, err := ra.ReadAt(blk, 0); err != nil {
		t.Fatal(err)
	}
	if torn {
		blk[1022] ^= 0x5A
	}
	cs := int64(v.Boot().ClusterSize)
	for _, c := range change {
		if c.Redo == logfile.OpUpdateNonresidentValue && c.RecOff == 0 && len(c.RedoData) >= 4 && string(c.RedoData[:4]) == "INDX" {
			if _, err := f.WriteAt(blk, c.LCNs[0]*cs+int64(c.ClusterIdx)*512); err != nil {
				t.Fatal(err)
			}
		}
	}
}
