package replay

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/unbrick/unbrick/internal/testcorpus"
	"github.com/unbrick/unbrick/ntfs"
	"github.com/unbrick/unbrick/ntfs/edit"
	"github.com/unbrick/unbrick/ntfs/internal/mst"
	"github.com/unbrick/unbrick/ntfs/internal/ntfstest"
	"github.com/unbrick/unbrick/ntfs/logfile"
)

// Differential tests of the journal replay against ntfs-3g's ntfsrecover.
//
// Method: mkntfs makes volume A; an ntfs-3g tool makes a real metadata
// change on a copy B; the change (MFT record bytes of B that differ from
// A inside resident attribute values) is encoded as UpdateResidentValue
// log records in A's $LogFile, committed or not. ntfsrecover replays one
// copy, Plan+Apply the other; the images must be byte-identical, pass
// the corpus ntfs-check, and (for committed changes) hold B's values.
// Roll-back (case uncommitted-reached): B with the changed records stamped
// with the log's LSNs and the change logged uncommitted; the reference is
// `ntfsrecover -u 1` (its undo mode: every record after the checkpoint
// rolled back), and the records must hold A's values.

func replayNeedTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required under CI (apt package ntfs-3g)", name)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

func replayRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

func fileSHA(t *testing.T, p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func replayCopy(t *testing.T, src, dst string) {
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// oracleChange is a real metadata change made by an ntfs-3g tool: volume
// A (before) and B (after).
type oracleChange struct {
	name string
	a, b string
	// dirty: the change sets the volume dirty flag, which ntfs-check
	// then reports unless told to allow it.
	dirty bool
}

// oracleChanges makes the before/after volume pairs: ntfslabel (same-length
// label: $VOLUME_NAME of record 3, inside $MFTMirr), ntfsfix (sets the
// dirty flag in $VOLUME_INFORMATION of record 3) and, when FUSE works, a
// `touch -d` through the ntfs-3g driver (a user file's
// $STANDARD_INFORMATION times, outside $MFTMirr; the driver also updates
// the directory index, which an MFT-only journal does not carry).
func oracleChanges(t *testing.T) []oracleChange {
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
	var out []oracleChange
	label := filepath.Join(dir, "label.img")
	replayCopy(t, fresh, label)
	replayRun(t, replayNeedTool(t, "ntfslabel"), label, "VOLUMEBB")
	out = append(out, oracleChange{name: "ntfslabel", a: fresh, b: label})
	fix := filepath.Join(dir, "fix.img")
	replayCopy(t, fresh, fix)
	replayRun(t, replayNeedTool(t, "ntfsfix"), fix)
	out = append(out, oracleChange{name: "ntfsfix", a: fresh, b: fix, dirty: true})
	both := filepath.Join(dir, "both.img")
	replayCopy(t, label, both)
	replayRun(t, replayNeedTool(t, "ntfsfix"), both)
	out = append(out, oracleChange{name: "ntfslabel+ntfsfix", a: fresh, b: both, dirty: true})
	if c, ok := fuseChange(t, "truncate", fresh, dir, func(m string) error {
		return os.WriteFile(filepath.Join(m, "big.bin"), bytes.Repeat([]byte("unbrick!"), 40960/8), 0o644)
	}, func(m string) error {
		return os.Truncate(filepath.Join(m, "big.bin"), 8192)
	}); ok {
		out = append(out, c)
	}
	if c, ok := fuseChange(t, "extend", fresh, dir, func(m string) error {
		return os.WriteFile(filepath.Join(m, "big.bin"), bytes.Repeat([]byte("unbrick!"), 8192/8), 0o644)
	}, func(m string) error {
		f, err := os.OpenFile(filepath.Join(m, "big.bin"), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = f.Write(bytes.Repeat([]byte("journal!"), 32768/8))
		return err
	}); ok {
		out = append(out, c)
	}
	if c, ok := touchChange(t, fresh, dir); ok {
		out = append(out, c)
	} else {
		t.Log("FUSE mount with ntfs-3g unavailable: the touch change is not tested")
	}
	return out
}

// fuseChange makes A = fresh after prepare and B = A after change, both
// through the ntfs-3g driver; ok is false when FUSE is unavailable.
func fuseChange(t *testing.T, name, fresh, dir string, prepare, change func(mnt string) error) (oracleChange, bool) {
	return fuseChangeOpts(t, name, fresh, dir, nil, prepare, change)
}

// fuseChangeOpts is fuseChange with ntfs-3g mount options (-o opts...).
func fuseChangeOpts(t *testing.T, name, fresh, dir string, opts []string, prepare, change func(mnt string) error) (oracleChange, bool) {
	mnt3g, err := exec.LookPath("ntfs-3g")
	if err != nil {
		return oracleChange{}, false
	}
	mnt := filepath.Join(dir, "mnt-"+name)
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	mount := func(img string, do func(string) error) bool {
		args := []string{img, mnt}
		for _, o := range opts {
			args = append(args, "-o", o)
		}
		if out, err := exec.Command(mnt3g, args...).CombinedOutput(); err != nil {
			t.Logf("ntfs-3g mount: %v: %s", err, out)
			return false
		}
		derr := do(mnt)
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Fatalf("umount: %v: %s", err, out)
		}
		if derr != nil {
			t.Fatal(derr)
		}
		return true
	}
	a := filepath.Join(dir, name+"-a.img")
	replayCopy(t, fresh, a)
	if !mount(a, prepare) {
		return oracleChange{}, false
	}
	b := filepath.Join(dir, name+"-b.img")
	replayCopy(t, a, b)
	ok := mount(b, change)
	return oracleChange{name: name, a: a, b: b}, ok
}

// diffBitmap encodes the $Bitmap bits that differ between A and B as
// SetBits/ClearBits records, one per run of equal new value inside one
// cluster of $Bitmap.
func diffBitmap(t *testing.T, va, vb *ntfs.Volume, tx uint32) []ntfstest.LogRecord {
	return diffBitmapAttr(t, va, vb, ntfs.RecordBitmap, ntfs.AttrData, tx)
}

func touchChange(t *testing.T, fresh, dir string) (oracleChange, bool) {
	mnt3g, err := exec.LookPath("ntfs-3g")
	if err != nil {
		return oracleChange{}, false
	}
	mnt := filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	mount := func(img string, do func() error) bool {
		if out, err := exec.Command(mnt3g, img, mnt).CombinedOutput(); err != nil {
			t.Logf("ntfs-3g mount: %v: %s", err, out)
			return false
		}
		derr := do()
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Fatalf("umount: %v: %s", err, out)
		}
		if derr != nil {
			t.Fatal(derr)
		}
		return true
	}
	a := filepath.Join(dir, "touch-a.img")
	replayCopy(t, fresh, a)
	if !mount(a, func() error { return os.WriteFile(filepath.Join(mnt, "file.txt"), []byte("hello\n"), 0o644) }) {
		return oracleChange{}, false
	}
	b := filepath.Join(dir, "touch-b.img")
	replayCopy(t, a, b)
	ok := mount(b, func() error {
		return exec.Command("touch", "-d", "2024-07-19 04:09:27", filepath.Join(mnt, "file.txt")).Run()
	})
	return oracleChange{name: "touch", a: a, b: b}, ok
}

func openImage(t *testing.T, p string) (*ntfs.Volume, *os.File) {
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := f.Stat()
	v, err := ntfs.Open(f, st.Size())
	if err != nil {
		f.Close()
		t.Fatal(err)
	}
	return v, f
}

// diffRecords encodes the differences between A's and B's MFT records as
// UpdateResidentValue records of transaction tx.
func diffRecords(t *testing.T, va, vb *ntfs.Volume, tx uint32) ([]ntfstest.LogRecord, []uint64) {
	var out []ntfstest.LogRecord
	var changed []uint64
	cs, rs := int64(va.Boot().ClusterSize), int64(va.Boot().RecordSize)
	for n := uint64(0); n < 80; n++ {
		ra, err := va.ReadRecord(n)
		if err != nil {
			continue
		}
		rb, err := vb.ReadRecord(n)
		if err != nil {
			continue
		}
		if bytes.Equal(ra.Raw[0x30:], rb.Raw[0x30:]) {
			continue
		}
		changed = append(changed, n)
		if len(ra.Attributes) != len(rb.Attributes) {
			t.Fatalf("record %d: attribute layout changed; not encodable as resident updates", n)
		}
		for i, at := range ra.Attributes {
			bt := rb.Attributes[i]
			if at.Offset != bt.Offset || at.Length != bt.Length {
				t.Fatalf("record %d: attribute %d moved", n, i)
			}
			lo, hi := -1, -1
			for k := at.Offset; k < at.Offset+at.Length; k++ {
				if ra.Raw[k] != rb.Raw[k] {
					if lo < 0 {
						lo = k
					}
					hi = k + 1
				}
			}
			if lo < 0 {
				continue
			}
			off := n * uint64(rs)
			out = append(out, ntfstest.LogRecord{
				Type: logfile.LogRecordStandard, Tx: tx, Redo: logfile.OpUpdateResidentValue, Undo: logfile.OpUpdateResidentValue,
				RedoData: append([]byte(nil), rb.Raw[lo:hi]...), UndoData: append([]byte(nil), ra.Raw[lo:hi]...),
				LCNs: []int64{va.Boot().MFTLCN + int64(off)/cs}, VCN: int64(off) / cs,
				ClusterIdx: uint16(int64(off) % cs / 512), RecOff: uint16(at.Offset), AttrOff: uint16(lo - at.Offset),
			})
		}
	}
	if len(out) == 0 {
		t.Fatal("no MFT record changed")
	}
	return out, changed
}

// installLog writes log into the $LogFile clusters of the image at p.
func installLog(t *testing.T, p string, log []byte) {
	v, f := openImage(t, p)
	defer f.Close()
	lfr, err := v.OpenRef(ntfs.MakeRef(ntfs.RecordLogFile, 0))
	if err != nil {
		t.Fatal(err)
	}
	ra, size, err := lfr.AttrReader(ntfs.AttrData, "")
	if err != nil {
		t.Fatal(err)
	}
	if size != int64(len(log)) {
		t.Fatalf("$LogFile is %d bytes, generated %d", size, len(log))
	}
	exts, err := ra.(*ntfs.RunReader).Extents(0, len(log))
	if err != nil {
		t.Fatal(err)
	}
	pos := 0
	for _, e := range exts {
		if _, err := f.WriteAt(log[pos:pos+e.Length], e.Offset); err != nil {
			t.Fatal(err)
		}
		pos += e.Length
	}
}

type oracleCase struct {
	name string
	// journal builds the generator from the change records.
	journal func(change []ntfstest.LogRecord) *ntfstest.LogGen
	// mutate edits the built log (torn pages, restart disagreement).
	mutate func(log []byte)
	// prepare edits the volume before the replays (after the log is
	// installed).
	prepare func(t *testing.T, img string, change []ntfstest.LogRecord)
	// committed: the change must be on the volume afterwards.
	committed bool
	// onAfter: the journal is installed on B (the change already on disk).
	onAfter bool
	// refuse: both tools must refuse and leave the volume untouched.
	refuse bool
	// weRefuseStale: Plan must refuse (undo needed of a change on
	// disk under a page LSN older than its log record: a volume written
	// without its journal), while ntfsrecover, which in its default sync
	// mode never undoes, goes ahead.
	weRefuseStale bool
	// undo: the uncommitted change reached the disk (the after image with
	// each changed MFT record and index block stamped with the newest LSN
	// of the log, as the write-ahead rule leaves it); the reference is
	// `ntfsrecover -u 1`, which rolls back every record after the
	// checkpoint (all of them uncommitted here), and the replayed records
	// must hold the before image.
	undo bool
}

var oracleCases = []oracleCase{
	{name: "committed", committed: true, journal: func(c []ntfstest.LogRecord) *ntfstest.LogGen {
		return ntfstest.WithCheckpoint(4*4096+0x40, 3, append(c, ntfstest.Forget(0x18))...)
	}},
	{name: "uncommitted-tail", committed: false, journal: func(c []ntfstest.LogRecord) *ntfstest.LogGen {
		return ntfstest.WithCheckpoint(4*4096+0x40, 3, c...)
	}},
	{name: "committed-then-uncommitted", committed: true, journal: func(c []ntfstest.LogRecord) *ntfstest.LogGen {
		recs := append(append([]ntfstest.LogRecord{}, c...), ntfstest.Forget(0x18))
		recs = append(recs, ntfstest.Filler(0x40, 3)...)
		return ntfstest.WithCheckpoint(4*4096+0x40, 3, recs...)
	}},
	{name: "spans-pages", committed: true, journal: func(c []ntfstest.LogRecord) *ntfstest.LogGen {
		recs := append(ntfstest.Filler(0x30, 30), ntfstest.Forget(0x30))
		recs = append(append(recs, c...), ntfstest.Forget(0x18))
		return ntfstest.WithCheckpoint(7*4096+0x40, 3, recs...)
	}},
	{name: "already-on-disk", committed: true, onAfter: true, journal: func(c []ntfstest.LogRecord) *ntfstest.LogGen {
		return ntfstest.WithCheckpoint(4*4096+0x40, 3, append(c, ntfstest.Forget(0x18))...)
	}},
	{name: "uncommitted-on-after", committed: true, onAfter: true, weRefuseStale: true, journal: func(c []ntfstest.LogRecord) *ntfstest.LogGen {
		// the after-image is on disk with an LSN older than the log
		// records: ntfsrecover neither redoes nor undoes anything; we
		// refuse (the change is there against its page's LSN).
		return ntfstest.WithCheckpoint(4*4096+0x40, 3, c...)
	}},
	{name: "uncommitted-reached", onAfter: true, undo: true, journal: func(c []ntfstest.LogRecord) *ntfstest.LogGen {
		return ntfstest.WithCheckpoint(4*4096+0x40, 3, c...)
	}, prepare: stampChangeLSNs},
	{name: "restart-page-1-older", committed: true, journal: func(c []ntfstest.LogRecord) *ntfstest.LogGen {
		return ntfstest.WithCheckpoint(4*4096+0x40, 3, append(c, ntfstest.Forget(0x18))...)
	}, mutate: func(log []byte) { ageRestartPage(log, 4096) }},
	{name: "restart-page-0-older", committed: true, journal: func(c []ntfstest.LogRecord) *ntfstest.LogGen {
		return ntfstest.WithCheckpoint(4*4096+0x40, 3, append(c, ntfstest.Forget(0x18))...)
	}, mutate: func(log []byte) { ageRestartPage(log, 0) }},
	{name: "torn-last-page-good-tail", committed: true, journal: func(c []ntfstest.LogRecord) *ntfstest.LogGen {
		recs := append(ntfstest.Filler(0x30, 30), ntfstest.Forget(0x30))
		recs = append(append(recs, c...), ntfstest.Forget(0x18))
		return ntfstest.WithCheckpoint(7*4096+0x40, 3, recs...)
	}, mutate: func(log []byte) { ntfstest.TearPage(log, 9*4096) }},
	{name: "torn-last-page-and-tails", refuse: true, journal: func(c []ntfstest.LogRecord) *ntfstest.LogGen {
		recs := append(ntfstest.Filler(0x30, 30), ntfstest.Forget(0x30))
		recs = append(append(recs, c...), ntfstest.Forget(0x18))
		return ntfstest.WithCheckpoint(7*4096+0x40, 3, recs...)
	}, mutate: func(log []byte) {
		ntfstest.TearPage(log, 9*4096)
		ntfstest.TearPage(log, 2*4096)
		ntfstest.TearPage(log, 3*4096)
	}},
	{name: "version-2.0", committed: true, journal: func(c []ntfstest.LogRecord) *ntfstest.LogGen {
		recs := append(ntfstest.Filler(0x30, 30), ntfstest.Forget(0x30))
		recs = append(append(recs, c...), ntfstest.Forget(0x18))
		j := ntfstest.WithCheckpoint(36*4096+0x40, 3, recs...)
		j.Major = 2
		return j
	}},
	{name: "version-2.0-last-page-only-in-tail", committed: true, journal: func(c []ntfstest.LogRecord) *ntfstest.LogGen {
		recs := append(ntfstest.Filler(0x30, 30), ntfstest.Forget(0x30))
		recs = append(append(recs, c...), ntfstest.Forget(0x18))
		j := ntfstest.WithCheckpoint(36*4096+0x40, 3, recs...)
		j.Major = 2
		return j
	}, mutate: func(log []byte) {
		// The newest page was not yet copied from the tail area to its
		// place (never written there: 0xFF).
		last := binary.LittleEndian.Uint64(log[2*4096+8:])
		off := int((last << 45) >> 42)
		off &^= 4095
		for i := off; i < off+4096; i++ {
			log[i] = 0xFF
		}
	}},
	{name: "clean-flag", committed: false, journal: func(c []ntfstest.LogRecord) *ntfstest.LogGen {
		return ntfstest.WithCheckpoint(4*4096+0x40, 3, append(c, ntfstest.Forget(0x18))...)
	}, mutate: func(log []byte) {
		// A cleanly closed journal: its records were all written back
		// already, nothing is replayed.
		for _, off := range []int{0, 4096} {
			p := log[off : off+4096]
			_ = logfile.UnprotectPage(p, 0x1E, 9)
			binary.LittleEndian.PutUint16(p[0x30+0x0E:], logfile.RestartFlagClean)
			if err := mst.ProtectInPlace(p); err != nil {
				panic(err)
			}
		}
	}},
	{name: "wrap-around", committed: true, journal: func(c []ntfstest.LogRecord) *ntfstest.LogGen {
		// start two pages before the end of the 2 MiB log: the change
		// lands after the wrap, in the next lap.
		recs := append(ntfstest.Filler(0x30, 30), ntfstest.Forget(0x30))
		recs = append(append(recs, c...), ntfstest.Forget(0x18))
		return ntfstest.WithCheckpoint((2<<20)-2*4096+0x40, 3, recs...)
	}},
}

func TestReplayOracleNtfsrecover(t *testing.T) {
	ntfsrecover := replayNeedTool(t, "ntfsrecover")
	check := ""
	if d := testcorpus.Dir(); d != "" {
		check = filepath.Join(d, "tools", "ntfs-check")
	}
	journals := 0
	changes := oracleChanges(t)
	if os.Getenv("UNBRICK_JOURNAL_ORACLE") != "full" {
		// The default run keeps two changes (one per redone operation
		// family); scripts/ci-journal.sh runs them all.
		var keep []oracleChange
		for _, c := range changes {
			if c.name == "ntfslabel+ntfsfix" || c.name == "truncate" {
				keep = append(keep, c)
			}
		}
		changes = keep
	}
	for _, ch := range changes {
		va, fa := openImage(t, ch.a)
		vb, fb := openImage(t, ch.b)
		change, changed := diffRecords(t, va, vb, 0x18)
		change = append(change, diffBitmap(t, va, vb, 0x18)...)
		ops := map[logfile.LogOp]int{}
		for _, c := range change {
			ops[c.Redo]++
		}
		t.Logf("change %s: MFT records %v, log records by redo op %v", ch.name, changed, ops)
		fa.Close()
		fb.Close()
		for _, tc := range oracleCases {
			journals++
			t.Run(ch.name+"/"+tc.name, func(t *testing.T) {
				oracleRun(t, ntfsrecover, check, ch, tc, change, changed)
			})
		}
	}
	t.Logf("%d generated journals compared with ntfsrecover", journals)
}

// oracleRun runs one generated journal through both tools and compares;
// it returns the image unbrick replayed ("" when both refused).
func oracleRun(t *testing.T, ntfsrecover, check string, ch oracleChange, tc oracleCase, change []ntfstest.LogRecord, changed []uint64) string {
	dir := t.TempDir()
	base := filepath.Join(dir, "base.img")
	if tc.onAfter {
		replayCopy(t, ch.b, base)
	} else {
		replayCopy(t, ch.a, base)
	}
	log, _ := tc.journal(change).Build()
	if tc.mutate != nil {
		tc.mutate(log)
	}
	installLog(t, base, log)
	if tc.prepare != nil {
		tc.prepare(t, base, change)
	}
	if k := os.Getenv("LFS_KEEP"); k != "" {
		replayCopy(t, base, filepath.Join(k, ch.name+"-"+tc.name+".img"))
	}
	x := filepath.Join(dir, "ntfsrecover.img")
	y := filepath.Join(dir, "unbrick.img")
	replayCopy(t, base, x)
	replayCopy(t, base, y)
	before := fileSHA(t, base)
	// -k: accept a version 2.0 (Fast Startup) journal; it changes nothing
	// else (ntfsrecover.c read_restart).
	args := []string{"-k", x}
	if tc.undo {
		args = []string{"-k", "-u", "1", x}
	}
	out, err := exec.Command(ntfsrecover, args...).CombinedOutput()
	v, f := openImage(t, y)
	res, perr := Plan(v)
	if tc.weRefuseStale {
		f.Close()
		var ue *UnsupportedLogOpError
		if !errors.As(perr, &ue) || !ue.Undo || !strings.Contains(perr.Error(), "cannot undo") {
			t.Fatalf("want a refusal (undo needed), got %v", perr)
		}
		if fileSHA(t, y) != before {
			t.Fatal("a refused replay changed the volume")
		}
		t.Logf("refused (ntfsrecover went ahead: %s): %v", lastLine(string(out)), perr)
		return ""
	}
	if tc.refuse {
		f.Close()
		if err == nil || perr == nil {
			t.Fatalf("want both to refuse; ntfsrecover: %v (%s), Plan: %v", err, lastLine(string(out)), perr)
		}
		t.Logf("refused: %v; ntfsrecover: %s", perr, lastLine(string(out)))
		if fileSHA(t, x) != before || fileSHA(t, y) != before {
			t.Fatal("a refused replay changed the volume")
		}
		return ""
	}
	var ue *UnsupportedLogOpError
	if tc.undo && errors.As(perr, &ue) && ue.Undo && strings.Contains(perr.Error(), "the sources disagree") {
		// A roll-back shape the redo code refuses too (replay_mft.go).
		f.Close()
		if fileSHA(t, y) != before {
			t.Fatal("a refused replay changed the volume")
		}
		t.Logf("refused (a shape where ntfsrecover and ntfs3 disagree; ntfsrecover: %s): %v", lastLine(string(out)), perr)
		return ""
	}
	oracleFailed := false
	if err != nil && tc.undo && perr == nil {
		// ntfsrecover -u fails on some roll-backs (see the failed
		// action it names); the checks below still judge our result.
		why := lastLine(string(out))
		for _, l := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(l, "* Undoing action") {
				why = l
			}
		}
		t.Logf("ntfsrecover -u failed, no byte comparison: %s", why)
		oracleFailed = true
	} else if err != nil {
		f.Close()
		t.Fatalf("ntfsrecover: %v\n%s", err, out)
	}
	if perr != nil {
		f.Close()
		t.Fatalf("Plan: %v", perr)
	}
	if err := edit.Apply(f, res.Plan, edit.ApplyOptions{NoSync: true}); err != nil {
		f.Close()
		t.Fatalf("Apply: %v", err)
	}
	f.Close()
	t.Logf("redone %d, skipped %d, undone %d, %d write(s); ntfsrecover: %s", len(res.Redone), len(res.Skipped), len(res.Undone), len(res.Plan.Writes), lastLine(string(out)))
	if tc.undo && len(res.Undone) == 0 {
		t.Error("the change reached the disk, but nothing was rolled back")
	}
	if sx, sy := fileSHA(t, x), fileSHA(t, y); sx != sy && !oracleFailed {
		if areas := undoneCreationInstances(t, y, change, tc); len(areas) > 0 && diffOnlyIn(t, x, y, areas) {
			// Rolling back CreateAttribute: ntfsrecover
			// (remove_resident, adjust_instance) also takes the
			// record's next attribute instance back; ntfs3's
			// DeleteAttribute, which we follow, leaves it.
			t.Logf("images differ from ntfsrecover only in the next attribute instance of MFT record(s) whose new attribute was rolled back %v", areas)
		} else if areas := deallocatedRecords(t, y, change); len(areas) > 0 && diffOnlyIn(t, x, y, areas) {
			// DeallocateFileRecordSegment: we advance the sequence
			// number as ntfs3 (Windows' restart logic) and ntfs-3g's own
			// record freeing do; ntfsrecover does not (replay_mft.go).
			// The replayed record must then equal the after-image below.
			t.Logf("images differ from ntfsrecover only inside deallocated MFT record(s) %v (sequence number choice)", areas)
		} else {
			t.Errorf("images differ: ntfsrecover %s, unbrick %s", sx, sy)
			diffBytes(t, x, y)
		}
	}
	if check != "" {
		args := []string{y}
		if ch.dirty {
			args = append(args, "--allow-dirty")
		}
		if o, err := exec.Command(check, args...).CombinedOutput(); err != nil {
			t.Errorf("ntfs-check on the replayed volume: %v\n%s", err, o)
		}
	} else if os.Getenv("CI") == "true" {
		t.Error("the corpus ntfs-check is required under CI")
	}
	// The change is there exactly when it was committed (LSN and update
	// sequence number aside).
	vy, fy := openImage(t, y)
	defer fy.Close()
	want := ch.b
	if tc.undo {
		want = ch.a // rolled back: the before image
	}
	vbb, fbb := openImage(t, want)
	defer fbb.Close()
	for _, n := range changed {
		ry, erry := vy.ReadRecord(n)
		rb, errb := vbb.ReadRecord(n)
		if erry != nil || errb != nil {
			// A record that was never a FILE record stays so when
			// its initialisation is not redone.
			if (tc.committed || errb != nil) && !(tc.undo && erry != nil && errb != nil) {
				t.Errorf("record %d: replayed %v, after-image %v", n, erry, errb)
			}
			continue
		}
		// Compare all but the LSN and the update sequence number (each
		// write advances it; a replay may write a record more often than
		// the tool that made the change).
		// Bytes past the bytes in use mean nothing (NTFS writers differ
		// in what they leave there).
		// Neither do the padding bytes after a resident value.
		same := func(x, y *ntfs.Record) bool {
			u, end := x.USAOffset, y.BytesInUse
			px, py := withoutPadding(x), withoutPadding(y)
			if tc.undo && createsAttr(change, vy, n) {
				// (the next attribute instance: see above)
				copy(px[0x28:0x2A], py[0x28:0x2A])
			}
			return x.BytesInUse == y.BytesInUse && bytes.Equal(px[0x10:u], py[0x10:u]) && bytes.Equal(px[u+2:end], py[u+2:end])
		}
		if tc.undo && initializes(change, vy, n) {
			// A new file record rolled back: no longer in use.
			if ry.InUse() {
				t.Errorf("record %d: the rolled back new file record is still in use", n)
			}
			continue
		}
		if deallocates(change, vy, n) {
			// A freed record: what matters is the in-use flag and the
			// sequence number. (ntfs-3g also zeroes the link count of
			// the record it frees; no logged operation carries that.)
			got := ry.Flags == rb.Flags && ry.Sequence == rb.Sequence
			if got != (tc.committed || tc.undo) {
				t.Errorf("record %d: flags %#x sequence %d, after-image flags %#x sequence %d; committed %v",
					n, ry.Flags, ry.Sequence, rb.Flags, rb.Sequence, tc.committed)
			}
			continue
		}
		if got := same(ry, rb); got != (tc.committed || tc.undo) {
			t.Errorf("record %d holds the expected image: %v, want %v (committed %v, rolled back %v)", n, got, tc.committed || tc.undo, tc.committed, tc.undo)
			for k := 0x10; k < len(ry.Raw); k++ {
				if ry.Raw[k] != rb.Raw[k] {
					t.Logf("record %d byte %#x: replayed %02x, after-image %02x", n, k, ry.Raw[k], rb.Raw[k])
				}
			}
		}
	}
	st, err := vy.JournalState()
	if err != nil || !st.Clean {
		t.Errorf("journal after replay: %+v, %v", st, err)
	}
	// The oracle finds nothing left to replay.
	n, err := exec.Command(ntfsrecover, "-n", "-v", y).CombinedOutput()
	if err != nil || !strings.Contains(string(n), "Volume is clean, nothing to do") {
		t.Errorf("ntfsrecover -n after replay: %v: %s", err, lastLine(string(n)))
	}
	return y
}

// deallocatedRecords returns the volume byte ranges of the MFT records the
// change deallocates.
func deallocatedRecords(t *testing.T, img string, change []ntfstest.LogRecord) [][2]int64 {
	v, f := openImage(t, img)
	defer f.Close()
	var out [][2]int64
	for _, c := range change {
		if c.Redo == logfile.OpDeallocateFileRecordSegment {
			at := c.LCNs[0]*int64(v.Boot().ClusterSize) + int64(c.ClusterIdx)*512
			out = append(out, [2]int64{at, at + int64(v.Boot().RecordSize)})
		}
	}
	return out
}

// withoutPadding returns a copy of r's bytes with the padding after each
// resident attribute's value zeroed.
func withoutPadding(r *ntfs.Record) []byte {
	b := append([]byte(nil), r.Raw...)
	for _, a := range r.Attributes {
		if a.Offset+0x18 > len(b) || b[a.Offset+8] != 0 {
			continue
		}
		end := a.Offset + int(binary.LittleEndian.Uint16(b[a.Offset+0x14:])) + int(binary.LittleEndian.Uint32(b[a.Offset+0x10:]))
		for k := end; k < a.Offset+a.Length && k < len(b); k++ {
			b[k] = 0
		}
	}
	return b
}

// deallocates reports whether the change frees MFT record n of v.
func deallocates(change []ntfstest.LogRecord, v *ntfs.Volume, n uint64) bool {
	cs, rs := int64(v.Boot().ClusterSize), int64(v.Boot().RecordSize)
	for _, c := range change {
		if c.Redo == logfile.OpDeallocateFileRecordSegment && (c.VCN*cs+int64(c.ClusterIdx)*512)/rs == int64(n) {
			return true
		}
	}
	return false
}

// diffOnlyIn reports whether the images at x and y differ only inside the
// given byte ranges.
func diffOnlyIn(t *testing.T, x, y string, areas [][2]int64) bool {
	bx, _ := os.ReadFile(x)
	by, _ := os.ReadFile(y)
	if len(bx) != len(by) {
		return false
	}
	for i := range bx {
		if bx[i] == by[i] {
			continue
		}
		in := false
		for _, a := range areas {
			in = in || (int64(i) >= a[0] && int64(i) < a[1])
		}
		if !in {
			return false
		}
	}
	return true
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func diffBytes(t *testing.T, x, y string) {
	bx, _ := os.ReadFile(x)
	by, _ := os.ReadFile(y)
	n := 0
	for i := range bx {
		if i < len(by) && bx[i] != by[i] {
			if n < 12 {
				t.Logf("byte %#x: ntfsrecover %02x unbrick %02x", i, bx[i], by[i])
			}
			n++
		}
	}
	t.Logf("%d byte(s) differ", n)
}

// ageRestartPage makes the restart page at off older than the other one
// (lower current LSN, older client LSNs), as when a crash hit between the
// writes of the two copies.
func ageRestartPage(log []byte, off int) {
	p := log[off : off+4096]
	usaOff := int(binary.LittleEndian.Uint16(p[4:]))
	_ = logfile.UnprotectPage(p, usaOff, 9)
	ra := p[0x30:]
	cur := binary.LittleEndian.Uint64(ra[0:])
	binary.LittleEndian.PutUint64(ra[0:], cur-0x100)
	binary.LittleEndian.PutUint64(ra[0x40:], cur-0x100)
	binary.LittleEndian.PutUint64(ra[0x48:], cur-0x100)
	if err := mst.ProtectInPlace(p); err != nil {
		panic(err)
	}
}

// stampChangeLSNs gives every MFT record and index block the change acts
// on (and the $MFTMirr copy of a mirrored record) the newest LSN of the
// installed log: the change reached the disk under the write-ahead rule.
func stampChangeLSNs(t *testing.T, img string, change []ntfstest.LogRecord) {
	v, f := openImage(t, img)
	defer f.Close()
	a, err := AnalyzeJournal(v)
	if err != nil {
		t.Fatal(err)
	}
	latest := logfile.LSN(a.Log.Restart.Page.CurrentLSN)
	for _, r := range a.Log.Records {
		if int64(r.LSN-latest) > 0 {
			latest = r.LSN
		}
	}
	cs, rs := int64(v.Boot().ClusterSize), int64(v.Boot().RecordSize)
	lsn := make([]byte, 8)
	binary.LittleEndian.PutUint64(lsn, uint64(latest))
	done := map[int64]bool{}
	for _, c := range change {
		if len(c.LCNs) == 0 {
			continue
		}
		at := c.LCNs[0]*cs + int64(c.ClusterIdx)*512
		if done[at] {
			continue
		}
		magic := make([]byte, 4)
		if _, err := f.ReadAt(magic, at); err != nil {
			t.Fatal(err)
		}
		if string(magic) != "FILE" && string(magic) != "INDX" {
			continue
		}
		done[at] = true
		if _, err := f.WriteAt(lsn, at+8); err != nil {
			t.Fatal(err)
		}
		if string(magic) == "FILE" && c.LCNs[0] >= v.Boot().MFTLCN {
			if n := (c.VCN*cs + int64(c.ClusterIdx)*512) / rs; n < int64(v.MirrorRecords()) {
				m, err := mirrorLCN(v, c.VCN)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := f.WriteAt(lsn, m*cs+int64(c.ClusterIdx)*512+8); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

// initializes reports whether the change makes MFT record n of v a new
// file record.
func initializes(change []ntfstest.LogRecord, v *ntfs.Volume, n uint64) bool {
	cs, rs := int64(v.Boot().ClusterSize), int64(v.Boot().RecordSize)
	for _, c := range change {
		if c.Redo == logfile.OpInitializeFileRecordSegment && (c.VCN*cs+int64(c.ClusterIdx)*512)/rs == int64(n) {
			return true
		}
	}
	return false
}

// undoneCreationInstances returns, for a rolled-back change, the volume
// byte ranges of the next-attribute-instance field of each MFT record (and
// its $MFTMirr copy) in which the change creates an attribute.
func undoneCreationInstances(t *testing.T, img string, change []ntfstest.LogRecord, tc oracleCase) [][2]int64 {
	if !tc.undo {
		return nil
	}
	v, f := openImage(t, img)
	defer f.Close()
	cs, rs := int64(v.Boot().ClusterSize), int64(v.Boot().RecordSize)
	var out [][2]int64
	for _, c := range change {
		if c.Redo != logfile.OpCreateAttribute {
			continue
		}
		at := c.LCNs[0]*cs + int64(c.ClusterIdx)*512 + 0x28
		out = append(out, [2]int64{at, at + 2})
		if n := (c.VCN*cs + int64(c.ClusterIdx)*512) / rs; n < int64(v.MirrorRecords()) {
			if m, err := mirrorLCN(v, c.VCN); err == nil {
				out = append(out, [2]int64{m*cs + int64(c.ClusterIdx)*512 + 0x28, m*cs + int64(c.ClusterIdx)*512 + 0x2A})
			}
		}
	}
	return out
}

// createsAttr reports whether the change creates an attribute in MFT
// record n of v.
func createsAttr(change []ntfstest.LogRecord, v *ntfs.Volume, n uint64) bool {
	cs, rs := int64(v.Boot().ClusterSize), int64(v.Boot().RecordSize)
	for _, c := range change {
		if c.Redo == logfile.OpCreateAttribute && (c.VCN*cs+int64(c.ClusterIdx)*512)/rs == int64(n) {
			return true
		}
	}
	return false
}
