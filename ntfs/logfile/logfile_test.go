package logfile_test

import (
	"bytes"
	"encoding/binary"
	"github.com/unbrick/unbrick/ntfs/internal/ntfstest"
	"github.com/unbrick/unbrick/ntfs/logfile"
	"strings"
	"testing"
)

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
		{"v1.1 clean flag", ntfstest.BuildRestartPage(ntfstest.RestartSpec{Major: 1, Minor: 1, InUse: true, Clean: true, LSN: 100}),
			ntfstest.BuildRestartPage(ntfstest.RestartSpec{Major: 1, Minor: 1, InUse: true, Clean: true, LSN: 90}), false, true, "1.1", "clean flag"},
		{"v1.1 no client", ntfstest.BuildRestartPage(ntfstest.RestartSpec{Major: 1, Minor: 1, LSN: 5}), nil, false, true, "1.1", "no client"},
		{"v1.1 unclean", ntfstest.BuildRestartPage(ntfstest.RestartSpec{Major: 1, Minor: 1, InUse: true, LSN: 100}),
			ntfstest.BuildRestartPage(ntfstest.RestartSpec{Major: 1, Minor: 1, InUse: true, LSN: 99}), false, false, "1.1", "not shut down cleanly"},
		{"v2.0", ntfstest.BuildRestartPage(ntfstest.RestartSpec{Major: 2, Minor: 0, InUse: true, LSN: 100}),
			ntfstest.BuildRestartPage(ntfstest.RestartSpec{Major: 2, Minor: 0, InUse: true, LSN: 101}), false, false, "2.0", "version 2.0"},
		{"v2.0 even with clean flag", ntfstest.BuildRestartPage(ntfstest.RestartSpec{Major: 2, Minor: 0, Clean: true, LSN: 100}), nil, false, false, "2.0", "version 2.0"},
		// The more recent page (higher LSN) decides.
		{"newer second page unclean", ntfstest.BuildRestartPage(ntfstest.RestartSpec{Major: 1, Minor: 1, InUse: true, Clean: true, LSN: 100}),
			ntfstest.BuildRestartPage(ntfstest.RestartSpec{Major: 1, Minor: 1, InUse: true, LSN: 200}), false, false, "1.1", "not shut down"},
		{"newer first page clean", ntfstest.BuildRestartPage(ntfstest.RestartSpec{Major: 1, Minor: 1, InUse: true, Clean: true, LSN: 300}),
			ntfstest.BuildRestartPage(ntfstest.RestartSpec{Major: 2, Minor: 0, InUse: true, LSN: 200}), false, true, "1.1", "clean flag"},
	}
	for _, c := range cases {
		img := ntfstest.LogImage(c.p0, c.p1)
		st, err := logfile.AnalyzeLogFile(bytes.NewReader(img), int64(len(img)))
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
	p0 := ntfstest.BuildRestartPage(ntfstest.RestartSpec{Major: 1, Minor: 1, InUse: true, Clean: true, LSN: 10})
	p1 := ntfstest.BuildRestartPage(ntfstest.RestartSpec{Major: 1, Minor: 1, InUse: true, LSN: 20})
	// Tear the second page in its client array: the update sequence no
	// longer matches, and the restart area reaches past the first block.
	p1[1022] ^= 0xFF
	binary.LittleEndian.PutUint16(p1[0x30+0x14:], 0x40+logfile.ClientRecordSize+512)
	img := ntfstest.LogImage(p0, p1)
	st, err := logfile.AnalyzeLogFile(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Pages) != 1 || len(st.Invalid) != 1 || !st.Clean {
		t.Fatalf("pages %d invalid %v clean %v", len(st.Pages), st.Invalid, st.Clean)
	}
}

func TestAnalyzeLogFileGarbageIsUnclean(t *testing.T) {
	img := ntfstest.LogImage(nil, nil)
	copy(img, "garbage!")
	st, err := logfile.AnalyzeLogFile(bytes.NewReader(img), int64(len(img)))
	if err != nil || st.Clean || st.Empty || !strings.Contains(st.Reason, "no valid restart page") {
		t.Fatalf("%+v %v", st, err)
	}
}

func TestParseRestartPageRejects(t *testing.T) {
	good := func() []byte {
		return ntfstest.BuildRestartPage(ntfstest.RestartSpec{Major: 1, Minor: 1, InUse: true, LSN: 1})
	}
	if _, err := logfile.ParseRestartPage(good(), 0); err != nil {
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
		if _, err := logfile.ParseRestartPage(b, 0); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := logfile.ParseRestartPage(good(), 512); err == nil {
		t.Error("page at offset 512 with system page size 4096 accepted")
	}
}

func TestRestartPageClients(t *testing.T) {
	p, err := logfile.ParseRestartPage(ntfstest.BuildRestartPage(ntfstest.RestartSpec{Major: 2, Minor: 0, InUse: true, LSN: 9}), 4096)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Clients) != 1 || p.Clients[0] != "NTFS" || p.Version() != "2.0" || p.LSN() != 9 {
		t.Fatalf("%+v", p)
	}
}

func FuzzRestartPage(f *testing.F) {
	f.Add(ntfstest.BuildRestartPage(ntfstest.RestartSpec{Major: 1, Minor: 1, InUse: true, LSN: 1}), int64(0))
	f.Add(ntfstest.BuildRestartPage(ntfstest.RestartSpec{Major: 2, Minor: 0, Clean: true, LSN: 1}), int64(4096))
	f.Add(bytes.Repeat([]byte{0xFF}, 4096), int64(0))
	f.Fuzz(func(t *testing.T, page []byte, pos int64) {
		p, err := logfile.ParseRestartPage(page, pos)
		if err == nil && (p.Version() != "1.1" && p.Version() != "2.0") {
			t.Fatalf("accepted version %s", p.Version())
		}
		if len(page) >= 8192 {
			st, err := logfile.AnalyzeLogFile(bytes.NewReader(page), int64(len(page)))
			if err == nil && st.Clean && !st.Empty && st.Version != "1.1" {
				t.Fatalf("clean verdict for version %q", st.Version)
			}
		}
	})
}
