package rules

import (
	"testing"
	"time"

	"github.com/unbrick/unbrick/internal/testcorpus"
)

// TestBuiltinAgainstManifest: the corpus manifest (written by the corpus
// builder, not by us) gives every CrowdStrike-directory file's name, size,
// last-write time and role; the built-in rule must agree with each role.
func TestBuiltinAgainstManifest(t *testing.T) {
	m := testcorpus.LoadManifest(t)
	s := Builtin()
	n := 0
	for _, v := range m.Variants {
		cs, _ := v["crowdstrike"].(map[string]any)
		dir, _ := cs["dir"].(string)
		files, _ := cs["files"].([]any)
		for _, fi := range files {
			f := fi.(map[string]any)
			mt, err := time.Parse(time.RFC3339, f["mtime_utc"].(string))
			if err != nil {
				t.Fatal(err)
			}
			zero := false
			ff := &FileFacts{Path: dir + "/" + f["name"].(string), Size: int64(f["size"].(float64)), MTime: mt, AllZero: &zero}
			verdict, ok := s.Evaluate(ff)
			var want Action
			switch f["role"] {
			case "faulty-291":
				want = Delete
			case "good-291":
				want = Keep
			default:
				if ok {
					t.Errorf("%s %s: role %v matched: %+v", v["name"], f["name"], f["role"], verdict)
				}
				continue
			}
			n++
			if !ok || verdict.Action != want {
				t.Errorf("%s %s: %+v, want %s", v["name"], f["name"], verdict, want)
			}
		}
	}
	if n == 0 {
		t.Fatal("no 291 files in the manifest")
	}
}
