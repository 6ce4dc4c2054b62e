package rules

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/unbrick/unbrick/internal/inputfile/inputfiletest"
)

func TestParseFileRefusesSpecialFiles(t *testing.T) {
	inputfiletest.Refused(t, MaxRuleFileSize, func(p string) error {
		_, err := ParseFile(p, Options{})
		return err
	})
}

// vendorRules returns a rules file with n rules, rule i deleting the
// all-zero files chan-i*.sys of drivers/Vendori, each with max_files 1;
// head is put before "rules" (e.g. `"max_files_per_host": 10,`).
func vendorRules(n int, head string) string {
	var rs []string
	for i := 0; i < n; i++ {
		rs = append(rs, fmt.Sprintf(`{"id": "vendor-%d", "directory": "Windows/System32/drivers/Vendor%d", "name": "chan-%d*.sys", "max_files": 1, "faulty_when": [{"all_zero": true}]}`, i, i, i))
	}
	return "{\n\"format\": \"unbrick-rules/1\",\n" + head + "\n\"rules\": [\n" + strings.Join(rs, ",\n") + "\n]\n}\n"
}

func zeroFiles(n int) []*FileFacts {
	var fs []*FileFacts
	for i := 0; i < n; i++ {
		z := true
		fs = append(fs, &FileFacts{Path: fmt.Sprintf("Windows/System32/drivers/Vendor%d/chan-%d-a.sys", i, i), Size: 10, MTime: at("2025-01-01T00:00:00Z"), AllZero: &z, SHA256: strings.Repeat("0", 64)})
	}
	return fs
}

func count(ds []Decision, a Action) int {
	n := 0
	for _, d := range ds {
		if d.Verdict.Action == a {
			n++
		}
	}
	return n
}

// Ten rules with max_files 1 each must not delete ten files on one host:
// the set-wide cap (default 8) makes them all needs-review.
func TestHostCapAcrossRules(t *testing.T) {
	s, err := Parse("ten.json", []byte(vendorRules(10, "")), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s.HostCap() != DefaultMaxFilesPerHost || DefaultMaxFilesPerHost != 8 {
		t.Fatalf("HostCap %d", s.HostCap())
	}
	ds := s.Decide(zeroFiles(10))
	if len(ds) != 10 || count(ds, Delete) != 0 {
		t.Fatalf("10 files, 10 rules: %d decisions, %d deletes", len(ds), count(ds, Delete))
	}
	for _, d := range ds {
		v := d.Verdict
		if v.Action != NeedsReview || v.Cause != CauseHostCap || !strings.Contains(v.Reason, "more than max_files_per_host (8)") {
			t.Errorf("%s: %+v", d.File.Path, v)
		}
		if strings.Contains(v.Cause.String(), "window") || !strings.Contains(v.Cause.String(), "max_files_per_host") {
			t.Errorf("cause text %q", v.Cause)
		}
	}
	// Eight files are within the cap.
	if ds := s.Decide(zeroFiles(8)); count(ds, Delete) != 8 {
		t.Errorf("8 files: %d deletes", count(ds, Delete))
	}
	// The cap counts only what would really be deleted: a rule over its
	// own max_files deletes nothing and does not count.
	files := zeroFiles(8)
	z := true
	files = append(files, &FileFacts{Path: "Windows/System32/drivers/Vendor0/chan-0-b.sys", Size: 10, MTime: at("2025-01-01T00:00:00Z"), AllZero: &z})
	ds = s.Decide(files)
	if count(ds, Delete) != 7 {
		t.Errorf("rule 0 over max_files plus 7 others: %d deletes, want 7", count(ds, Delete))
	}
	for _, d := range ds {
		if strings.Contains(d.File.Path, "Vendor0/") && (d.Verdict.Cause != CauseMaxFiles || !strings.Contains(d.Verdict.Reason, "more than its max_files (1)")) {
			t.Errorf("%s: %+v", d.File.Path, d.Verdict)
		}
	}
	// A Set built in code (MaxFilesPerHost 0) has the default cap too.
	bare := &Set{Rules: s.Rules}
	if ds := bare.Decide(zeroFiles(9)); count(ds, Delete) != 0 {
		t.Errorf("bare set: %d deletes", count(ds, Delete))
	}
	if err := bare.CheckHostCap(8); err != nil {
		t.Errorf("CheckHostCap(8): %v", err)
	}
	if err := bare.CheckHostCap(9); err == nil || !strings.Contains(err.Error(), "max_files_per_host (8)") {
		t.Errorf("CheckHostCap(9): %v", err)
	}
}

func TestHostCapInRulesFile(t *testing.T) {
	s, err := Parse("cap.json", []byte(vendorRules(12, `"max_files_per_host": 10,`)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s.MaxFilesPerHost != 10 || s.HostCap() != 10 {
		t.Fatalf("MaxFilesPerHost %d", s.MaxFilesPerHost)
	}
	if ds := s.Decide(zeroFiles(10)); count(ds, Delete) != 10 {
		t.Errorf("10 files, cap 10: %d deletes", count(ds, Delete))
	}
	if ds := s.Decide(zeroFiles(11)); count(ds, Delete) != 0 || !strings.Contains(ds[0].Verdict.Reason, "would delete 11 files on this volume, more than max_files_per_host (10)") {
		t.Errorf("11 files, cap 10: %d deletes, %+v", count(ds, Delete), ds[0].Verdict)
	}
	for _, c := range []struct{ v, want string }{
		{"0", "cap.json:3: field max_files_per_host: is 0; want 1..100"},
		{"101", "field max_files_per_host: is 101; want 1..100"},
		{"-1", "is -1"},
		{`"8"`, "field max_files_per_host: wants int"},
	} {
		_, err := Parse("cap.json", []byte(vendorRules(1, `"max_files_per_host": `+c.v+`,`)), Options{})
		var re *Error
		if !errors.As(err, &re) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("max_files_per_host %s: %v, want %q", c.v, err, c.want)
		}
	}
	if s := Builtin(); s.HostCap() != DefaultMaxFilesPerHost {
		t.Errorf("builtin cap %d", s.HostCap())
	}
}

// A needs-review verdict names its real cause, not always the time window.
func TestReviewCauses(t *testing.T) {
	s := Builtin()
	// Outside the window and not all zero: the built-in's two conditions.
	v, _ := s.Evaluate(cs("C-00000291-00000000-00000032.sys", "2024-07-18T00:00:00Z", 100, nonzero(100)))
	if v.Action != NeedsReview || v.Cause != CauseWindow|CauseNotZero ||
		!strings.Contains(v.Reason, "faulty_when[0]: last written 2024-07-18 00:00:00 UTC, not inside the window [2024-07-19 04:09:00 UTC, 2024-07-19 05:27:00 UTC)") ||
		!strings.Contains(v.Reason, "faulty_when[1]: content (100 bytes) is not all zero bytes") ||
		!strings.Contains(v.Reason, "host clock") {
		t.Errorf("builtin, early: %+v", v)
	}

	rule := func(cond string) *Set {
		js := `{"format": "unbrick-rules/1", "rules": [{"id": "acme-1", "directory": "Windows/System32/drivers/Acme", "name": "acme*.bin", "faulty_when": [` + cond + `]}]}`
		s, err := Parse("acme.json", []byte(js), Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	file := func(size int64, mtime string) *FileFacts {
		z := false
		return &FileFacts{Path: "Windows/System32/drivers/Acme/acme-17.bin", Size: size, MTime: at(mtime), AllZero: &z, SHA256: strings.Repeat("1", 64)}
	}
	cases := []struct {
		name, cond string
		f          *FileFacts
		want       Cause
		reason     string
		notText    string
	}{
		{"size", `{"modified_from": "2025-03-01T10:00:00Z", "modified_before": "2025-03-01T11:00:00Z", "min_size": 1000, "max_size": 2000}`,
			file(5000, "2025-03-01T10:30:00Z"), CauseSize, "faulty_when[0]: size 5000 bytes, not within [1000, 2000]", "window"},
		{"max_size", `{"max_size": 2000}`, file(5000, "2025-03-01T10:30:00Z"), CauseSize, "size 5000 bytes, not at most 2000", "window"},
		{"window+size", `{"modified_before": "2025-03-01T00:00:00Z", "min_size": 10000}`,
			file(5000, "2025-03-01T10:30:00Z"), CauseWindow | CauseSize, "not before 2025-03-01 00:00:00 UTC; faulty_when[0]: size 5000 bytes, not at least 10000", ""},
		{"digest", `{"sha256": ["` + strings.Repeat("a", 64) + `"]}`, file(5000, "2025-03-01T10:30:00Z"), CauseDigest, "SHA-256 " + strings.Repeat("1", 64) + " is not on the rule's list", "window"},
	}
	for _, c := range cases {
		v, ok := rule(c.cond).Evaluate(c.f)
		if !ok || v.Action != NeedsReview || v.Cause != c.want || !strings.Contains(v.Reason, c.reason) {
			t.Errorf("%s: %+v, want cause %v and reason containing %q", c.name, v, c.want, c.reason)
		}
		if c.notText != "" && (strings.Contains(v.Cause.String(), c.notText) || strings.Contains(v.Reason, "host clock")) {
			t.Errorf("%s: cause %q / reason %q mentions the time window", c.name, v.Cause, v.Reason)
		}
	}

	// max_files: the cause is the limit, not the window.
	var files []*FileFacts
	for i := 0; i < 5; i++ {
		files = append(files, cs(fmt.Sprintf("C-00000291-%d.sys", i), "2024-07-19T04:10:00Z", 10, nonzero(10)))
	}
	for _, d := range s.Decide(files) {
		if d.Verdict.Cause != CauseMaxFiles || strings.Contains(d.Verdict.Cause.String(), "window") {
			t.Errorf("max_files: %+v", d.Verdict)
		}
	}
	// A directory and unreadable content have causes of their own.
	d := &FileFacts{Path: "Windows/System32/drivers/CrowdStrike/C-00000291-dir.sys", IsDir: true, MTime: at("2024-07-19T04:10:00Z")}
	if v, _ := s.Evaluate(d); v.Cause != CauseDirectory {
		t.Errorf("directory: %+v", v)
	}
	u := cs("C-00000291-x.sys", "2024-07-18T00:00:00Z", 10, nil)
	if v, _ := s.Evaluate(u); v.Cause != CauseUnreadable {
		t.Errorf("unreadable: %+v", v)
	}
	// Delete and Keep carry no cause.
	if v, _ := s.Evaluate(cs("C-00000291-x.sys", "2024-07-19T04:10:00Z", 10, nonzero(10))); v.Action != Delete || v.Cause != 0 {
		t.Errorf("delete: %+v", v)
	}
	// Causes of several files combine for a host-level message.
	all := CauseWindow | CauseSize | CauseMaxFiles | CauseHostCap
	if got := all.String(); got != "last-write time outside the faulty window; size outside the faulty size bounds; more matching faulty files than the rule's max_files; more faulty files on the host than max_files_per_host" {
		t.Errorf("String: %q", got)
	}
	if Cause(0).String() != "no cause recorded" {
		t.Errorf("zero: %q", Cause(0).String())
	}
}

// drivers/etc (the hosts file) and everything under it is refused by
// default, whatever the allowlist; a neighbour that merely starts with
// "etc" is not.
func TestDenyDriversEtc(t *testing.T) {
	doc := func(dir string) []byte {
		return []byte(`{"format": "unbrick-rules/1", "rules": [{"id": "hosts-1", "directory": ` + dir + `, "name": "hosts*", "faulty_when": [{"all_zero": true}]}]}`)
	}
	for _, dir := range []string{`"Windows/System32/drivers/etc"`, `"windows\\system32\\DRIVERS\\ETC"`, `"Windows/System32/drivers/etc/"`, `"Windows/System32/drivers/etc/sub"`} {
		for _, o := range []Options{{}, {Allow: []string{"Windows/System32"}}} {
			_, err := Parse("etc.json", doc(dir), o)
			var re *Error
			if !errors.As(err, &re) || re.Field != "directory" || !strings.Contains(err.Error(), "where rules may never delete") || !strings.Contains(err.Error(), "Windows/System32/drivers/etc") {
				t.Errorf("%s (allow %v): %v", dir, o.Allow, err)
			}
		}
	}
	if _, err := Parse("etc.json", doc(`"Windows/System32/drivers/etcetera"`), Options{}); err != nil {
		t.Errorf("drivers/etcetera: %v", err)
	}
	// An explicit, empty denylist lifts it (for tests and special setups).
	if _, err := Parse("etc.json", doc(`"Windows/System32/drivers/etc"`), Options{Deny: []string{}}); err != nil {
		t.Errorf("explicit empty Deny: %v", err)
	}
	if len(DefaultDeny) != 1 || DefaultDeny[0] != "Windows/System32/drivers/etc" {
		t.Errorf("DefaultDeny %v", DefaultDeny)
	}
}
