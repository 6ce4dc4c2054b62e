package rules

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func cs(name, mtime string, size int64, content []byte) *FileFacts {
	f := &FileFacts{Path: "Windows/System32/drivers/CrowdStrike/" + name, Size: size, MTime: at(mtime)}
	if content != nil {
		f.Open = func() (io.Reader, error) { return bytes.NewReader(content), nil }
	}
	return f
}

func nonzero(n int) []byte { b := make([]byte, n); b[n/2] = 0xAA; return b }

func TestBuiltinParses(t *testing.T) {
	s := Builtin()
	if len(s.Rules) != 1 || s.Rules[0].ID != BuiltinID || s.Rules[0].Directory != "Windows/System32/drivers/CrowdStrike" {
		t.Fatalf("builtin: %+v", s.Rules)
	}
	if d := s.Dirs(); len(d) != 1 || d[0] != "Windows/System32/drivers/CrowdStrike" {
		t.Errorf("Dirs %v", d)
	}
}

func TestCrowdStrikeBoundaries(t *testing.T) {
	s := Builtin()
	cases := []struct {
		mtime string
		want  Action
	}{
		{"2024-07-19T04:08:59Z", NeedsReview},
		{"2024-07-19T04:08:59.9999999Z", NeedsReview},
		{"2024-07-19T04:09:00Z", Delete},
		{"2024-07-19T04:09:27Z", Delete}, // the corpus's faulty copy
		{"2024-07-19T05:26:59.9999999Z", Delete},
		{"2024-07-19T05:27:00Z", Keep},
		{"2024-07-19T05:27:14Z", Keep}, // the corpus's good copy
		{"2024-07-20T10:00:00Z", Keep},
		{"2024-07-18T23:00:00Z", NeedsReview},
		{"2024-07-19T06:09:27+02:00", Delete}, // same instant as 04:09:27Z
		{"1601-01-01T00:00:00Z", NeedsReview},
	}
	for _, c := range cases {
		f := cs("C-00000291-00000000-00000032.sys", c.mtime, 40960, nonzero(40960))
		v, ok := s.Evaluate(f)
		if !ok || v.Action != c.want || v.Rule != BuiltinID {
			t.Errorf("%s: %v %+v, want %s", c.mtime, ok, v, c.want)
		}
		if v.Reason == "" {
			t.Errorf("%s: no reason", c.mtime)
		}
	}
	// All-zero content is faulty at any time, and the reason says so.
	for _, mt := range []string{"2024-07-18T00:00:00Z", "2024-07-19T05:27:14Z"} {
		v, _ := s.Evaluate(cs("C-00000291-00000000-00000032.sys", mt, 4096, make([]byte, 4096)))
		if v.Action != Delete || !strings.Contains(v.Reason, "all zero") {
			t.Errorf("all-zero at %s: %+v", mt, v)
		}
	}
	// An empty file is not "all zero": needs review (outside the windows).
	if v, _ := s.Evaluate(cs("C-00000291-x.sys", "2024-07-18T00:00:00Z", 0, []byte{})); v.Action != NeedsReview {
		t.Errorf("empty file: %+v", v)
	}
	// Content unreadable when needed: needs review, never delete or keep.
	f := cs("C-00000291-x.sys", "2024-07-18T00:00:00Z", 10, nil)
	f.Open = func() (io.Reader, error) { return nil, errors.New("bad cluster") }
	if v, _ := s.Evaluate(f); v.Action != NeedsReview || !strings.Contains(v.Reason, "bad cluster") {
		t.Errorf("unreadable: %+v", v)
	}
	// Size mismatch between directory and content is caught.
	if v, _ := s.Evaluate(cs("C-00000291-x.sys", "2024-07-18T00:00:00Z", 100, make([]byte, 10))); v.Action != NeedsReview {
		t.Errorf("short content: %+v", v)
	}
}

func TestGlobAndDirectoryMatching(t *testing.T) {
	s := Builtin()
	match := []string{
		"Windows/System32/drivers/CrowdStrike/C-00000291-00000000-00000032.sys",
		"windows/system32/DRIVERS/crowdstrike/c-00000291-00000000-00000033.SYS",
		`Windows\System32\drivers\CrowdStrike\C-00000291.sys`,
		"/Windows/System32/drivers/CrowdStrike/C-00000291x.sys",
	}
	for _, p := range match {
		if _, ok := s.Evaluate(&FileFacts{Path: p, MTime: at("2024-07-19T04:10:00Z"), Size: 1}); !ok {
			t.Errorf("%s: not matched", p)
		}
	}
	nomatch := []string{
		"Windows/System32/drivers/CrowdStrike/C-00000290-00000000-00000015.sys",
		"Windows/System32/drivers/CrowdStrike/csagent.sys",
		"Windows/System32/drivers/CrowdStrike/C-00000291-00000000-00000032.sys.bak",
		"Windows/System32/drivers/C-00000291-00000000-00000032.sys",
		"Windows/System32/drivers/CrowdStrike/sub/C-00000291-00000000-00000032.sys",
		"Other/System32/drivers/CrowdStrike/C-00000291-00000000-00000032.sys",
	}
	for _, p := range nomatch {
		if v, ok := s.Evaluate(&FileFacts{Path: p, MTime: at("2024-07-19T04:10:00Z"), Size: 1}); ok {
			t.Errorf("%s: matched: %+v", p, v)
		}
	}
	// The 8.3 name does not match the glob; the long name given in Name does.
	f := &FileFacts{Path: "Windows/System32/drivers/CrowdStrike/C-0000~4.SYS", Name: "C-00000291-00000000-00000032.sys", MTime: at("2024-07-19T04:10:00Z"), Size: 1}
	if v, ok := s.Evaluate(f); !ok || v.Action != Delete {
		t.Errorf("long name via Name: %v %+v", ok, v)
	}
	// A directory is never deleted.
	d := &FileFacts{Path: "Windows/System32/drivers/CrowdStrike/C-00000291-dir.sys", IsDir: true, MTime: at("2024-07-19T04:10:00Z")}
	if v, _ := s.Evaluate(d); v.Action != NeedsReview {
		t.Errorf("directory: %+v", v)
	}
}

func TestDecideMaxFiles(t *testing.T) {
	s := Builtin()
	var files []*FileFacts
	for i := 0; i < 5; i++ {
		files = append(files, cs("C-00000291-0000000"+string(rune('0'+i))+".sys", "2024-07-19T04:10:00Z", 10, nonzero(10)))
	}
	files = append(files, cs("csagent.sys", "2024-07-19T04:10:00Z", 10, nonzero(10)))
	ds := s.Decide(files)
	if len(ds) != 5 {
		t.Fatalf("%d decisions", len(ds))
	}
	for _, d := range ds {
		if d.Verdict.Action != NeedsReview || !strings.Contains(d.Verdict.Reason, "more than its max_files (4)") {
			t.Errorf("%s: %+v", d.File.Path, d.Verdict)
		}
	}
	ds = s.Decide(files[:4])
	for _, d := range ds {
		if d.Verdict.Action != Delete {
			t.Errorf("4 files: %s: %+v", d.File.Path, d.Verdict)
		}
	}
}

func TestRulesFile(t *testing.T) {
	s, err := ParseFile("testdata/example.json", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Rules) != 2 {
		t.Fatalf("%d rules", len(s.Rules))
	}
	r := s.Rules[0]
	bad := "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" // sha256("test")
	cases := []struct {
		f    *FileFacts
		want Action
	}{
		{&FileFacts{Path: "Windows/System32/drivers/Acme/acme-chan-17.bin", Size: 4, MTime: at("2025-01-01T00:00:00Z"), Open: func() (io.Reader, error) { return strings.NewReader("test"), nil }}, Delete},
		{&FileFacts{Path: "Windows/System32/drivers/Acme/acme-chan-17.bin", Size: 4, MTime: at("2025-01-01T00:00:00Z"), SHA256: bad}, Delete},
		{&FileFacts{Path: "Windows/System32/drivers/Acme/ACME-CHAN-17b.bin", Size: 1500, MTime: at("2025-03-01T10:30:00Z"), SHA256: strings.Repeat("0", 64), AllZero: new(bool)}, Delete},
		{&FileFacts{Path: "Windows/System32/drivers/Acme/acme-chan-17b.bin", Size: 5000, MTime: at("2025-03-01T10:30:00Z"), SHA256: strings.Repeat("0", 64), AllZero: new(bool)}, NeedsReview},
		{&FileFacts{Path: "Windows/System32/drivers/Acme/acme-chan-17b.bin", Size: 5000, MTime: at("2025-03-01T11:30:00Z"), SHA256: strings.Repeat("0", 64), AllZero: new(bool)}, Keep},
	}
	for i, c := range cases {
		v := r.Evaluate(c.f)
		if v.Action != c.want {
			t.Errorf("case %d: %+v, want %s", i, v, c.want)
		}
	}
	if s.Rules[1].MaxFiles != 1 || !strings.EqualFold(s.Rules[1].Directory, "Windows/System32/drivers/Other/sub") {
		t.Errorf("rule 2: %+v", s.Rules[1])
	}
}

func TestMalformedRules(t *testing.T) {
	rule := func(body string) string {
		return "{\n  \"format\": \"unbrick-rules/1\",\n  \"rules\": [\n    {\n" + body + "\n    }\n  ]\n}\n"
	}
	ok := `      "id": "x-1",
      "directory": "Windows/System32/drivers/Acme",
      "name": "acme*.sys",
      "faulty_when": [{"all_zero": true}]`
	if _, err := Parse("ok.json", []byte(rule(ok)), Options{}); err != nil {
		t.Fatalf("valid rule refused: %v", err)
	}
	cases := []struct {
		name, data, want string
	}{
		{"syntax", "{\n \"format\": \"unbrick-rules/1\",\n \"rules\": [ {\"id\": } ]\n}", "syntax.json:3: JSON syntax error"},
		{"truncated", "{\n \"format\": \"unbrick-rules/1\",\n \"rules\": [", "truncated.json:3: JSON ends too early"},
		{"empty", "", "is empty"},
		{"format", `{"format": "v2", "rules": []}`, `field format: is "v2"; want "unbrick-rules/1"`},
		{"norules", `{"format": "unbrick-rules/1", "rules": []}`, "no rules"},
		{"unknown", rule(ok + ",\n      \"dirs\": \"x\""), `unknown.json:9: rule 1: field dirs: unknown field`},
		{"type", rule(strings.Replace(ok, `"acme*.sys"`, `7`, 1)), "type.json:7: rule 1: field name: wants string"},
		{"noid", rule(strings.Replace(ok, `"id": "x-1",`, ``, 1)), "noid.json:4: rule 1: field id: is missing"},
		{"dotdot", rule(strings.Replace(ok, "drivers/Acme", "drivers/Acme/../../config", 1)), `dotdot.json:6: rule 1 (x-1): field directory: has a ".." element`},
		{"dotdot2", rule(strings.Replace(ok, "Windows/System32/drivers/Acme", "../Windows/System32/drivers/Acme", 1)), `field directory: has a ".." element`},
		{"absolute", rule(strings.Replace(ok, "Windows/System32", "/Windows/System32", 1)), "field directory: is absolute"},
		{"backslash-abs", rule(strings.Replace(ok, "Windows/System32/drivers/Acme", `\\Windows\\System32\\drivers\\Acme`, 1)), "field directory: is absolute"},
		{"drive", rule(strings.Replace(ok, "Windows/System32", "C:/Windows/System32", 1)), "field directory: has a drive letter"},
		{"outside", rule(strings.Replace(ok, "drivers/Acme", "config", 1)), `field directory: "Windows/System32/config" is outside the allowed directories`},
		{"driversitself", rule(strings.Replace(ok, "Windows/System32/drivers/Acme", "Windows/System32/drivers", 1)), "is outside the allowed directories"},
		{"wilddir", rule(strings.Replace(ok, "drivers/Acme", "drivers/*", 1)), "has a wildcard"},
		{"broad", rule(strings.Replace(ok, `"acme*.sys"`, `"*.*"`, 1)), "field name: is too broad"},
		{"slash", rule(strings.Replace(ok, `"acme*.sys"`, `"../acme*.sys"`, 1)), "field name: has a path separator"},
		{"badglob", rule(strings.Replace(ok, `"acme*.sys"`, `"acme[.sys"`, 1)), "field name: is not a valid glob"},
		{"nofaulty", rule(strings.Replace(ok, `"faulty_when": [{"all_zero": true}]`, `"faulty_when": []`, 1)), "field faulty_when: is missing"},
		{"emptycond", rule(strings.Replace(ok, `{"all_zero": true}`, `{}`, 1)), "field faulty_when[0]: is empty"},
		{"badtime", rule(strings.Replace(ok, `{"all_zero": true}`, `{"modified_from": "2024-07-19 04:09"}`, 1)), `field faulty_when[0].modified_from: "2024-07-19 04:09" is not an RFC 3339 time`},
		{"window", rule(strings.Replace(ok, `{"all_zero": true}`, `{"modified_from": "2024-07-19T05:00:00Z", "modified_before": "2024-07-19T04:00:00Z"}`, 1)), "the window is empty"},
		{"sha", rule(strings.Replace(ok, `{"all_zero": true}`, `{"sha256": ["abc"]}`, 1)), "field faulty_when[0].sha256[0]: is not 64 hex digits"},
		{"size", rule(strings.Replace(ok, `{"all_zero": true}`, `{"min_size": 10, "max_size": 5}`, 1)), "is smaller than min_size"},
		{"maxfiles", rule(ok + ",\n      \"max_files\": 0"), "field max_files: is 0; want 1..100"},
		{"zerofalse", rule(strings.Replace(ok, `true`, `false`, 1)), "false means nothing"},
		{"dup", "{\"format\": \"unbrick-rules/1\", \"rules\": [" + "{" + ok + "}, {" + ok + "}]}", `field id: "x-1" is used twice`},
	}
	for _, c := range cases {
		_, err := Parse(c.name+".json", []byte(c.data), Options{})
		var re *Error
		if err == nil || !errors.As(err, &re) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
	}
	// A custom allowlist can admit another tree, and only that.
	if _, err := Parse("x.json", []byte(rule(strings.Replace(ok, "Windows/System32/drivers/Acme", "Program Files/Acme/bin", 1))), Options{Allow: []string{"Program Files/Acme"}}); err != nil {
		t.Errorf("custom allowlist: %v", err)
	}
}
