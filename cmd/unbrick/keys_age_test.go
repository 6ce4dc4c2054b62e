package main

import (
	"testing"

	"filippo.io/age"
)

// newX25519 returns a fresh age identity and its recipient string.
func newX25519(t *testing.T) (identity, recipient string) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id.String(), id.Recipient().String()
}
