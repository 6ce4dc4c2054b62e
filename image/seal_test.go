package image

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestSealUnseal(t *testing.T) {
	plain := []byte("KeyID,RecoveryKey\n3C116B76-C67B-484E-B439-CE2ED68B561E,284867-596541-514998-422114-660297-261613-215424-199408\n")
	sealed, err := Seal(plain, "correct horse", 10)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("284867")) || !bytes.HasPrefix(sealed, []byte("age-encryption.org/v1\n")) {
		t.Fatal("sealed file leaks the key or is not an age file")
	}
	got, err := Unseal(sealed, "correct horse")
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("unseal: %v", err)
	}
	if _, err := Unseal(sealed, "wrong horse!"); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	damaged := append([]byte(nil), sealed...)
	damaged[len(damaged)-5] ^= 0xff
	if _, err := Unseal(damaged, "correct horse"); err == nil || errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("damaged file: %v", err)
	}
	if _, err := Unseal([]byte("not age"), "correct horse"); err == nil {
		t.Fatal("garbage accepted")
	}
	if _, err := Seal(plain, "short", 10); err == nil || !strings.Contains(err.Error(), "too short") {
		t.Fatalf("short passphrase: %v", err)
	}
}
