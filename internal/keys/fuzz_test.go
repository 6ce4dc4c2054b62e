package keys

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad: the parser never panics, and whatever it accepts is valid.
func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob("testdata/*")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("dn: x\nmsFVE-RecoveryPassword: 1\n"))
	f.Add([]byte(`[{"id":"x","key":"y"}]`))
	f.Add([]byte("Name : a\nRecoveryPassword : b\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := Parse("fuzz", data, LoadOptions{})
		if err != nil {
			return
		}
		for _, e := range res.Entries {
			if _, err := NormalizeRecoveryPassword(e.RecoveryPassword); err != nil {
				t.Fatalf("accepted a bad password: %v", err)
			}
			if e.KeyID != "" {
				if n, err := NormalizeKeyID(e.KeyID); err != nil || n != e.KeyID {
					t.Fatalf("accepted a bad key ID %q", e.KeyID)
				}
			}
		}
		for _, p := range res.Problems {
			if e := p.Error(); strings.Contains(e, "\x00") {
				t.Fatalf("problem with NUL: %q", e)
			}
		}
	})
}
