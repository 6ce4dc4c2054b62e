package keys

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
)

// requireAge finds the age command-line tool (Debian package "age"), the
// reference implementation's CLI, used here as an independent witness of
// the sealed format. scripts/ci-keys.sh installs it and sets
// UNBRICK_REQUIRE_AGE=1 so the test cannot skip in CI.
func requireAge(t *testing.T) (age, keygen string) {
	t.Helper()
	a, err1 := exec.LookPath("age")
	k, err2 := exec.LookPath("age-keygen")
	if err1 != nil || err2 != nil {
		if os.Getenv("UNBRICK_REQUIRE_AGE") != "" {
			t.Fatal("age/age-keygen not installed (apt-get install age)")
		}
		t.Skip("age/age-keygen not installed (apt-get install age)")
	}
	return a, k
}

func TestSealInteropWithAgeCLI(t *testing.T) {
	ageBin, keygen := requireAge(t)
	dir := t.TempDir()
	idFile := filepath.Join(dir, "id.txt")
	if out, err := exec.Command(keygen, "-o", idFile).CombinedOutput(); err != nil {
		t.Fatalf("age-keygen: %v %s", err, out)
	}
	idData, _ := os.ReadFile(idFile)
	recipient := ""
	for _, l := range strings.Split(string(idData), "\n") {
		if strings.HasPrefix(l, "# public key: ") {
			recipient = strings.TrimPrefix(l, "# public key: ")
		}
	}
	r, err := ParseRecipient(recipient)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := ParseIdentities(idData)
	if err != nil {
		t.Fatal(err)
	}
	plainEntries, err := LoadFile("testdata/generic.csv", LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}

	// 1. Our bundle opens with the age CLI and holds the documented CSV.
	for _, armor := range []bool{false, true} {
		var buf bytes.Buffer
		if err := Seal(&buf, plainEntries, SealOptions{Recipients: []age.Recipient{r}, Armor: armor}); err != nil {
			t.Fatal(err)
		}
		sealed := filepath.Join(dir, "ours.age")
		os.WriteFile(sealed, buf.Bytes(), 0o600)
		out, err := exec.Command(ageBin, "-d", "-i", idFile, sealed).Output()
		if err != nil {
			t.Fatalf("age -d (armor %v): %v", armor, err)
		}
		if !strings.HasPrefix(string(out), strings.Join(sealedHeader, ",")+"\n") || !strings.Contains(string(out), corpusID+","+corpusPW+",DESKTOP-QNI1MMF") {
			t.Errorf("age -d output is not the documented CSV (armor %v)", armor)
		}
	}

	// 2. A raw export sealed by the age CLI (binary and armored) loads like
	// the plain file.
	for _, args := range [][]string{{"-r", recipient}, {"-a", "-r", recipient}} {
		sealed := filepath.Join(dir, "theirs.csv.age")
		cmd := exec.Command(ageBin, append(args, "-o", sealed, "testdata/generic.csv")...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("age %v: %v %s", args, err, out)
		}
		got, err := LoadFile(sealed, LoadOptions{Identities: ids})
		if err != nil {
			t.Fatalf("load age %v: %v", args, err)
		}
		if len(got) != len(plainEntries) {
			t.Fatalf("age %v: %d entries, want %d", args, len(got), len(plainEntries))
		}
		for i := range got {
			if got[i].KeyID != plainEntries[i].KeyID || got[i].RecoveryPassword != plainEntries[i].RecoveryPassword || got[i].ComputerName != plainEntries[i].ComputerName {
				t.Errorf("age %v: entry %d differs: %v vs %v", args, i, got[i], plainEntries[i])
			}
		}
	}
}
