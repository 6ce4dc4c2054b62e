package inputfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadRegular(t *testing.T) {
	p := filepath.Join(t.TempDir(), "rules.json")
	if err := os.WriteFile(p, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := Read(p, "rules file", 5)
	if err != nil || string(b) != "hello" {
		t.Fatalf("Read = %q, %v", b, err)
	}
	_, err = Read(p, "rules file", 4)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "rules file") {
		t.Fatalf("over limit: %v", err)
	}
}

func TestReadMissingNamesPath(t *testing.T) {
	_, err := Read("/nonexistent/k.bek", "BEK file", 10)
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/k.bek") || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("err = %v", err)
	}
}
