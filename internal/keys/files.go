package keys

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"filippo.io/age"

	"github.com/unbrick/unbrick/internal/inputfile"
)

// The readers below are for the small secret files the key flags name.
// Each reads through inputfile: a device, FIFO, socket or directory is
// refused (without blocking on a FIFO) with an error wrapping
// inputfile.ErrNotRegular, and a file over its limit with one wrapping
// inputfile.ErrTooLarge; every error names the path and what to do.

// ReadBEKFile reads a BitLocker startup or recovery key file
// ({GUID}.BEK, 124 bytes or so; at most inputfile.MaxKeyFile).
func ReadBEKFile(path string) ([]byte, error) {
	b, err := inputfile.Read(path, "BEK file", inputfile.MaxKeyFile)
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("BEK file %s is empty; give the {GUID}.BEK file BitLocker saved", path)
	}
	return b, nil
}

// ReadRecoveryPasswordFile reads recovery passwords, one per line; blank
// lines and lines starting with '#' are skipped. Path "-" reads stdin
// (bounded all the same). The passwords are returned as written (not
// normalised or checked); a file with none is an error. At most
// inputfile.MaxKeyList bytes.
func ReadRecoveryPasswordFile(path string, stdin io.Reader) ([]string, error) {
	b, err := inputfile.ReadOrStdin(path, stdin, "recovery password file", inputfile.MaxKeyList)
	if err != nil {
		return nil, err
	}
	defer clear(b)
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		name := path
		if path == inputfile.Stdin {
			name = "standard input"
		}
		return nil, fmt.Errorf("recovery password file %s holds no recovery password; put one per line", name)
	}
	return out, nil
}

// ReadIdentityFile reads an age identity file (AGE-SECRET-KEY-1... lines)
// or an unencrypted SSH private key (see ParseIdentities); at most
// inputfile.MaxKeyFile bytes.
func ReadIdentityFile(path string) ([]Identity, error) {
	b, err := inputfile.Read(path, "identity file", inputfile.MaxKeyFile)
	if err != nil {
		return nil, err
	}
	defer clear(b)
	ids, err := ParseIdentities(b)
	if err != nil {
		return nil, fmt.Errorf("identity file %s: %w", path, err)
	}
	return ids, nil
}

// ReadRecipientsFile reads age recipients, one per line ("age1..." or an
// SSH public key line); blank lines and lines starting with '#' are
// skipped. A file with none is an error. At most inputfile.MaxKeyList
// bytes.
func ReadRecipientsFile(path string) ([]age.Recipient, error) {
	b, err := inputfile.Read(path, "recipients file", inputfile.MaxKeyList)
	if err != nil {
		return nil, err
	}
	var out []age.Recipient
	for i, l := range bytes.Split(b, []byte("\n")) {
		s := strings.TrimSpace(string(l))
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		r, err := parseRecipient(s)
		if err != nil {
			return nil, fmt.Errorf("recipients file %s: line %d: %w", path, i+1, err)
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("recipients file %s lists no recipient; put one age1... or SSH public key per line", path)
	}
	return out, nil
}
