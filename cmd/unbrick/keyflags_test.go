package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/unbrick/unbrick/internal/keys"
)

// TestKeyFlagsSealedBundle checks that every subcommand's shared --keys flag
// opens an age-sealed bundle with --passphrase-file or the environment, and
// fails clearly without a passphrase.
func TestKeyFlagsSealedBundle(t *testing.T) {
	dir := t.TempDir()
	const id = "55FAEDED-603A-459F-8F6B-325CF781F971"
	const rp = "284867-596541-514998-422114-660297-261613-215424-199408"
	var buf bytes.Buffer
	if err := keys.Seal(&buf, []keys.Entry{{KeyID: id, RecoveryPassword: rp}}, keys.SealOptions{Passphrase: "correct horse battery", WorkFactor: 10}); err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(dir, "keys.age")
	if err := os.WriteFile(bundle, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	passFile := filepath.Join(dir, "pass")
	if err := os.WriteFile(passFile, []byte("correct horse battery\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	resolve := func(args []string, vars map[string]string) (*keySource, string, error) {
		c := &cobra.Command{Use: "t"}
		kf := addKeyFlags(c)
		if err := c.Flags().Parse(args); err != nil {
			t.Fatal(err)
		}
		var errb bytes.Buffer
		e := &env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: &errb, Getenv: func(k string) string { return vars[k] }}
		ks, err := kf.resolve(e)
		return ks, errb.String(), err
	}
	for _, c := range []struct {
		name string
		args []string
		env  map[string]string
	}{
		{"passphrase-file", []string{"--keys", bundle, "--passphrase-file", passFile}, nil},
		{"environment", []string{"--keys", bundle}, map[string]string{keys.PassphraseEnv: "correct horse battery"}},
	} {
		ks, _, err := resolve(c.args, c.env)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := ks.set.ForProtector("{" + strings.ToLower(id) + "}"); len(got) != 1 || got[0].RecoveryPassword != rp {
			t.Fatalf("%s: bundle entry not found by protector ID: %d entries", c.name, len(got))
		}
	}
	_, stderr, err := resolve([]string{"--keys", bundle}, map[string]string{keys.PassphraseEnv: "wrong passphrase!"})
	if err == nil || !errors.Is(err, keys.ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase: err %v", err)
	}
	if strings.Contains(err.Error()+stderr, rp) || strings.Contains(err.Error()+stderr, "wrong passphrase!") {
		t.Fatalf("secret leaked in %q", err.Error()+stderr)
	}
}
