//go:build !linux

package main

import "fmt"

// readSecret is only implemented on Linux; elsewhere the passphrase comes
// from --passphrase-file.
func readSecret(e *env, prompt string) (string, error) {
	return "", fmt.Errorf("cannot ask for a passphrase on this system: use --passphrase-file")
}
