package bitlocker

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Callers test them with errors.Is; the unbrick CLI maps
// them to exit codes in one place (ErrLocked and ErrWrongKey -> 3,
// ErrCorrupt and everything else -> 1).
var (
	// ErrNotBitLocker: the volume has no BitLocker signature.
	ErrNotBitLocker = errors.New("not a BitLocker volume (no -FVE-FS- signature)")

	// ErrBitLockerToGo: a BitLocker To Go volume in its FAT container.
	ErrBitLockerToGo = errors.New("BitLocker To Go (FAT) volume: not supported yet")

	// ErrLocked: the volume could not be unlocked with the keys supplied
	// (none fits a protector). *NeedRecoveryKeyError and *NoProtectorError
	// match it.
	ErrLocked = errors.New("BitLocker volume is locked: no usable key")

	// ErrWrongKey: a secret was tried against a protector of its kind and
	// did not open it. *WrongKeyError matches it.
	ErrWrongKey = errors.New("wrong key")

	// ErrCorrupt: the BitLocker metadata cannot be parsed or fails its
	// checksums in every copy. *CorruptError matches it.
	ErrCorrupt = errors.New("BitLocker metadata is corrupt")

	// ErrUnsupported: a valid volume uses a feature this package does not
	// handle yet (the message says which).
	ErrUnsupported = errors.New("unsupported BitLocker feature")

	// ErrMetadataWrite: a write would touch a region BitLocker reserves for
	// itself (FVE metadata blocks, the relocated boot sectors, EOW bitmaps),
	// which the plaintext view shows as zeros.
	ErrMetadataWrite = errors.New("write refused: it overlaps a BitLocker metadata region")

	// ErrShortImage: a write would go beyond the end of an image that is
	// shorter than the volume it holds.
	ErrShortImage = errors.New("write refused: the image ends before the end of the volume")

	// ErrReadOnly: WriteAt on a volume opened from a reader that cannot write.
	ErrReadOnly = errors.New("write refused: the volume was opened read-only")
)

// WrongKeyError reports a secret that did not open the protector it was
// tried against. It names the protector, never the secret.
type WrongKeyError struct {
	ProtectorID string // GUID, upper case, no braces
	Kind        string // "recovery password", "password", "startup key", "FVEK"
}

func (e *WrongKeyError) Error() string {
	if e.ProtectorID == "" {
		return fmt.Sprintf("wrong %s for this volume", e.Kind)
	}
	return fmt.Sprintf("wrong %s for protector {%s}", e.Kind, e.ProtectorID)
}

// Is makes errors.Is(err, ErrWrongKey) true.
func (e *WrongKeyError) Is(target error) bool { return target == ErrWrongKey }

// NeedRecoveryKeyError: no key was supplied that fits a protector of the
// volume. For a TPM-protected system volume this is the normal case off
// its own machine: the message names the recovery key IDs to look up.
type NeedRecoveryKeyError struct {
	VolumeGUID  string
	RecoveryIDs []string    // recovery password protector IDs (ask for these)
	Protectors  []Protector // every protector of the volume
}

func (e *NeedRecoveryKeyError) Error() string {
	var b strings.Builder
	b.WriteString("BitLocker volume is locked: no supplied key fits its protectors (")
	for i, p := range e.Protectors {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s {%s}", p.Type, p.ID)
	}
	b.WriteString(")")
	switch len(e.RecoveryIDs) {
	case 0:
		b.WriteString("; the volume has no recovery password protector: supply its password, startup key (.BEK) or FVEK")
	case 1:
		fmt.Fprintf(&b, "; supply the recovery password for recovery key ID {%s}", e.RecoveryIDs[0])
	default:
		b.WriteString("; supply the recovery password for one of the recovery key IDs")
		for _, id := range e.RecoveryIDs {
			fmt.Fprintf(&b, " {%s}", id)
		}
	}
	return b.String()
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *NeedRecoveryKeyError) Is(target error) bool { return target == ErrLocked }

// NoProtectorError: a secret was supplied whose kind no protector of the
// volume accepts (e.g. a password for a volume without a password
// protector), or a startup key whose ID matches no protector.
type NoProtectorError struct {
	Kind       string // kind of the secret supplied
	KeyID      string // for startup keys: the ID in the .BEK file
	Protectors []Protector
}

func (e *NoProtectorError) Error() string {
	var b strings.Builder
	if e.KeyID != "" {
		fmt.Fprintf(&b, "%s {%s} matches no protector of this volume", e.Kind, e.KeyID)
	} else {
		fmt.Fprintf(&b, "this volume has no %s protector", e.Kind)
	}
	b.WriteString(" (protectors:")
	for _, p := range e.Protectors {
		fmt.Fprintf(&b, " %s {%s}", p.Type, p.ID)
	}
	if len(e.Protectors) == 0 {
		b.WriteString(" none")
	}
	b.WriteString(")")
	return b.String()
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *NoProtectorError) Is(target error) bool { return target == ErrLocked }

// BadSecretError: a secret is malformed (a recovery password with a bad
// digit group, a file that is not a .BEK file). It matches ErrLocked: no
// usable key was supplied.
type BadSecretError struct {
	Kind string // "recovery password", "startup key", "FVEK"
	Err  error  // what is wrong, never the secret itself
}

func (e *BadSecretError) Error() string { return e.Err.Error() }
func (e *BadSecretError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrLocked) true.
func (e *BadSecretError) Is(target error) bool { return target == ErrLocked }

// CorruptError describes damaged or implausible BitLocker structures.
type CorruptError struct {
	What string // which structure, e.g. "FVE metadata block 2 at 0x21f0000"
	Err  error  // the problem
}

func (e *CorruptError) Error() string {
	if e.Err == nil {
		return e.What + ": corrupt"
	}
	return e.What + ": " + e.Err.Error()
}

func (e *CorruptError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

func corruptf(what string, format string, args ...any) error {
	return &CorruptError{What: what, Err: fmt.Errorf(format, args...)}
}
