package keys

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/unbrick/unbrick/internal/inputfile"
	"github.com/unbrick/unbrick/internal/inputfile/inputfiletest"
)

// Every loader of a whole file refuses /dev/zero, a FIFO (without
// blocking), a directory and a file one byte over its limit.
func TestLoadersRefuseSpecialFiles(t *testing.T) {
	loaders := []struct {
		name  string
		limit int64
		load  func(p string) error
	}{
		{"ParseFile", MaxFileSize, func(p string) error { _, err := ParseFile(p, LoadOptions{}); return err }},
		{"LoadFile", MaxFileSize, func(p string) error { _, err := LoadFile(p, LoadOptions{}); return err }},
		{"LoadFiles", MaxFileSize, func(p string) error {
			_, err := LoadFiles([]string{"testdata/generic.csv", p}, LoadOptions{})
			return err
		}},
		{"ReadPassphraseFile", inputfile.MaxKeyFile, func(p string) error { _, err := ReadPassphraseFile(p); return err }},
		{"PassphraseSource", inputfile.MaxKeyFile, func(p string) error {
			_, err := PassphraseSource(p, nil, nil)("keys.age")
			return err
		}},
		{"ReadBEKFile", inputfile.MaxKeyFile, func(p string) error { _, err := ReadBEKFile(p); return err }},
		{"ReadRecoveryPasswordFile", inputfile.MaxKeyList, func(p string) error {
			_, err := ReadRecoveryPasswordFile(p, strings.NewReader(fakePW(1)))
			return err
		}},
		{"ReadIdentityFile", inputfile.MaxKeyFile, func(p string) error { _, err := ReadIdentityFile(p); return err }},
		{"ReadRecipientsFile", inputfile.MaxKeyList, func(p string) error { _, err := ReadRecipientsFile(p); return err }},
	}
	for _, l := range loaders {
		t.Run(l.name, func(t *testing.T) { inputfiletest.Refused(t, l.limit, l.load) })
	}
}

// A sealed bundle is read by the same bounded reader as any export: a
// FIFO named as the bundle is refused before any passphrase is asked.
func TestSealedBundleFIFORefusedBeforePassphrase(t *testing.T) {
	for _, c := range inputfiletest.Cases(t, MaxFileSize) {
		asked := false
		_, err := LoadFile(c.Path, LoadOptions{Passphrase: func(string) (string, error) { asked = true; return "x", nil }})
		if !errors.Is(err, c.Want) || asked {
			t.Errorf("%s: err %v, passphrase asked %v", c.Name, err, asked)
		}
	}
}

func TestReadRecoveryPasswordFile(t *testing.T) {
	in := "# keys for the lab\n\n  " + fakePW(1) + "  \r\n" + fakePW(2) + "\n"
	got, err := ReadRecoveryPasswordFile("-", strings.NewReader(in))
	if err != nil || len(got) != 2 || got[0] != fakePW(1) || got[1] != fakePW(2) {
		t.Fatalf("stdin: %q, %v", got, err)
	}
	p := filepath.Join(t.TempDir(), "pw.txt")
	os.WriteFile(p, []byte(in), 0o600)
	if got, err := ReadRecoveryPasswordFile(p, nil); err != nil || len(got) != 2 {
		t.Fatalf("file: %q, %v", got, err)
	}
	if _, err := ReadRecoveryPasswordFile("-", strings.NewReader("# nothing\n\n")); err == nil || !strings.Contains(err.Error(), "standard input holds no recovery password") {
		t.Errorf("empty stdin: %v", err)
	}
	// Standard input is bounded: `< /dev/zero` stops at the limit.
	zero, err := os.Open("/dev/zero")
	if err != nil {
		t.Skip(err)
	}
	defer zero.Close()
	if _, err := ReadRecoveryPasswordFile("-", zero); !errors.Is(err, inputfile.ErrTooLarge) {
		t.Errorf("stdin /dev/zero: %v", err)
	}
}

func TestReadBEKFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "3C116B76-C67B-484E-B439-CE2ED68B561E.BEK")
	os.WriteFile(p, make([]byte, 124), 0o600)
	if b, err := ReadBEKFile(p); err != nil || len(b) != 124 {
		t.Fatalf("BEK: %d bytes, %v", len(b), err)
	}
	empty := filepath.Join(dir, "empty.BEK")
	os.WriteFile(empty, nil, 0o600)
	if _, err := ReadBEKFile(empty); err == nil || !strings.Contains(err.Error(), empty) {
		t.Errorf("empty BEK: %v", err)
	}
	if _, err := ReadBEKFile(filepath.Join(dir, "missing.BEK")); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing BEK: %v", err)
	}
}

func TestReadIdentityAndRecipientsFiles(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	idf := filepath.Join(dir, "id.txt")
	os.WriteFile(idf, []byte("# created: now\n"+id.String()+"\n"), 0o600)
	if ids, err := ReadIdentityFile(idf); err != nil || len(ids) != 1 {
		t.Fatalf("identity: %v %v", ids, err)
	}
	bad := filepath.Join(dir, "bad-id.txt")
	os.WriteFile(bad, []byte("not a key\n"), 0o600)
	if _, err := ReadIdentityFile(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("bad identity: %v", err)
	}
	rf := filepath.Join(dir, "recipients.txt")
	os.WriteFile(rf, []byte("# team\n"+id.Recipient().String()+"\n\n"), 0o600)
	if rs, err := ReadRecipientsFile(rf); err != nil || len(rs) != 1 {
		t.Fatalf("recipients: %v %v", rs, err)
	}
	os.WriteFile(rf, []byte(id.Recipient().String()+"\nbogus\n"), 0o600)
	if _, err := ReadRecipientsFile(rf); err == nil || !strings.Contains(err.Error(), rf+": line 2") {
		t.Errorf("bad recipient: %v", err)
	}
	os.WriteFile(rf, []byte("# none\n"), 0o600)
	if _, err := ReadRecipientsFile(rf); err == nil || !strings.Contains(err.Error(), "lists no recipient") {
		t.Errorf("no recipient: %v", err)
	}
}
