package keys

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"filippo.io/age"
	"filippo.io/age/armor"

	"github.com/unbrick/unbrick/internal/inputfile"
)

// Identity is an age identity (X25519, SSH) that can open a sealed bundle.
type Identity = age.Identity

// PassphraseFunc returns the passphrase for the sealed bundle named file.
type PassphraseFunc func(file string) (string, error)

// ErrNeedPassphrase: a passphrase-sealed bundle was given but no way to
// obtain its passphrase.
var ErrNeedPassphrase = errors.New("sealed key bundle needs a passphrase: set UNBRICK_KEYS_PASSPHRASE, pass --passphrase-file FILE, or run interactively")

// ErrWrongPassphrase: the passphrase (or identity) does not open the bundle.
var ErrWrongPassphrase = errors.New("wrong passphrase for the sealed key bundle (or it was sealed to a recipient key: give that key's identity file)")

// sealedHeader is the header row of the CSV inside a sealed bundle. Source
// and SourceLine say where each entry came from before sealing.
var sealedHeader = []string{"KeyID", "RecoveryPassword", "ComputerName", "DeviceID", "Serial", "Source", "SourceLine"}

// maxSealedPlain bounds the decrypted size of a bundle.
const maxSealedPlain = MaxFileSize

// lazyPassphrase is an age identity that asks for the passphrase only when
// the file has a passphrase (scrypt) stanza, so X25519 bundles never prompt.
type lazyPassphrase struct {
	file    string
	get     PassphraseFunc
	asked   bool
	wrongPW bool
}

func (l *lazyPassphrase) Unwrap(stanzas []*age.Stanza) ([]byte, error) {
	scrypt := false
	for _, s := range stanzas {
		if s.Type == "scrypt" {
			scrypt = true
		}
	}
	if !scrypt {
		return nil, age.ErrIncorrectIdentity
	}
	if l.get == nil {
		return nil, ErrNeedPassphrase
	}
	pw, err := l.get(l.file)
	l.asked = true
	if err != nil {
		return nil, fmt.Errorf("read passphrase: %w", err)
	}
	if pw == "" {
		return nil, errors.New("empty passphrase")
	}
	id, err := age.NewScryptIdentity(pw)
	if err != nil {
		return nil, err
	}
	key, err := id.Unwrap(stanzas)
	if err != nil && errors.Is(err, age.ErrIncorrectIdentity) {
		l.wrongPW = true
	}
	return key, err
}

func openSealed(name string, data []byte, opts LoadOptions) (*Result, error) {
	var src io.Reader = bytes.NewReader(data)
	if !bytes.HasPrefix(data, []byte("age-encryption.org/v1\n")) {
		src = armor.NewReader(bytes.NewReader(bytes.TrimLeft(data, " \t\r\n")))
	}
	lazy := &lazyPassphrase{file: name, get: opts.Passphrase}
	ids := append(append([]age.Identity(nil), opts.Identities...), lazy)
	r, err := age.Decrypt(src, ids...)
	if err != nil {
		var nm *age.NoIdentityMatchError
		switch {
		case errors.Is(err, ErrNeedPassphrase):
			return nil, fmt.Errorf("%s: %w", name, ErrNeedPassphrase)
		case lazy.wrongPW, errors.As(err, &nm):
			return nil, fmt.Errorf("%s: %w", name, ErrWrongPassphrase)
		}
		return nil, fmt.Errorf("%s: open sealed key bundle: %w", name, err)
	}
	plain, err := io.ReadAll(io.LimitReader(r, maxSealedPlain+1))
	if err != nil {
		return nil, fmt.Errorf("%s: sealed key bundle is damaged (authentication failed): %w", name, err)
	}
	if len(plain) > maxSealedPlain {
		clear(plain)
		return nil, fmt.Errorf("%s: the decrypted sealed key bundle is larger than %d MiB: %w; seal a smaller export", name, maxSealedPlain>>20, inputfile.ErrTooLarge)
	}
	if bytes.HasPrefix(plain, []byte(strings.Join(sealedHeader, ",")+"\n")) {
		return parseSealedPlain(name, plain)
	}
	// A key export sealed as it was (`age -p`, or `unbrick image` putting
	// an export on the stick): detect its format.
	res, err := parse(name, plain, opts, 1)
	clear(plain)
	return res, err
}

// parseSealedPlain reads the CSV written by Seal.
func parseSealedPlain(name string, plain []byte) (*Result, error) {
	res := &Result{Format: FormatSealed}
	cr := csv.NewReader(bytes.NewReader(plain))
	cr.FieldsPerRecord = len(sealedHeader)
	hdr, err := cr.Read()
	if err != nil || strings.Join(hdr, ",") != strings.Join(sealedHeader, ",") {
		return nil, fmt.Errorf("%s: decrypted, but the content is not an unbrick key bundle (bad header)", name)
	}
	for {
		row, err := cr.Read()
		if err == io.EOF {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			return nil, fmt.Errorf("%s: sealed content line %d: %s", name, line, csvErr(err))
		}
		rec := record{line: line}
		for i := 0; i < 5; i++ {
			rec.fields = append(rec.fields, field{name: sealedHeader[i], value: row[i], line: line})
		}
		e, p, ok := toEntry(name, FormatSealed, rec)
		src := name
		if row[5] != "" {
			src = name + ": " + row[5]
		}
		srcLine, _ := strconv.Atoi(row[6])
		if p != nil {
			p.File = src
			if srcLine > 0 {
				p.Line = srcLine
			}
			res.Problems = append(res.Problems, *p)
		}
		if ok {
			e.Source, e.Line = src, srcLine
			res.Entries = append(res.Entries, e)
		}
	}
	return res, nil
}
