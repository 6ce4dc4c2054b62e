package rules

import (
	"os"
	"strings"
	"testing"
	"time"
)

// FuzzRules: the parser never panics; an accepted rule set stays inside the
// allowlist and evaluates without panicking.
func FuzzRules(f *testing.F) {
	f.Add(BuiltinJSON())
	if b, err := os.ReadFile("testdata/example.json"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"format":"unbrick-rules/1","rules":[{"id":"a","directory":"Windows/System32/drivers/x","name":"abc*","faulty_when":[{"min_size":1}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("fuzz.json", data, Options{})
		if err != nil {
			return
		}
		for _, r := range s.Rules {
			if !allowed(r.Directory, DefaultAllow) || strings.Contains(r.Directory, "..") {
				t.Fatalf("accepted directory %q", r.Directory)
			}
			ff := &FileFacts{Path: r.Directory + "/abcdef", Size: 3, MTime: time.Unix(0, 0), SHA256: strings.Repeat("a", 64)}
			z := false
			ff.AllZero = &z
			r.Evaluate(ff)
		}
	})
}
