package bitlocker

import (
	"fmt"
	"log/slog"
)

// Key is a secret that may unlock a volume: build one with
// RecoveryPassword, Password, BEK, ClearKey or RawFVEK, or take one from
// (*Volume).ReuseKey. Keys never print their secret: String, GoString and
// slog output are redacted.
type Key interface {
	// Kind names the kind of secret.
	Kind() KeyKind
	isKey()
}

// KeyKind is the kind of a Key; its string is what messages show.
type KeyKind string

// The kinds of Key.
const (
	KeyRecoveryPassword KeyKind = "recovery password"
	KeyPassword         KeyKind = "password"
	KeyStartupKey       KeyKind = "startup key"
	KeyClearKey         KeyKind = "clear key"
	KeyFVEK             KeyKind = "FVEK"
	KeyReused           KeyKind = "reused key"
)

type recoveryPasswordKey struct{ pw string }
type passwordKey struct{ pw string }
type bekKey struct{ data []byte }
type clearKeyKey struct{}
type rawFVEKKey struct{ b []byte }
type reuseKey struct {
	vmk    []byte // nil when the FVEK was given directly
	fvek   []byte
	method Method
	by     string // protector ID or "FVEK"
	how    string
}

// RecoveryPassword is the 48-digit recovery password (8 groups of 6 digits,
// separated by dashes, spaces or nothing).
func RecoveryPassword(pw string) Key { return recoveryPasswordKey{pw} }

// Password is a user password (passphrase) protector's secret.
func Password(pw string) Key { return passwordKey{pw} }

// BEK is the content of a BitLocker external key file ({GUID}.BEK): a
// startup key or a recovery key, matched to its protector by GUID.
func BEK(data []byte) Key { return bekKey{append([]byte(nil), data...)} }

// ClearKey unlocks a volume whose protection is suspended (a VMK stored
// with an unprotected key).
func ClearKey() Key { return clearKeyKey{} }

// RawFVEK is the full volume encryption key material as the FVEK entry
// stores it (AES-XTS: both keys; AES-CBC with diffuser: FVEK then tweak key,
// 64 bytes; AES-CBC: 16 or 32 bytes). For forensics and tests.
func RawFVEK(b []byte) Key { return rawFVEKKey{append([]byte(nil), b...)} }

func (recoveryPasswordKey) Kind() KeyKind { return KeyRecoveryPassword }
func (passwordKey) Kind() KeyKind         { return KeyPassword }
func (bekKey) Kind() KeyKind              { return KeyStartupKey }
func (clearKeyKey) Kind() KeyKind         { return KeyClearKey }
func (rawFVEKKey) Kind() KeyKind          { return KeyFVEK }
func (reuseKey) Kind() KeyKind            { return KeyReused }

func (recoveryPasswordKey) isKey() {}
func (passwordKey) isKey()         {}
func (bekKey) isKey()              {}
func (clearKeyKey) isKey()         {}
func (rawFVEKKey) isKey()          {}
func (reuseKey) isKey()            {}

func redacted(k Key) string { return fmt.Sprintf("bitlocker.Key(%s, redacted)", k.Kind()) }

func (k recoveryPasswordKey) String() string   { return redacted(k) }
func (k passwordKey) String() string           { return redacted(k) }
func (k bekKey) String() string                { return redacted(k) }
func (k clearKeyKey) String() string           { return redacted(k) }
func (k rawFVEKKey) String() string            { return redacted(k) }
func (k reuseKey) String() string              { return redacted(k) }
func (k recoveryPasswordKey) GoString() string { return redacted(k) }
func (k passwordKey) GoString() string         { return redacted(k) }
func (k bekKey) GoString() string              { return redacted(k) }
func (k rawFVEKKey) GoString() string          { return redacted(k) }
func (k reuseKey) GoString() string            { return redacted(k) }

func (k recoveryPasswordKey) LogValue() slog.Value { return slog.StringValue(redacted(k)) }
func (k passwordKey) LogValue() slog.Value         { return slog.StringValue(redacted(k)) }
func (k bekKey) LogValue() slog.Value              { return slog.StringValue(redacted(k)) }
func (k rawFVEKKey) LogValue() slog.Value          { return slog.StringValue(redacted(k)) }
func (k reuseKey) LogValue() slog.Value            { return slog.StringValue(redacted(k)) }

// bekFile is a decoded .BEK file: a dataset header (like the FVE metadata
// header) and entries, among them a startup-key entry (type 6) holding an
// external key value (type 9) with the key ID and a 32-byte key (libbde
// documentation, "BitLocker External Key (BEK) file").
type bekFile struct {
	ID  GUID
	Key []byte
}

func parseBEK(b []byte) (*bekFile, error) {
	if len(b) < datasetHeaderSize {
		return nil, fmt.Errorf("startup key file is %d bytes, too short for a .BEK file", len(b))
	}
	le := func(o int) uint32 { return uint32(b[o]) | uint32(b[o+1])<<8 | uint32(b[o+2])<<16 | uint32(b[o+3])<<24 }
	size, start, end := int64(le(0)), int64(le(8)), int64(le(12))
	if size > int64(len(b)) || start < datasetHeaderSize || end < start || end > size {
		return nil, fmt.Errorf("startup key file: header sizes %d/%d/%d do not fit its %d bytes: not a .BEK file", size, start, end, len(b))
	}
	es, err := parseEntries(b[start:end], 0)
	if err != nil {
		return nil, fmt.Errorf("startup key file: %w", err)
	}
	for _, e := range findEntries(es, entryStartupKey, valueExternal) {
		x := e.value.(*externalValue)
		if k, ok := firstValue(x.Entries, valueKey).(*keyValue); ok && len(k.Key) == 32 {
			return &bekFile{ID: x.ID, Key: k.Key}, nil
		}
	}
	return nil, fmt.Errorf("startup key file holds no external key entry: not a .BEK file")
}
