package bitlocker

import (
	"bufio"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cryptoVectors reads a '|'-separated known-answer file from
// testdata/crypto, skipping comments and blank lines.
func cryptoVectors(t testing.TB, name string, fields int) [][]string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "crypto", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.Split(line, "|")
		if len(parts) != fields {
			t.Fatalf("%s: line %q has %d fields, want %d", name, line, len(parts), fields)
		}
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
		}
		out = append(out, parts)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("%s: no vectors", name)
	}
	return out
}

// cryptoHex decodes hex with optional spaces; "pattern:N" gives N bytes of
// 00 01 .. ff repeated.
func cryptoHex(t testing.TB, s string) []byte {
	t.Helper()
	if n, ok := strings.CutPrefix(s, "pattern:"); ok {
		var size int
		for _, c := range n {
			size = size*10 + int(c-'0')
		}
		b := make([]byte, size)
		for i := range b {
			b[i] = byte(i)
		}
		return b
	}
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}
