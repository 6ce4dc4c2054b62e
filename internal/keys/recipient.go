package keys

import (
	"fmt"
	"strings"

	"filippo.io/age"
	"filippo.io/age/agessh"
)

func parseRecipient(s string) (age.Recipient, error) {
	s = strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(s, "age1"):
		return age.ParseX25519Recipient(s)
	case strings.HasPrefix(s, "ssh-"):
		return agessh.ParseRecipient(s)
	}
	return nil, fmt.Errorf("recipient %q is neither an age public key (age1...) nor an SSH public key (ssh-ed25519/ssh-rsa ...)", clip(s))
}

// ParseIdentities reads an age identity file (AGE-SECRET-KEY-1... lines) or
// an unencrypted SSH private key, for opening recipient-sealed bundles.
func ParseIdentities(data []byte) ([]Identity, error) {
	if strings.Contains(string(data), "PRIVATE KEY-----") {
		id, err := agessh.ParseIdentity(data)
		if err != nil {
			return nil, fmt.Errorf("SSH identity: %w", err)
		}
		return []Identity{id}, nil
	}
	ids, err := age.ParseIdentities(strings.NewReader(string(data)))
	if err != nil {
		return nil, fmt.Errorf("age identity file: %w", err)
	}
	return ids, nil
}
