package keys

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
)

func sealSamples(t *testing.T, opts SealOptions) (string, []Entry) {
	t.Helper()
	es, err := LoadFiles([]string{"testdata/generic.csv", "testdata/ad-ldifde.ldf"}, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Seal(&buf, es, opts); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(buf.Bytes(), []byte("284867")) || bytes.Contains(buf.Bytes(), []byte("DESKTOP-QNI1MMF")) {
		t.Fatal("sealed bundle contains plaintext")
	}
	p := filepath.Join(t.TempDir(), "keys.age")
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p, es
}

func TestSealedPassphraseRoundTrip(t *testing.T) {
	p, orig := sealSamples(t, SealOptions{Passphrase: "correct horse", WorkFactor: 10})
	asked := 0
	got, err := LoadFile(p, LoadOptions{Passphrase: func(file string) (string, error) {
		asked++
		if file != p {
			t.Errorf("passphrase asked for %q", file)
		}
		return "correct horse", nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if asked != 1 || len(got) != len(orig) {
		t.Fatalf("asked %d times, %d entries, want %d", asked, len(got), len(orig))
	}
	for i := range got {
		if got[i].KeyID != orig[i].KeyID || got[i].RecoveryPassword != orig[i].RecoveryPassword ||
			got[i].ComputerName != orig[i].ComputerName || got[i].Serial != orig[i].Serial || got[i].Line != orig[i].Line {
			t.Errorf("entry %d: %v, want %v", i, got[i], orig[i])
		}
		if !strings.HasPrefix(got[i].Source, p+": testdata/") {
			t.Errorf("entry %d source %q", i, got[i].Source)
		}
	}
	if NewSet(got).ForProtector(corpusID)[0].RecoveryPassword != corpusPW {
		t.Error("corpus key lost in the bundle")
	}

	_, err = LoadFile(p, LoadOptions{Passphrase: func(string) (string, error) { return "wrong", nil }})
	if !errors.Is(err, ErrWrongPassphrase) || !strings.Contains(err.Error(), p) {
		t.Errorf("wrong passphrase: %v", err)
	}
	_, err = LoadFile(p, LoadOptions{})
	if !errors.Is(err, ErrNeedPassphrase) {
		t.Errorf("no passphrase source: %v", err)
	}
}

func TestSealedRecipientAndArmor(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseRecipient(id.Recipient().String())
	if err != nil {
		t.Fatal(err)
	}
	p, orig := sealSamples(t, SealOptions{Recipients: []age.Recipient{r}, Armor: true})
	data, _ := os.ReadFile(p)
	if !bytes.HasPrefix(data, []byte("-----BEGIN AGE ENCRYPTED FILE-----")) {
		t.Fatalf("not armored: %q", data[:40])
	}
	ids, err := ParseIdentities([]byte("# test key\n" + id.String() + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	called := false
	got, err := LoadFile(p, LoadOptions{Identities: ids, Passphrase: func(string) (string, error) { called = true; return "", nil }})
	if err != nil || len(got) != len(orig) {
		t.Fatalf("%d entries, err %v", len(got), err)
	}
	if called {
		t.Error("passphrase asked for a recipient-sealed bundle")
	}
	other, _ := age.GenerateX25519Identity()
	_, err = LoadFile(p, LoadOptions{Identities: []Identity{other}})
	if !errors.Is(err, ErrWrongPassphrase) {
		t.Errorf("wrong identity: %v", err)
	}
}

func TestSealedDamaged(t *testing.T) {
	p, _ := sealSamples(t, SealOptions{Passphrase: "pw-pw-pw-pw", WorkFactor: 10})
	data, _ := os.ReadFile(p)
	data[len(data)-5] ^= 0x40
	_, err := Parse("x.age", data, LoadOptions{Passphrase: func(string) (string, error) { return "pw-pw-pw-pw", nil }})
	if err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("damaged bundle: %v", err)
	}
	if _, err := Parse("y.age", []byte("age-encryption.org/v1\n-> junk\n"), LoadOptions{}); err == nil {
		t.Error("truncated header accepted")
	}
}

// A raw export sealed by the age tool itself (what `unbrick image` puts on
// the stick) opens and is detected like the plain file.
func TestSealedRawExport(t *testing.T) {
	raw, err := os.ReadFile("testdata/ad-get-adobject.txt")
	if err != nil {
		t.Fatal(err)
	}
	r, _ := age.NewScryptRecipient("raw-export-pass")
	r.SetWorkFactor(10)
	var buf bytes.Buffer
	w, _ := age.Encrypt(&buf, r)
	w.Write(raw)
	w.Close()
	res, err := Parse("export.txt.age", buf.Bytes(), LoadOptions{Passphrase: func(string) (string, error) { return "raw-export-pass", nil }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Format != FormatADList || len(res.Entries) != 2 || res.Entries[1].KeyID != fakeID(11) || res.Entries[1].RecoveryPassword != fakePW(11) {
		t.Errorf("format %s, entries %v", res.Format, res.Entries)
	}
}
