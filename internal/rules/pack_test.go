package rules

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const testPack = `{
  "format": "unbrick-rules/1",
  "id": "acme-2025-03",
  "version": "3",
  "expires": "2030-12-31",
  "max_hosts_per_run": 50,
  "rules": [
    {"id": "acme-1", "directory": "Windows/System32/drivers/Acme", "name": "chan-17*.sys", "faulty_when": [{"all_zero": true}]},
    {"id": "acme-svc", "action": "disable-service", "service": "AcmeAgent"}
  ]
}
`

// needKeygen skips when ssh-keygen (openssh-client) is absent.
func needKeygen(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		t.Skip("ssh-keygen (openssh-client) not installed")
	}
}

// keygen makes a key pair with the real ssh-keygen; it returns the private
// key path and the public key line.
func keygen(t testing.TB, dir, typ string) (string, string) {
	t.Helper()
	key := filepath.Join(dir, "id_"+typ)
	args := []string{"-q", "-t", typ, "-N", "", "-C", "test-" + typ, "-f", key}
	if typ == "rsa" {
		args = append(args, "-b", "2048")
	}
	if out, err := exec.Command("ssh-keygen", args...).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen %v: %v\n%s", args, err, out)
	}
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	return key, strings.TrimSpace(string(pub))
}

// sshSign signs file with the real ssh-keygen -Y sign (writes file.sig).
func sshSign(t testing.TB, key, ns, file string) {
	t.Helper()
	os.Remove(file + ".sig")
	if out, err := exec.Command("ssh-keygen", "-Y", "sign", "-q", "-n", ns, "-f", key, file).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen -Y sign: %v\n%s", err, out)
	}
}

func writePack(t testing.TB, dir, body string) string {
	t.Helper()
	p := filepath.Join(dir, "acme.json")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func signers(t testing.TB, text string) []AllowedSigner {
	t.Helper()
	s, err := ParseAllowedSigners("allowed_signers", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var testNow = time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)

func TestLoadPackSignedByKeygen(t *testing.T) {
	needKeygen(t)
	for _, typ := range []string{"ed25519", "rsa", "ecdsa"} {
		t.Run(typ, func(t *testing.T) {
			dir := t.TempDir()
			key, pub := keygen(t, dir, typ)
			pack := writePack(t, dir, testPack)
			sshSign(t, key, Namespace, pack)
			allowed := signers(t, "# rules team\nrules@example.com namespaces=\"unbrick-rules\" "+pub+"\n")
			p, err := LoadPack(pack, LoadOptions{Signers: allowed, Now: testNow})
			if err != nil {
				t.Fatal(err)
			}
			i := p.Info
			if !i.Signed || i.Principal != "rules@example.com" || !strings.HasPrefix(i.Fingerprint, "SHA256:") || i.ID != "acme-2025-03" || i.Version != "3" || len(i.SHA256) != 64 {
				t.Fatalf("info %+v", i)
			}
			// The fingerprint is the one ssh-keygen -l prints.
			out, err := exec.Command("ssh-keygen", "-l", "-f", key+".pub").Output()
			if err != nil || !strings.Contains(string(out), i.Fingerprint) {
				t.Errorf("fingerprint %s not in ssh-keygen -l: %s %v", i.Fingerprint, out, err)
			}
			if p.Set.MaxHostsPerRun != 50 || !p.Set.Expires.Equal(time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)) {
				t.Errorf("meta %+v", p.Set)
			}
			if u := p.Set.Unsupported(); len(u) != 1 || u[0].Service != "AcmeAgent" || u[0].Action != ActionDisableService {
				t.Errorf("Unsupported %v", u)
			}
			if u := p.Set.Unsupported(ActionDisableService); len(u) != 0 {
				t.Errorf("Unsupported(disable-service) %v", u)
			}
			if d := p.Set.Dirs(); len(d) != 1 {
				t.Errorf("Dirs %v: a disable-service rule has no directory", d)
			}

			// Changed after signing: one byte.
			writePack(t, dir, strings.Replace(testPack, `"version": "3"`, `"version": "4"`, 1))
			_, err = LoadPack(pack, LoadOptions{Signers: allowed, Now: testNow})
			wantErr(t, err, ErrSignatureMismatch, "changed after it was signed")
		})
	}
}

func wantErr(t *testing.T, err, want error, text string) {
	t.Helper()
	var pe *PackError
	if !errors.Is(err, want) || !errors.As(err, &pe) || !strings.Contains(err.Error(), text) {
		t.Fatalf("error %v; want %v mentioning %q", err, want, text)
	}
}

func TestLoadPackRefusals(t *testing.T) {
	needKeygen(t)
	dir := t.TempDir()
	key, pub := keygen(t, dir, "ed25519")
	other := t.TempDir()
	okey, opub := keygen(t, other, "ed25519")
	pack := writePack(t, dir, testPack)
	allowed := signers(t, "rules@example.com "+pub+"\n")

	// Unsigned.
	_, err := LoadPack(pack, LoadOptions{Signers: allowed, Now: testNow})
	wantErr(t, err, ErrUnsigned, "ssh-keygen -Y sign -n unbrick-rules")
	p, err := LoadPack(pack, LoadOptions{Signers: allowed, Now: testNow, AllowUnsigned: true})
	if err != nil || p.Info.Signed || p.Info.Signature != "unsigned (allowed by --allow-unsigned-rules)" {
		t.Fatalf("unsigned with override: %v %+v", err, p)
	}

	// Unknown key.
	sshSign(t, okey, Namespace, pack)
	_, err = LoadPack(pack, LoadOptions{Signers: allowed, Now: testNow})
	wantErr(t, err, ErrUnknownSigner, "is not in the allowed-signers file")
	// The same key allowed only for another namespace, or not yet valid.
	for _, line := range []string{`x@y namespaces="git,file" ` + opub, `x@y valid-after="20270101" ` + opub, `x@y valid-before="20250101Z" ` + opub} {
		_, err = LoadPack(pack, LoadOptions{Signers: signers(t, line), Now: testNow})
		wantErr(t, err, ErrUnknownSigner, "is in the allowed-signers file, but")
	}
	if _, err := LoadPack(pack, LoadOptions{Now: testNow}); !errors.Is(err, ErrNoSigners) {
		t.Errorf("no signers: %v", err)
	}

	// Wrong namespace.
	sshSign(t, key, "file", pack)
	_, err = LoadPack(pack, LoadOptions{Signers: allowed, Now: testNow})
	wantErr(t, err, ErrWrongNamespace, `namespace "file"`)
	p, err = LoadPack(pack, LoadOptions{Signers: allowed, Now: testNow, AllowUnsigned: true})
	if err != nil || p.Info.Signed || !strings.HasPrefix(p.Info.Signature, "signature not verified (allowed by --allow-unsigned-rules)") {
		t.Fatalf("wrong namespace with override: %v %+v", err, p)
	}

	// Garbage signature file.
	os.WriteFile(pack+".sig", []byte("-----BEGIN SSH SIGNATURE-----\nAAAA\n-----END SSH SIGNATURE-----\n"), 0o644)
	_, err = LoadPack(pack, LoadOptions{Signers: allowed, Now: testNow})
	wantErr(t, err, ErrBadSignatureFile, "SSHSIG")

	// Expired: signed, allowed key, past its date.
	sshSign(t, key, Namespace, pack)
	late := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	_, err = LoadPack(pack, LoadOptions{Signers: allowed, Now: late})
	wantErr(t, err, ErrExpired, "--allow-expired-rules")
	p, err = LoadPack(pack, LoadOptions{Signers: allowed, Now: late.Add(-time.Second)})
	if err != nil || p.Info.ExpiryNote != "" {
		t.Fatalf("last second of 2030-12-31: %v", err)
	}
	p, err = LoadPack(pack, LoadOptions{Signers: allowed, Now: late, AllowExpired: true})
	if err != nil || !strings.Contains(p.Info.ExpiryNote, "allowed by --allow-expired-rules") || !p.Info.Signed {
		t.Fatalf("expired with override: %v %+v", err, p)
	}
}

// TestOurVerifierAgreesWithKeygen: ssh-keygen -Y verify accepts what we
// accept, and refuses the changed pack we refuse.
func TestOurVerifierAgreesWithKeygen(t *testing.T) {
	needKeygen(t)
	dir := t.TempDir()
	key, pub := keygen(t, dir, "ed25519")
	pack := writePack(t, dir, testPack)
	sshSign(t, key, Namespace, pack)
	as := filepath.Join(dir, "allowed_signers")
	os.WriteFile(as, []byte(`rules@example.com namespaces="unbrick-rules" `+pub+"\n"), 0o644)
	verify := func() error {
		cmd := exec.Command("ssh-keygen", "-Y", "verify", "-f", as, "-I", "rules@example.com", "-n", Namespace, "-s", pack+".sig")
		f, _ := os.Open(pack)
		defer f.Close()
		cmd.Stdin = f
		return cmd.Run()
	}
	list, err := ParseAllowedSignersFile(as)
	if err != nil {
		t.Fatal(err)
	}
	_, ours := LoadPack(pack, LoadOptions{Signers: list, Now: testNow})
	if theirs := verify(); ours != nil || theirs != nil {
		t.Fatalf("ours %v, ssh-keygen %v", ours, theirs)
	}
	writePack(t, dir, testPack+" ")
	_, ours = LoadPack(pack, LoadOptions{Signers: list, Now: testNow})
	if theirs := verify(); ours == nil || theirs == nil {
		t.Fatalf("changed pack: ours %v, ssh-keygen %v", ours, theirs)
	}
}

func TestParseAllowedSigners(t *testing.T) {
	const k = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEqsE1d7gz1FVMj+9rxMJmRE3DOsWzlZ3TWxrROMuwZM"
	good := "# comment\n\n\"a b@x,c@y\" namespaces=\"unbrick-rules,file\",valid-after=\"20250101\",valid-before=\"202601011200Z\" " + k + " comment here\r\n*@example.com " + k + "\n"
	s, err := ParseAllowedSigners("as", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 2 || s[0].Principals != "a b@x,c@y" || len(s[0].Namespaces) != 2 || s[0].Line != 3 ||
		!s[0].ValidAfter.Equal(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)) || !s[0].ValidBefore.Equal(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)) ||
		s[1].Namespaces != nil {
		t.Fatalf("%+v", s)
	}
	for _, bad := range []string{
		"", "# only a comment\n", "a@b\n", "a@b ssh-ed25519 !!!!\n", `"a@b ` + k,
		`a@b cert-authority ` + k, `a@b foo="x" ` + k, `a@b valid-after="2025" ` + k, `a@b namespaces="" ` + k,
		"a@b ssh-dss AAAAB3NzaC1kc3MAAACBAP1/U4EddRIpUt9KnC7s5Of2EbdSPO9EAMMeP4C2USZpRV1AIlH7WT2NWPq/xfW6MPbLm1Vs14E7gB00b/JmYLdrmVClpJ+f6AR7ECLCT7up1/63xhv4O1fnxqimFQ8E+4P208UewwI1VBNaFpEy9nXzrith1yrv8iIDGZ3RSAHHAAAAFQCXYFCPFSMLzLKSuYKi64QL8Fgc9QAAAIEA9+GghdabPd7LvKtcNrhXuXmUr7v6OuqC+VdMCz0HgmdRWVeOutRZT+ZxBxCBgLRJFnEj6EwoFhO3zwkyjMim4TwWeotUfI0o4KOuHiuzpnWRbqN/C/ohNWLx+2J6ASQ7zKTxvqhRkImog9/hWuWfBpKLZl6Ae1UlZAFMO/7PSSoAAACBAPR0xbB8mMWqvHhU9fzIdIiUK/dU/xHVJgiC5VbCb1ykj30Zgn0eMcB0hLTVh8rLL54wmqomQPjaTwa94+wBg8O6lJKeE0l39rzIBG5aAPbBWcbKZCJWqx2d7TRONsrvUc3B/4lHsDS9dqtAYzSRPvuVNvQpl+Nwpq5nOXUlk/VC test",
	} {
		if _, err := ParseAllowedSigners("as", []byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		} else if !strings.HasPrefix(err.Error(), "as") {
			t.Errorf("error %q does not name the file", err)
		}
	}
}

func TestMatchPatternList(t *testing.T) {
	for _, c := range []struct {
		pats string
		want bool
	}{{"unbrick-rules", true}, {"unbrick-*", true}, {"git,file", false}, {"*", true}, {"*,!unbrick-rules", false}, {"unbrick-rule?", true}, {"unbrick", false}} {
		if got := matchPatternList(Namespace, strings.Split(c.pats, ",")); got != c.want {
			t.Errorf("%q: %v", c.pats, got)
		}
	}
}

func TestPackMetaAndActions(t *testing.T) {
	ok := func(extra, rule string) error {
		_, err := Parse("p.json", []byte(`{"format":"unbrick-rules/1"`+extra+`,"rules":[`+rule+`]}`), Options{})
		return err
	}
	del := `{"id":"a","directory":"Windows/System32/drivers/x","name":"abc*","faulty_when":[{"min_size":1}]}`
	svc := func(name string) string { return `{"id":"s","action":"disable-service","service":"` + name + `"}` }
	if err := ok("", del); err != nil {
		t.Fatalf("old format without metadata: %v", err)
	}
	if err := ok(`,"expires":"2025-04-30T18:00:00+02:00","version":"2025.1"`, svc(strings.Repeat("s", 256))); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ extra, rule, field string }{
		{`,"expires":"30.4.2025"`, del, "expires"},
		{`,"expires":"2025-04-30T18:00:00"`, del, "expires"},
		{`,"max_hosts_per_run":0`, del, "max_hosts_per_run"},
		{`,"version":""`, del, "version"},
		{`,"id":"a\u0001"`, del, "id"},
		{"", svc(strings.Repeat("s", 257)), "service"},
		{"", svc(""), "service"},
		{"", svc(`Acme\\Agent`), "service"},
		{"", `{"id":"s","action":"disable-service"}`, "service"},
		{"", `{"id":"s","action":"disable-service","service":"x","directory":"Windows/System32/drivers/x"}`, "directory"},
		{"", `{"id":"s","action":"reboot","service":"x"}`, "action"},
		{"", `{"id":"a","service":"x","directory":"Windows/System32/drivers/x","name":"abc*","faulty_when":[{"min_size":1}]}`, "service"},
	} {
		err := ok(c.extra, c.rule)
		var pe *Error
		if !errors.As(err, &pe) || pe.Field != c.field {
			t.Errorf("%s %s: %v; want an error in field %s", c.extra, c.rule, err, c.field)
		}
	}
}
