package ntfs

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"strings"
	"testing"
)

// restartSpec describes a synthetic restart page, laid out as Windows lays
// them out (RSTR, USA at 0x1E, restart area at 0x30, one client "NTFS" at
// restart area + 0x40). Tests write these into copies of corpus volumes;
// ntfs-3g's reaction to them is the independent witness (see
// journal_corpus_test.go).
type restartSpec struct {
	major, minor int16
	inUse        bool // client 0 in the in-use list (else in the free list)
	clean        bool // RESTART_VOLUME_IS_CLEAN
	lsn          uint64
	fileSize     int64
	usn          uint16
}

func buildRestartPage(s restartSpec) []byte {
	const sps = 4096
	b := make([]byte, sps)
	copy(b, "RSTR")
	binary.LittleEndian.PutUint16(b[4:], 0x1E)
	binary.LittleEndian.PutUint16(b[6:], 1+sps/512)
	binary.LittleEndian.PutUint32(b[0x10:], sps)
	binary.LittleEndian.PutUint32(b[0x14:], sps)
	binary.LittleEndian.PutUint16(b[0x18:], 0x30)
	binary.LittleEndian.PutUint16(b[0x1A:], uint16(s.minor))
	binary.LittleEndian.PutUint16(b[0x1C:], uint16(s.major))
	ra := b[0x30:]
	binary.LittleEndian.PutUint64(ra[0:], s.lsn)
	binary.LittleEndian.PutUint16(ra[0x08:], 1)
	if s.inUse {
		binary.LittleEndian.PutUint16(ra[0x0A:], logNoClient)
		binary.LittleEndian.PutUint16(ra[0x0C:], 0)
	} else {
		binary.LittleEndian.PutUint16(ra[0x0A:], 0)
		binary.LittleEndian.PutUint16(ra[0x0C:], logNoClient)
	}
	if s.clean {
		binary.LittleEndian.PutUint16(ra[0x0E:], restartFlagClean)
	}
	fs := s.fileSize
	if fs == 0 {
		fs = 0x3ff000
	}
	binary.LittleEndian.PutUint32(ra[0x10:], uint32(67-bits.Len64(uint64(fs))))
	binary.LittleEndian.PutUint16(ra[0x14:], 0x40+logClientSize)
	binary.LittleEndian.PutUint16(ra[0x16:], 0x40)
	binary.LittleEndian.PutUint64(ra[0x18:], uint64(fs))
	binary.LittleEndian.PutUint16(ra[0x24:], 0x30)
	binary.LittleEndian.PutUint16(ra[0x26:], 0x40)
	binary.LittleEndian.PutUint32(ra[0x28:], 0x12345678)
	c := ra[0x40:]
	binary.LittleEndian.PutUint64(c[8:], s.lsn)
	binary.LittleEndian.PutUint16(c[0x10:], logNoClient)
	binary.LittleEndian.PutUint16(c[0x12:], logNoClient)
	binary.LittleEndian.PutUint32(c[0x1C:], 8)
	copy(c[0x20:], []byte{'N', 0, 'T', 0, 'F', 0, 'S', 0})
	usn := s.usn
	if usn == 0 {
		usn = 7
	}
	protectForTest(b, 0x1E, usn)
	return b
}

// protectForTest applies update sequence protection (what a writer does).
func protectForTest(b []byte, usaOff int, usn uint16) {
	binary.LittleEndian.PutUint16(b[usaOff:], usn)
	for i := 1; i <= len(b)/512; i++ {
		tail := i*512 - 2
		copy(b[usaOff+2*i:], b[tail:tail+2])
		binary.LittleEndian.PutUint16(b[tail:], usn)
	}
}

// logImage builds a $LogFile: two restart pages (nil = 0xFF-filled) and
// 0xFF after them.
func logImage(p0, p1 []byte) []byte {
	b := bytes.Repeat([]byte{0xFF}, 64*1024)
	if p0 != nil {
		copy(b, p0)
	}
	if p1 != nil {
		copy(b[4096:], p1)
	}
	return b
}

func TestAnalyzeLogFileVerdicts(t *testing.T) {
	cases := []struct {
		name    string
		p0, p1  []byte
		empty   bool
		clean   bool
		version string
		reason  string
	}{
		{"empty", nil, nil, true, true, "", "empty"},
		{"v1.1 clean flag", buildRestartPage(restartSpec{major: 1, minor: 1, inUse: true, clean: true, lsn: 100}),
			buildRestartPage(restartSpec{major: 1, minor: 1, inUse: true, clean: true, lsn: 90}), false, true, "1.1", "clean flag"},
		{"v1.1 no client", buildRestartPage(restartSpec{major: 1, minor: 1, lsn: 5}), nil, false, true, "1.1", "no client"},
		{"v1.1 unclean", buildRestartPage(restartSpec{major: 1, minor: 1, inUse: true, lsn: 100}),
			buildRestartPage(restartSpec{major: 1, minor: 1, inUse: true, lsn: 99}), false, false, "1.1", "not shut down cleanly"},
		{"v2.0", buildRestartPage(restartSpec{major: 2, minor: 0, inUse: true, lsn: 100}),
			buildRestartPage(restartSpec{major: 2, minor: 0, inUse: true, lsn: 101}), false, false, "2.0", "version 2.0"},
		{"v2.0 even with clean flag", buildRestartPage(restartSpec{major: 2, minor: 0, clean: true, lsn: 100}), nil, false, false, "2.0", "version 2.0"},
		// The more recent page (higher LSN) decides.
		{"newer second page unclean", buildRestartPage(restartSpec{major: 1, minor: 1, inUse: true, clean: true, lsn: 100}),
			buildRestartPage(restartSpec{major: 1, minor: 1, inUse: true, lsn: 200}), false, false, "1.1", "not shut down"},
		{"newer first page clean", buildRestartPage(restartSpec{major: 1, minor: 1, inUse: true, clean: true, lsn: 300}),
			buildRestartPage(restartSpec{major: 2, minor: 0, inUse: true, lsn: 200}), false, true, "1.1", "clean flag"},
	}
	for _, c := range cases {
		img := logImage(c.p0, c.p1)
		st, err := AnalyzeLogFile(bytes.NewReader(img), int64(len(img)))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if st.Empty != c.empty || st.Clean != c.clean || st.Version != c.version || !strings.Contains(st.Reason, c.reason) {
			t.Errorf("%s: empty=%v clean=%v version=%q reason=%q", c.name, st.Empty, st.Clean, st.Version, st.Reason)
		}
	}
}

func TestAnalyzeLogFileTornSecondPageIgnored(t *testing.T) {
	p0 := buildRestartPage(restartSpec{major: 1, minor: 1, inUse: true, clean: true, lsn: 10})
	p1 := buildRestartPage(restartSpec{major: 1, minor: 1, inUse: true, lsn: 20})
	// Tear the second page in its client array: the update sequence no
	// longer matches, and the restart area reaches past the first block.
	p1[1022] ^= 0xFF
	binary.LittleEndian.PutUint16(p1[0x30+0x14:], 0x40+logClientSize+512)
	img := logImage(p0, p1)
	st, err := AnalyzeLogFile(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Pages) != 1 || len(st.Invalid) != 1 || !st.Clean {
		t.Fatalf("pages %d invalid %v clean %v", len(st.Pages), st.Invalid, st.Clean)
	}
}

func TestAnalyzeLogFileGarbageIsUnclean(t *testing.T) {
	img := logImage(nil, nil)
	copy(img, "garbage!")
	st, err := AnalyzeLogFile(bytes.NewReader(img), int64(len(img)))
	if err != nil || st.Clean || st.Empty || !strings.Contains(st.Reason, "no valid restart page") {
		t.Fatalf("%+v %v", st, err)
	}
}

func TestParseRestartPageRejects(t *testing.T) {
	good := func() []byte { return buildRestartPage(restartSpec{major: 1, minor: 1, inUse: true, lsn: 1}) }
	if _, err := ParseRestartPage(good(), 0); err != nil {
		t.Fatalf("good page: %v", err)
	}
	mut := map[string]func(b []byte){
		"version 3.0":         func(b []byte) { binary.LittleEndian.PutUint16(b[0x1C:], 3) },
		"page size 1000":      func(b []byte) { binary.LittleEndian.PutUint32(b[0x10:], 1000) },
		"usa count":           func(b []byte) { binary.LittleEndian.PutUint16(b[6:], 3) },
		"ra offset unaligned": func(b []byte) { binary.LittleEndian.PutUint16(b[0x18:], 0x34) },
		"chkdsk lsn in RSTR":  func(b []byte) { binary.LittleEndian.PutUint64(b[8:], 5) },
		"seq bits":            func(b []byte) { b[0x30+0x10]++ },
		"in-use past clients": func(b []byte) { binary.LittleEndian.PutUint16(b[0x30+0x0C:], 4) },
		"client loop": func(b []byte) {
			binary.LittleEndian.PutUint16(b[0x30+0x40+0x12:], 0) // next = itself
		},
		"bad magic": func(b []byte) { copy(b, "RCRD") },
	}
	for name, f := range mut {
		b := good()
		f(b)
		if _, err := ParseRestartPage(b, 0); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := ParseRestartPage(good(), 512); err == nil {
		t.Error("page at offset 512 with system page size 4096 accepted")
	}
}

func TestRestartPageClients(t *testing.T) {
	p, err := ParseRestartPage(buildRestartPage(restartSpec{major: 2, minor: 0, inUse: true, lsn: 9}), 4096)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Clients) != 1 || p.Clients[0] != "NTFS" || p.Version() != "2.0" || p.LSN() != 9 {
		t.Fatalf("%+v", p)
	}
}

func FuzzRestartPage(f *testing.F) {
	f.Add(buildRestartPage(restartSpec{major: 1, minor: 1, inUse: true, lsn: 1}), int64(0))
	f.Add(buildRestartPage(restartSpec{major: 2, minor: 0, clean: true, lsn: 1}), int64(4096))
	f.Add(bytes.Repeat([]byte{0xFF}, 4096), int64(0))
	f.Fuzz(func(t *testing.T, page []byte, pos int64) {
		p, err := ParseRestartPage(page, pos)
		if err == nil && (p.Version() != "1.1" && p.Version() != "2.0") {
			t.Fatalf("accepted version %s", p.Version())
		}
		if len(page) >= 8192 {
			st, err := AnalyzeLogFile(bytes.NewReader(page), int64(len(page)))
			if err == nil && st.Clean && !st.Empty && st.Version != "1.1" {
				t.Fatalf("clean verdict for version %q", st.Version)
			}
		}
	})
}
