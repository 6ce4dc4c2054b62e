package regf

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// fixture returns a fresh copy of testdata/system-services.hive (made by
// scripts/make-service-hive-fixture.sh with hivexregedit).
func fixture(t testing.TB) []byte {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "system-services.hive.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// needTool skips (fails under CI=true) when an external witness is absent.
func needTool(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed (scripts/test-packages.txt)", name)
		}
		t.Skipf("%s not installed: skipping the hivex witness", name)
	}
}

// writeTemp writes b to a temporary file and returns its path.
func writeTemp(t testing.TB, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "SYSTEM")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// hivexget runs hivexget HIVE KEY VALUE.
func hivexget(t testing.TB, hive []byte, key, value string) string {
	t.Helper()
	needTool(t, "hivexget")
	out, err := exec.Command("hivexget", writeTemp(t, hive), key, value).CombinedOutput()
	if err != nil {
		t.Fatalf("hivexget %s %s: %v: %s", key, value, err, out)
	}
	return string(bytes.TrimSpace(out))
}

// hivexExport runs hivexregedit --export HIVE '\'.
func hivexExport(t testing.TB, hive []byte) []string {
	t.Helper()
	needTool(t, "hivexregedit")
	out, err := exec.Command("hivexregedit", "--export", writeTemp(t, hive), `\`).CombinedOutput()
	if err != nil {
		t.Fatalf("hivexregedit --export: %v: %s", err, out)
	}
	return lines(out)
}

func lines(b []byte) []string {
	var out []string
	for _, l := range bytes.Split(b, []byte("\n")) {
		out = append(out, string(bytes.TrimRight(l, "\r")))
	}
	return out
}

// exportDiff returns the (line number, before, after) pairs where two
// exports differ; the exports must have the same number of lines.
func exportDiff(t testing.TB, before, after []string) [][3]string {
	t.Helper()
	if len(before) != len(after) {
		t.Fatalf("export has %d lines before, %d after", len(before), len(after))
	}
	var d [][3]string
	for i := range before {
		if before[i] != after[i] {
			// the key header above the changed line, for the message
			key := ""
			for j := i; j >= 0; j-- {
				if len(before[j]) > 0 && before[j][0] == '[' {
					key = before[j]
					break
				}
			}
			d = append(d, [3]string{key, before[i], after[i]})
		}
	}
	return d
}

// setSeq sets the primary sequence number and recomputes the checksum.
func setSeq(b []byte, primary uint32) {
	le.PutUint32(b[4:], primary)
	le.PutUint32(b[508:], Checksum(b))
}
