package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const corpusRecoveryPassword = "284867-596541-514998-422114-660297-261613-215424-199408"

// runCLIEnv is runCLI with an environment.
func runCLIEnv(t *testing.T, envv map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return envv[k] }}
	code := run(e, args)
	return code, out.String(), errb.String()
}

// noSecrets fails when any output holds a recovery password from the
// samples (their groups after the first all start 0 and are 6 digits;
// the corpus password is checked literally).
func noSecrets(t *testing.T, outs ...string) {
	t.Helper()
	for _, s := range outs {
		if strings.Contains(s, corpusRecoveryPassword[:13]) || strings.Contains(s, "000000-0") {
			t.Fatalf("output holds a recovery password:\n%s", s)
		}
	}
}

func TestKeysCheck(t *testing.T) {
	td := "../../internal/keys/testdata/"
	code, out, errs := runCLI(t, "keys", "check", td+"generic.csv", td+"ad-ldifde.ldf", td+"graph-recoverykeys.json")
	noSecrets(t, out, errs)
	if code != 0 || !strings.Contains(out, "7 key(s) in 3 file(s): 0 problem(s)") {
		t.Errorf("clean files: code %d\n%s%s", code, out, errs)
	}
	code, out, errs = runCLI(t, "keys", "check", td+"problems.csv", td+"serial-keylist.csv")
	noSecrets(t, out, errs)
	for _, want := range []string{
		"problems.csv: line 3: recovery password group 3 fails its checksum",
		"problems.csv: line 4: row has a recovery password but no key ID",
		"problems.csv:5: duplicate of " + td + "problems.csv:2",
		"problems.csv: line 7: column KeyID: key ID \"NOT-A-GUID\" is not a GUID",
		"serial-keylist.csv:2: no key ID; matched only by computer name or serial (serial 5CG1234XYZ)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	if code != 1 {
		t.Errorf("problems: code %d, want 1", code)
	}
	// A conflict: one key ID, two passwords, across files.
	dir := t.TempDir()
	a := filepath.Join(dir, "a.csv")
	os.WriteFile(a, []byte("KeyID,RecoveryPassword\n{3C116B76-C67B-484E-B439-CE2ED68B561E},000000-000011-000022-000033-000044-000055-000066-000077\n"), 0o600)
	code, out, errs = runCLI(t, "keys", "check", a, td+"generic.csv")
	noSecrets(t, out, errs)
	if code != 1 || !strings.Contains(out, "key {3C116B76-C67B-484E-B439-CE2ED68B561E} has a different recovery password than at "+a+":2") {
		t.Errorf("conflict: code %d\n%s", code, out)
	}
	if code, _, _ := runCLI(t, "keys", "check"); code != 2 {
		t.Errorf("no files: code %d", code)
	}
	if code, _, _ := runCLI(t, "keys", "frob"); code != 2 {
		t.Errorf("unknown verb: code %d", code)
	}
}

func TestKeysSealAndCheck(t *testing.T) {
	td := "../../internal/keys/testdata/"
	dir := t.TempDir()
	pwf := filepath.Join(dir, "pass")
	os.WriteFile(pwf, []byte("long enough passphrase\n"), 0o600)
	out := filepath.Join(dir, "keys.age")
	code, so, se := runCLI(t, "keys", "seal", "--out", out, "--passphrase-file", pwf, "--work-factor", "10", td+"generic.csv", td+"crowdstrike-BitLockerKeys.csv")
	noSecrets(t, so, se)
	if code != 0 || !strings.Contains(so, "sealed 5 key(s) from 2 file(s)") {
		t.Fatalf("seal: code %d\n%s%s", code, so, se)
	}
	data, _ := os.ReadFile(out)
	if !bytes.HasPrefix(data, []byte("age-encryption.org/v1\n")) || bytes.Contains(data, []byte("DESKTOP-QNI1MMF")) {
		t.Fatalf("bundle is not an age file or holds plaintext")
	}
	if st, _ := os.Stat(out); st.Mode().Perm() != 0o600 {
		t.Errorf("bundle mode %v", st.Mode())
	}
	// Refuses to overwrite; refuses files with problems.
	if code, _, _ := runCLI(t, "keys", "seal", "--out", out, "--passphrase-file", pwf, td+"generic.csv"); code != 1 {
		t.Errorf("overwrite: code %d", code)
	}
	code, so, se = runCLI(t, "keys", "seal", "--out", filepath.Join(dir, "bad.age"), "--passphrase-file", pwf, td+"problems.csv")
	noSecrets(t, so, se)
	if code != 1 || !strings.Contains(se, "fix them or pass --skip-bad") {
		t.Errorf("problems: code %d %s", code, se)
	}

	// check opens it with the env passphrase, the file, and fails clearly on a wrong one.
	code, so, se = runCLIEnv(t, map[string]string{"UNBRICK_KEYS_PASSPHRASE": "long enough passphrase"}, "keys", "check", out)
	noSecrets(t, so, se)
	if code != 0 || !strings.Contains(so, "age, 5 key(s)") {
		t.Errorf("check sealed: code %d\n%s%s", code, so, se)
	}
	code, so, _ = runCLI(t, "keys", "check", "--passphrase-file", pwf, out)
	if code != 0 {
		t.Errorf("check sealed with file: %d %s", code, so)
	}
	code, so, se = runCLIEnv(t, map[string]string{"UNBRICK_KEYS_PASSPHRASE": "not the passphrase"}, "keys", "check", out)
	if code != 1 || !strings.Contains(so+se, "wrong passphrase") {
		t.Errorf("wrong passphrase: code %d\n%s%s", code, so, se)
	}
	code, so, se = runCLI(t, "keys", "check", out)
	if code != 1 || !strings.Contains(so+se, "set UNBRICK_KEYS_PASSPHRASE") {
		t.Errorf("no passphrase: code %d\n%s%s", code, so, se)
	}
}

func TestKeysSealRecipient(t *testing.T) {
	td := "../../internal/keys/testdata/"
	dir := t.TempDir()
	identity, recip := newX25519(t)
	idf := filepath.Join(dir, "id.txt")
	os.WriteFile(idf, []byte("# test identity\n"+identity+"\n"), 0o600)
	out := filepath.Join(dir, "k.age")
	code, so, se := runCLI(t, "keys", "seal", "--out", out, "-r", recip, "--armor", td+"mbam-keys.tsv")
	if code != 0 {
		t.Fatalf("seal -r: %d %s%s", code, so, se)
	}
	code, so, se = runCLI(t, "keys", "check", "-i", idf, out)
	if code != 0 || !strings.Contains(so, "2 key(s) in 1 file(s)") {
		t.Errorf("check -i: %d %s%s", code, so, se)
	}
	if code, _, _ := runCLI(t, "keys", "seal", "--out", filepath.Join(dir, "x.age"), "-r", "not-a-recipient", td+"mbam-keys.tsv"); code != 1 {
		t.Errorf("bad recipient: code %d", code)
	}
}
