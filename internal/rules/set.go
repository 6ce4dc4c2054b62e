package rules

import (
	_ "embed"
	"fmt"
	"sort"
	"strings"
)

// Set is an ordered list of rules. The first rule whose directory and name
// match a file decides it.
type Set struct {
	Rules []*Rule
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

// Evaluate decides one file the rule matches (see Rule).
func (r *Rule) Evaluate(f *FileFacts) Verdict {
	v := Verdict{Rule: r.ID}
	if f.IsDir {
		v.Action, v.Reason = NeedsReview, "is a directory; rules never delete directories"
		return v
	}
	for _, c := range r.FaultyWhen {
		ok, why, err := c.holds(f)
		if err != nil {
			v.Action, v.Reason = NeedsReview, "cannot check the file: "+err.Error()
			return v
		}
		if ok {
			v.Action, v.Reason = Delete, "faulty: "+why
			return v
		}
	}
	for _, c := range r.GoodWhen {
		ok, why, err := c.holds(f)
		if err != nil {
			v.Action, v.Reason = NeedsReview, "cannot check the file: "+err.Error()
			return v
		}
		if ok {
			v.Action, v.Reason = Keep, "good: "+why
			return v
		}
	}
	v.Action = NeedsReview
	v.Reason = fmt.Sprintf("name matches %s but it is neither faulty nor known good (last written %s, %d bytes): check it, and the host clock",
		r.Name, fmtTime(f.MTime), f.Size)
	return v
}

// Decision is a verdict on one file of a host.
type Decision struct {
	File    *FileFacts
	Verdict Verdict
}

// Decide evaluates every file of one host (one Windows volume) and applies
// each rule's MaxFiles: when a rule would delete more files than that, all
// of its deletions become NeedsReview. Files no rule targets are left out.
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
	for i := range out {
		v := &out[i].Verdict
		if v.Action != Delete {
			continue
		}
		if r := s.rule(v.Rule); r != nil && deletes[v.Rule] > r.MaxFiles {
			v.Action = NeedsReview
			v.Reason = fmt.Sprintf("rule %s would delete %d files on this volume, more than its limit of %d; nothing deleted automatically (%s)",
				r.ID, deletes[v.Rule], r.MaxFiles, v.Reason)
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
