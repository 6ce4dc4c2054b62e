package rules

import (
	_ "embed"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Set is an ordered list of rules. The first rule whose directory and name
// match a file decides it.
type Set struct {
	Rules []*Rule
	// MaxFilesPerHost caps the files the whole set deletes on one host
	// (one Windows volume; see Decide): max_files_per_host in a rules file,
	// 1..MaxFilesPerHostLimit. 0 means DefaultMaxFilesPerHost.
	MaxFilesPerHost int
	// ID and Version are the pack's "id" and "version" ("" when absent).
	ID, Version string
	// Expires is when the pack stops being good ("expires"; zero: never).
	// LoadPack refuses a pack at or after it.
	Expires time.Time
	// MaxHostsPerRun is "max_hosts_per_run": the most targets one fix run
	// may work on with this pack; 0 means no limit.
	MaxHostsPerRun int
}

// HostCap returns the per-host deletion cap in force: MaxFilesPerHost, or
// DefaultMaxFilesPerHost when that is 0 (negative counts as 0; anything
// above MaxFilesPerHostLimit as that limit).
func (s *Set) HostCap() int {
	switch n := s.MaxFilesPerHost; {
	case n <= 0:
		return DefaultMaxFilesPerHost
	case n > MaxFilesPerHostLimit:
		return MaxFilesPerHostLimit
	default:
		return n
	}
}

// CheckHostCap returns an error naming the cap when deleting n files on
// one host would exceed it, for a caller that adds deletions after Decide
// (a technician's approvals, say). Decide applies the cap itself.
func (s *Set) CheckHostCap(n int) error {
	if c := s.HostCap(); n > c {
		return fmt.Errorf("the rules would delete %d files on this host, more than max_files_per_host (%d); nothing is deleted automatically: check the files, or raise max_files_per_host in the rules file (at most %d)", n, c, MaxFilesPerHostLimit)
	}
	return nil
}

// BuiltinID is the ID of the built-in rule.
const BuiltinID = "crowdstrike-2024-07-19"

//go:embed builtin/crowdstrike-2024-07-19.json
var builtinJSON []byte

// Builtin returns the built-in rule set: crowdstrike-2024-07-19. It is
// defined in builtin/crowdstrike-2024-07-19.json, in the same format as a
// --rules file, and goes through the same parser and checks.
func Builtin() *Set {
	s, err := Parse("builtin/crowdstrike-2024-07-19.json", builtinJSON, Options{})
	if err != nil {
		panic("built-in rule does not parse: " + err.Error()) // caught by TestBuiltinParses
	}
	return s
}

// BuiltinJSON returns the built-in rule file, as an example for --rules.
func BuiltinJSON() []byte { return append([]byte(nil), builtinJSON...) }

// Dirs returns the directories the rules look in (deduplicated, case
// ignored), so the engine lists only those.
func (s *Set) Dirs() []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range s.Rules {
		if !r.DeletesFiles() {
			continue
		}
		k := strings.ToLower(r.Directory)
		if !seen[k] {
			seen[k] = true
			out = append(out, r.Directory)
		}
	}
	return out
}

// IDs returns the rule IDs in order.
func (s *Set) IDs() []string {
	var ids []string
	for _, r := range s.Rules {
		ids = append(ids, r.ID)
	}
	return ids
}

// Matches reports whether the rule targets f (directory and name glob),
// whatever its verdict.
func (r *Rule) Matches(f *FileFacts) bool {
	if !r.DeletesFiles() {
		return false // a disable-service rule targets no file
	}
	dir, name := splitFile(f.Path)
	if f.Name != "" {
		name = f.Name
	}
	return strings.EqualFold(dir, r.Directory) && matchName(r.Name, name)
}

// Evaluate decides one file. ok is false when no rule targets it (the file
// is none of the rules' business). It does not apply MaxFiles; Decide does.
func (s *Set) Evaluate(f *FileFacts) (v Verdict, ok bool) {
	for _, r := range s.Rules {
		if r.Matches(f) {
			return r.Evaluate(f), true
		}
	}
	return Verdict{}, false
}

// Evaluate decides one file the rule matches (see Rule). A NeedsReview
// verdict's Cause and Reason say why: a directory, unreadable content, or
// which members of the faulty_when conditions did not hold.
func (r *Rule) Evaluate(f *FileFacts) Verdict {
	v := Verdict{Rule: r.ID}
	review := func(c Cause, reason string) Verdict {
		v.Action, v.Cause, v.Reason = NeedsReview, c, reason
		return v
	}
	if f.IsDir {
		return review(CauseDirectory, "is a directory; rules never delete directories")
	}
	var miss Cause
	var missWhy []string
	for i, c := range r.FaultyWhen {
		ok, why, m, mw, err := c.holds(f)
		if err != nil {
			return review(CauseUnreadable, "cannot check the file: "+err.Error())
		}
		if ok {
			v.Action, v.Reason = Delete, "faulty: "+why
			return v
		}
		miss |= m
		for _, w := range mw {
			missWhy = append(missWhy, fmt.Sprintf("faulty_when[%d]: %s", i, w))
		}
	}
	for _, c := range r.GoodWhen {
		ok, why, _, _, err := c.holds(f)
		if err != nil {
			return review(CauseUnreadable, "cannot check the file: "+err.Error())
		}
		if ok {
			v.Action, v.Reason = Keep, "good: "+why
			return v
		}
	}
	advice := "check it"
	if miss&CauseWindow != 0 {
		advice = "check it, and the host clock"
	}
	return review(miss, fmt.Sprintf("name matches %s but it is neither faulty nor known good (last written %s, %d bytes; %s): %s",
		r.Name, fmtTime(f.MTime), f.Size, strings.Join(missWhy, "; "), advice))
}

// Decision is a verdict on one file of a host.
type Decision struct {
	File    *FileFacts
	Verdict Verdict
}

// Decide evaluates every file of one host (one Windows volume) and applies
// the deletion caps: when a rule would delete more files than its
// MaxFiles, all of its deletions become NeedsReview (CauseMaxFiles); then,
// when the remaining deletions of all rules together exceed HostCap
// (max_files_per_host), all of them become NeedsReview (CauseHostCap), so
// nothing is deleted automatically. Files no rule targets are left out.
// The result is sorted by path.
func (s *Set) Decide(files []*FileFacts) []Decision {
	var out []Decision
	deletes := map[string]int{}
	for _, f := range files {
		v, ok := s.Evaluate(f)
		if !ok {
			continue
		}
		if v.Action == Delete {
			deletes[v.Rule]++
		}
		out = append(out, Decision{File: f, Verdict: v})
	}
	total := 0
	for i := range out {
		v := &out[i].Verdict
		if v.Action != Delete {
			continue
		}
		if r := s.rule(v.Rule); r != nil && deletes[v.Rule] > r.MaxFiles {
			v.Action, v.Cause = NeedsReview, CauseMaxFiles
			v.Reason = fmt.Sprintf("rule %s would delete %d files on this volume, more than its max_files (%d); nothing deleted automatically (%s)",
				r.ID, deletes[v.Rule], r.MaxFiles, v.Reason)
			continue
		}
		total++
	}
	if limit := s.HostCap(); total > limit {
		for i := range out {
			v := &out[i].Verdict
			if v.Action != Delete {
				continue
			}
			v.Action, v.Cause = NeedsReview, CauseHostCap
			v.Reason = fmt.Sprintf("the rules would delete %d files on this volume, more than max_files_per_host (%d); nothing deleted automatically (%s)",
				total, limit, v.Reason)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].File.Path < out[j].File.Path })
	return out
}

func (s *Set) rule(id string) *Rule {
	for _, r := range s.Rules {
		if r.ID == id {
			return r
		}
	}
	return nil
}
