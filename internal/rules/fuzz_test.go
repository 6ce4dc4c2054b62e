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

// FuzzPack: the parser with pack metadata and disable-service rules never
// panics, and a disable-service rule it accepts names a valid service and
// no directory.
func FuzzPack(f *testing.F) {
	f.Add([]byte(testPack))
	f.Add([]byte(`{"format":"unbrick-rules/1","expires":"2025-01-01","rules":[{"id":"s","action":"disable-service","service":"x"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("fuzz.json", data, Options{})
		if err != nil {
			return
		}
		for _, r := range s.Rules {
			if r.Action == ActionDisableService && (r.Directory != "" || r.Service == "" || strings.ContainsAny(r.Service, `\/`)) {
				t.Fatalf("accepted %+v", r)
			}
		}
		s.Dirs()
		s.Unsupported()
	})
}

// FuzzAllowedSigners: the allowed-signers parser never panics.
func FuzzAllowedSigners(f *testing.F) {
	const k = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEqsE1d7gz1FVMj+9rxMJmRE3DOsWzlZ3TWxrROMuwZM"
	f.Add([]byte("a@b " + k + "\n"))
	f.Add([]byte(`"a b" namespaces="unbrick-rules",valid-after="20250101",valid-before="20260101Z" ` + k + " c\n# x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseAllowedSigners("fuzz", data)
		if err == nil && len(s) == 0 {
			t.Fatal("no error and no signer")
		}
		for _, x := range s {
			if x.Key == nil {
				t.Fatal("signer without a key")
			}
			matchPatternList(Namespace, x.Namespaces)
		}
	})
}

// FuzzSSHSignature: the sshsig parser never panics, and a signature it
// accepts can be checked against a message without panicking.
func FuzzSSHSignature(f *testing.F) {
	if b, err := os.ReadFile("testdata/pack.json.sig"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("-----BEGIN SSH SIGNATURE-----\nU1NIU0lHAAAAAQ==\n-----END SSH SIGNATURE-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSSHSignature(data)
		if err != nil {
			return
		}
		if s.Verify([]byte("message")) == nil && s.Namespace == Namespace {
			// Possible only for a seed signed over "message"; fine.
			return
		}
	})
}
