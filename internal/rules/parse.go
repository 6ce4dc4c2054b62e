package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/unbrick/unbrick/internal/inputfile"
)

// FormatID is the value of the "format" member of a rules file.
const FormatID = "unbrick-rules/1"

// MaxRuleFileSize bounds a rules file (inputfile.MaxRules, 4 MiB).
const MaxRuleFileSize = inputfile.MaxRules

// MaxFilesLimit is the largest max_files a rule may set.
const MaxFilesLimit = 100

// DefaultMaxFiles is max_files when a rule does not set it.
const DefaultMaxFiles = 4

// DefaultMaxFilesPerHost is max_files_per_host when a rules file does not
// set it: the most files the whole set may delete on one host (one Windows
// volume), whatever each rule's max_files.
const DefaultMaxFilesPerHost = 8

// MaxFilesPerHostLimit is the largest max_files_per_host a rules file may
// set.
const MaxFilesPerHostLimit = 100

// Options control parsing.
type Options struct {
	// Allow is the directory allowlist; nil means DefaultAllow.
	Allow []string
	// Deny lists directories no rule may name, even inside Allow (each
	// with everything under it); nil means DefaultDeny.
	Deny []string
}

// Error is a problem in a rules file, with where it is.
type Error struct {
	File  string
	Line  int    // 1-based; 0 when unknown
	Rule  string // rule ID or "rule N" when the rule has none yet
	Field string // JSON member, e.g. "faulty_when[1].modified_from"
	Msg   string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Rule != "" {
		b.WriteString(e.Rule + ": ")
	}
	if e.Field != "" {
		b.WriteString("field " + e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

type fileJSON struct {
	Format          string            `json:"format"`
	ID              *string           `json:"id"`
	Version         *string           `json:"version"`
	Expires         *string           `json:"expires"`
	MaxHostsPerRun  *int              `json:"max_hosts_per_run"`
	MaxFilesPerHost *int              `json:"max_files_per_host"`
	Rules           []json.RawMessage `json:"rules"`
}

type ruleJSON struct {
	ID          string          `json:"id"`
	Description string          `json:"description"`
	Directory   string          `json:"directory"`
	Name        string          `json:"name"`
	Action      *string         `json:"action"`
	Service     *string         `json:"service"`
	MaxFiles    *int            `json:"max_files"`
	FaultyWhen  []conditionJSON `json:"faulty_when"`
	GoodWhen    []conditionJSON `json:"good_when"`
}

type conditionJSON struct {
	ModifiedFrom   string   `json:"modified_from"`
	ModifiedBefore string   `json:"modified_before"`
	MinSize        *int64   `json:"min_size"`
	MaxSize        *int64   `json:"max_size"`
	SHA256         []string `json:"sha256"`
	AllZero        *bool    `json:"all_zero"`
}

// ParseFile reads a rules file (see Parse). A device, FIFO, socket or
// directory is refused without blocking (the error wraps
// inputfile.ErrNotRegular), and so is a file over MaxRuleFileSize
// (inputfile.ErrTooLarge); the errors name the path.
func ParseFile(path string, opts Options) (*Set, error) {
	data, err := inputfile.Read(path, "rules file", MaxRuleFileSize)
	if err != nil {
		return nil, err
	}
	return Parse(path, data, opts)
}

// Parse reads a rules file: JSON, {"format": "unbrick-rules/1", "rules":
// [...]}, unknown members refused. Every problem is an *Error naming the
// line, the rule and the field.
func Parse(name string, data []byte, opts Options) (*Set, error) {
	allow, deny := opts.Allow, opts.Deny
	if allow == nil {
		allow = DefaultAllow
	}
	if deny == nil {
		deny = DefaultDeny
	}
	data = bytes.TrimPrefix(data, []byte{0xEF, 0xBB, 0xBF})
	var f fileJSON
	if err := strictUnmarshal(data, &f); err != nil {
		return nil, jsonError(name, data, 0, "", err)
	}
	if f.Format != FormatID {
		return nil, &Error{File: name, Line: lineOfKey(data, 0, "format"), Field: "format", Msg: fmt.Sprintf("is %q; want %q", f.Format, FormatID)}
	}
	if len(f.Rules) == 0 {
		return nil, &Error{File: name, Field: "rules", Msg: "no rules"}
	}
	s := &Set{MaxFilesPerHost: DefaultMaxFilesPerHost}
	if n := f.MaxFilesPerHost; n != nil {
		if *n < 1 || *n > MaxFilesPerHostLimit {
			return nil, &Error{File: name, Line: lineOfKey(data, 0, "max_files_per_host"), Field: "max_files_per_host",
				Msg: fmt.Sprintf("is %d; want 1..%d", *n, MaxFilesPerHostLimit)}
		}
		s.MaxFilesPerHost = *n
	}
	if err := parseMeta(name, data, &f, s); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	pos := 0
	for i, raw := range f.Rules {
		off := bytes.Index(data[pos:], raw)
		if off >= 0 {
			off += pos
			pos = off + len(raw)
		} else {
			off = 0
		}
		line := lineAt(data, off)
		label := fmt.Sprintf("rule %d", i+1)
		var rj ruleJSON
		if err := strictUnmarshal(raw, &rj); err != nil {
			return nil, jsonError(name, data, off, label, err)
		}
		if rj.ID != "" {
			label = fmt.Sprintf("rule %d (%s)", i+1, rj.ID)
		}
		fail := func(field, msg string) error {
			l := line
			if k := strings.SplitN(field, "[", 2)[0]; k != "" {
				if kl := lineOfKey(data, off, k); kl > 0 && kl <= lineAt(data, off+len(raw)) {
					l = kl
				}
			}
			return &Error{File: name, Line: l, Rule: label, Field: field, Msg: msg}
		}
		r, err := buildRule(rj, allow, deny, fail)
		if err != nil {
			return nil, err
		}
		if seen[strings.ToLower(r.ID)] {
			return nil, fail("id", fmt.Sprintf("%q is used twice", r.ID))
		}
		seen[strings.ToLower(r.ID)] = true
		r.line = line
		s.Rules = append(s.Rules, r)
	}
	return s, nil
}

func buildRule(rj ruleJSON, allow, deny []string, fail func(field, msg string) error) (*Rule, error) {
	r := &Rule{ID: strings.TrimSpace(rj.ID), Description: rj.Description, Name: rj.Name, MaxFiles: DefaultMaxFiles, Action: ActionDelete}
	if r.ID == "" {
		return nil, fail("id", "is missing; give the rule a short name such as vendor-2025-01-31")
	}
	if rj.Action != nil && *rj.Action != string(ActionDelete) {
		return buildServiceRule(r, rj, fail)
	}
	if rj.Service != nil {
		return nil, fail("service", `is only for "action": "disable-service"; a rule without action deletes files`)
	}
	dir, err := cleanDir(rj.Directory)
	if err != nil {
		return nil, fail("directory", err.Error())
	}
	if !allowed(dir, allow) {
		return nil, fail("directory", fmt.Sprintf("%q is outside the allowed directories (%s)", dir, strings.Join(allow, ", ")))
	}
	if d, ok := under(dir, deny); ok {
		why := ""
		if strings.EqualFold(strings.Trim(d, "/"), "Windows/System32/drivers/etc") {
			why = " (it holds the hosts file and network settings, not driver files)"
		}
		return nil, fail("directory", fmt.Sprintf("%q is under %s, where rules may never delete%s; name the vendor's own directory", dir, d, why))
	}
	r.Directory = dir
	if err := checkGlob(rj.Name); err != nil {
		return nil, fail("name", err.Error())
	}
	if rj.MaxFiles != nil {
		if *rj.MaxFiles < 1 || *rj.MaxFiles > MaxFilesLimit {
			return nil, fail("max_files", fmt.Sprintf("is %d; want 1..%d", *rj.MaxFiles, MaxFilesLimit))
		}
		r.MaxFiles = *rj.MaxFiles
	}
	if len(rj.FaultyWhen) == 0 {
		return nil, fail("faulty_when", "is missing: a rule needs at least one condition that makes a file faulty")
	}
	for i, cj := range rj.FaultyWhen {
		c, err := buildCondition(cj, fmt.Sprintf("faulty_when[%d]", i), fail)
		if err != nil {
			return nil, err
		}
		r.FaultyWhen = append(r.FaultyWhen, c)
	}
	for i, cj := range rj.GoodWhen {
		c, err := buildCondition(cj, fmt.Sprintf("good_when[%d]", i), fail)
		if err != nil {
			return nil, err
		}
		r.GoodWhen = append(r.GoodWhen, c)
	}
	return r, nil
}

func buildCondition(cj conditionJSON, field string, fail func(field, msg string) error) (Condition, error) {
	var c Condition
	set := false
	parseT := func(s, sub string) (time.Time, error) {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return time.Time{}, fail(field+"."+sub, fmt.Sprintf("%q is not an RFC 3339 time with a zone, like 2024-07-19T04:09:00Z", s))
		}
		return t.UTC(), nil
	}
	var err error
	if cj.ModifiedFrom != "" {
		if c.ModifiedFrom, err = parseT(cj.ModifiedFrom, "modified_from"); err != nil {
			return c, err
		}
		set = true
	}
	if cj.ModifiedBefore != "" {
		if c.ModifiedBefore, err = parseT(cj.ModifiedBefore, "modified_before"); err != nil {
			return c, err
		}
		set = true
	}
	if !c.ModifiedFrom.IsZero() && !c.ModifiedBefore.IsZero() && !c.ModifiedFrom.Before(c.ModifiedBefore) {
		return c, fail(field+".modified_before", "is not after modified_from: the window is empty")
	}
	if cj.MinSize != nil {
		if *cj.MinSize < 0 {
			return c, fail(field+".min_size", "is negative")
		}
		c.MinSize, set = cj.MinSize, true
	}
	if cj.MaxSize != nil {
		if *cj.MaxSize < 0 {
			return c, fail(field+".max_size", "is negative")
		}
		c.MaxSize, set = cj.MaxSize, true
	}
	if c.MinSize != nil && c.MaxSize != nil && *c.MinSize > *c.MaxSize {
		return c, fail(field+".max_size", "is smaller than min_size")
	}
	if cj.SHA256 != nil {
		if len(cj.SHA256) == 0 {
			return c, fail(field+".sha256", "is an empty list")
		}
		for j, h := range cj.SHA256 {
			h = strings.ToLower(strings.TrimSpace(h))
			if len(h) != 64 || strings.Trim(h, "0123456789abcdef") != "" {
				return c, fail(fmt.Sprintf("%s.sha256[%d]", field, j), "is not 64 hex digits")
			}
			c.SHA256 = append(c.SHA256, h)
		}
		set = true
	}
	if cj.AllZero != nil {
		if !*cj.AllZero {
			return c, fail(field+".all_zero", "false means nothing; leave it out")
		}
		c.AllZero, set = true, true
	}
	if !set {
		return c, fail(field, "is empty; a condition needs at least one of modified_from, modified_before, min_size, max_size, sha256, all_zero")
	}
	return c, nil
}

func strictUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("extra data after the JSON value")
	}
	return nil
}

// jsonError turns a decoding error into an *Error with a line number. base
// is the offset of the decoded value inside data.
func jsonError(name string, data []byte, base int, rule string, err error) error {
	e := &Error{File: name, Rule: rule, Msg: err.Error()}
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		e.Line = lineAt(data, base+int(se.Offset))
		e.Msg = "JSON syntax error: " + se.Error()
	case errors.As(err, &te):
		e.Line = lineAt(data, base+int(te.Offset))
		e.Field = te.Field
		e.Msg = fmt.Sprintf("wants %s, not %s", te.Type, te.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		key := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		e.Field = key
		e.Line = lineOfKey(data, base, key)
		e.Msg = "unknown field (see README \"Rules file\" for the fields a rule may have)"
	case err == io.EOF:
		e.Msg = "is empty; want a JSON object {\"format\": \"" + FormatID + "\", \"rules\": [...]}"
	case errors.Is(err, io.ErrUnexpectedEOF):
		e.Msg = "JSON ends too early (a missing } or ]?)"
		e.Line = lineAt(data, len(data))
	}
	return e
}

func lineAt(data []byte, off int) int {
	if off > len(data) {
		off = len(data)
	}
	if off < 0 {
		off = 0
	}
	return bytes.Count(data[:off], []byte{'\n'}) + 1
}

// lineOfKey finds the line of the first "key": member at or after off.
func lineOfKey(data []byte, off int, key string) int {
	if off > len(data) {
		return 0
	}
	k, _ := json.Marshal(key)
	if i := bytes.Index(data[off:], k); i >= 0 {
		return lineAt(data, off+i)
	}
	return 0
}
