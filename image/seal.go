package image

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"filippo.io/age"

	"github.com/unbrick/unbrick/internal/inputfile"
)

// SealedSuffix marks a key file sealed with age (C2SP age-encryption.org/v1,
// scrypt passphrase recipient). Such a file opens with the age CLI too:
// `age -d keys/export.csv.age`.
const SealedSuffix = ".age"

// DefaultWorkFactor is age's own default scrypt work factor (log2 N = 18,
// about 256 MiB of memory and 1-2 s per try on a PC).
const DefaultWorkFactor = 18

// MinPassphraseLen is the shortest passphrase accepted for sealing.
const MinPassphraseLen = 8

// maxUnsealed bounds what Unseal returns (a variable for tests).
var maxUnsealed int64 = inputfile.MaxKeyExport

// ErrWrongPassphrase is returned by Unseal when the passphrase does not open
// the file.
var ErrWrongPassphrase = errors.New("wrong passphrase")

// Seal encrypts plaintext to the passphrase with age's scrypt recipient.
func Seal(plaintext []byte, passphrase string, workFactor int) ([]byte, error) {
	if len(passphrase) < MinPassphraseLen {
		return nil, fmt.Errorf("passphrase too short: use at least %d characters", MinPassphraseLen)
	}
	rcp, err := age.NewScryptRecipient(passphrase)
	if err != nil {
		return nil, err
	}
	if workFactor > 0 {
		rcp.SetWorkFactor(workFactor)
	}
	var out bytes.Buffer
	w, err := age.Encrypt(&out, rcp)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	if _, err := w.Write(plaintext); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return out.Bytes(), nil
}

// Unseal decrypts an age file sealed with Seal. A passphrase that does not
// fit returns ErrWrongPassphrase; a damaged file returns another error, and
// so does content over inputfile.MaxKeyExport once decrypted (wrapping
// inputfile.ErrTooLarge). Read the sealed file itself with
// inputfile.Read(path, "sealed key file", inputfile.MaxKeyExport).
func Unseal(sealed []byte, passphrase string) ([]byte, error) {
	id, err := age.NewScryptIdentity(passphrase)
	if err != nil {
		return nil, err
	}
	id.SetMaxWorkFactor(22)
	r, err := age.Decrypt(bytes.NewReader(sealed), id)
	if err != nil {
		var noMatch *age.NoIdentityMatchError
		if errors.As(err, &noMatch) {
			return nil, ErrWrongPassphrase
		}
		return nil, fmt.Errorf("open sealed key file: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(r, maxUnsealed+1))
	if err != nil {
		return nil, fmt.Errorf("open sealed key file (damaged?): %w", err)
	}
	if int64(len(data)) > maxUnsealed {
		clear(data)
		return nil, fmt.Errorf("sealed key file holds more than %d bytes once decrypted: %w; seal a smaller key export", maxUnsealed, inputfile.ErrTooLarge)
	}
	return data, nil
}
