package keys

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"

	"filippo.io/age"
	"filippo.io/age/armor"
)

// MinPassphraseLen is the shortest passphrase Seal accepts (the same as
// the USB image builder's).
const MinPassphraseLen = 8

// SealOptions say how Seal encrypts.
type SealOptions struct {
	// Passphrase seals with age's scrypt recipient. Exclusive with Recipients.
	Passphrase string
	// WorkFactor is scrypt's log2(N) for Passphrase; 0 means age's default
	// (18, about a second). Tests use less.
	WorkFactor int
	// Recipients: age X25519 ("age1...") or SSH public-key recipients.
	Recipients []age.Recipient
	// Armor writes PEM-style ASCII armor instead of binary.
	Armor bool
}

// Seal writes entries as an age-encrypted bundle that LoadFile opens with
// the passphrase or a matching identity. Inside is a CSV with the header
// KeyID,RecoveryPassword,ComputerName,DeviceID,Serial,Source,SourceLine.
func Seal(w io.Writer, entries []Entry, opts SealOptions) error {
	var recips []age.Recipient
	switch {
	case opts.Passphrase != "" && len(opts.Recipients) > 0:
		return fmt.Errorf("seal: give a passphrase or recipients, not both (age cannot mix them)")
	case opts.Passphrase != "":
		if len(opts.Passphrase) < MinPassphraseLen {
			return fmt.Errorf("seal: passphrase shorter than %d characters", MinPassphraseLen)
		}
		r, err := age.NewScryptRecipient(opts.Passphrase)
		if err != nil {
			return fmt.Errorf("seal: %w", err)
		}
		if opts.WorkFactor > 0 {
			r.SetWorkFactor(opts.WorkFactor)
		}
		recips = []age.Recipient{r}
	case len(opts.Recipients) > 0:
		recips = opts.Recipients
	default:
		return fmt.Errorf("seal: no passphrase and no recipient given")
	}
	var plain bytes.Buffer
	cw := csv.NewWriter(&plain)
	cw.Write(sealedHeader)
	for _, e := range entries {
		cw.Write([]string{e.KeyID, e.RecoveryPassword, e.ComputerName, e.DeviceID, e.Serial, e.Source, strconv.Itoa(e.Line)})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("seal: %w", err)
	}
	out := w
	var aw io.WriteCloser
	if opts.Armor {
		aw = armor.NewWriter(w)
		out = aw
	}
	enc, err := age.Encrypt(out, recips...)
	if err != nil {
		return fmt.Errorf("seal: %w", err)
	}
	if _, err := enc.Write(plain.Bytes()); err != nil {
		return fmt.Errorf("seal: write: %w", err)
	}
	clear(plain.Bytes())
	if err := enc.Close(); err != nil {
		return fmt.Errorf("seal: %w", err)
	}
	if aw != nil {
		if err := aw.Close(); err != nil {
			return fmt.Errorf("seal: %w", err)
		}
	}
	return nil
}

// ParseRecipient parses an age recipient: "age1..." (X25519) or an SSH
// public key line ("ssh-ed25519 AAAA...", "ssh-rsa AAAA...").
func ParseRecipient(s string) (age.Recipient, error) {
	return parseRecipient(s)
}
