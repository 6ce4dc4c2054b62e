package keys

import (
	"errors"
	"strings"

	"github.com/unbrick/unbrick/internal/inputfile"
)

// PassphraseEnv is the environment variable that may hold a sealed bundle's
// passphrase (for unattended runs; prefer a file on a medium you control).
const PassphraseEnv = "UNBRICK_KEYS_PASSPHRASE"

// PassphraseSource returns a PassphraseFunc that tries, in order: the file
// named by file (its first line; "" = none), the environment variable
// UNBRICK_KEYS_PASSPHRASE via getenv, and prompt (nil = none). The answer
// is remembered so several bundles sealed with one passphrase ask once.
func PassphraseSource(file string, getenv func(string) string, prompt PassphraseFunc) PassphraseFunc {
	var cached string
	return func(bundle string) (string, error) {
		if cached != "" {
			return cached, nil
		}
		pw, err := lookupPassphrase(bundle, file, getenv, prompt)
		if err == nil {
			cached = pw
		}
		return pw, err
	}
}

func lookupPassphrase(bundle, file string, getenv func(string) string, prompt PassphraseFunc) (string, error) {
	if file != "" {
		return ReadPassphraseFile(file)
	}
	if getenv != nil {
		if pw := getenv(PassphraseEnv); pw != "" {
			return pw, nil
		}
	}
	if prompt != nil {
		return prompt(bundle)
	}
	return "", ErrNeedPassphrase
}

// ReadPassphraseFile returns the first line of file, without its line end.
// The file must be a regular file of at most inputfile.MaxKeyFile bytes;
// a device, FIFO or directory is refused without blocking.
func ReadPassphraseFile(file string) (string, error) {
	b, err := inputfile.Read(file, "passphrase file", inputfile.MaxKeyFile)
	if err != nil {
		return "", err
	}
	defer clear(b)
	line, _, _ := strings.Cut(string(b), "\n")
	line = strings.TrimSuffix(line, "\r")
	if line == "" {
		return "", errors.New("passphrase file " + file + ": first line is empty; put the passphrase on the first line")
	}
	return line, nil
}
