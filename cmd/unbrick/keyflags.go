package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/unbrick/unbrick/bitlocker"
	"github.com/unbrick/unbrick/internal/disk"
	"github.com/unbrick/unbrick/internal/exitcode"
	"github.com/unbrick/unbrick/internal/keys"
	"github.com/unbrick/unbrick/internal/redact"
	"github.com/unbrick/unbrick/internal/remedy"
)

// keyFlags are the BitLocker key flags shared by every subcommand that
// opens volumes. Secrets may come from flags, files, standard input or the
// environment (so they need not appear in `ps`); they are never printed.
// addKeyFlags (flags.go) registers them.
type keyFlags struct {
	recoveryPasswords    []string // --recovery-password PASSWORD (repeatable)
	recoveryPasswordFile string   // --recovery-password-file FILE ('-' = stdin)
	passwords            []string // --password PASSWORD
	beks                 []string // --bek FILE
	fveks                []string // --fvek HEX
	keyFiles             []string // --keys FILE (key export, possibly age-sealed)
	passphraseFile       string   // --passphrase-file FILE: passphrase of age-sealed --keys bundles
}

// Environment variables that supply secrets.
const (
	envRecoveryPassword = "UNBRICK_RECOVERY_PASSWORD"
	envPassword         = "UNBRICK_PASSWORD"
)

// keySource is the resolved set of keys: explicit secrets plus key export
// entries to match against each volume's protectors.
type keySource struct {
	explicit []bitlocker.Key
	set      *keys.Set
}

// keyUsageError marks a problem with the key flags themselves (exit 2).
type keyUsageError struct{ err error }

func (e *keyUsageError) Error() string { return e.err.Error() }
func (e *keyUsageError) Unwrap() error { return e.err }

// resolve reads the secrets the flags and environment name. Problems (an
// unreadable file, bad hex) are *keyUsageError.
func (k *keyFlags) resolve(e *env) (*keySource, error) {
	ks := &keySource{}
	usage := func(format string, a ...any) error { return &keyUsageError{fmt.Errorf(format, a...)} }
	if k == nil {
		return ks, nil
	}
	var rps []string
	rps = append(rps, k.recoveryPasswords...)
	if v := e.Getenv(envRecoveryPassword); v != "" {
		rps = append(rps, v)
	}
	if f := k.recoveryPasswordFile; f != "" {
		lines, err := keys.ReadRecoveryPasswordFile(f, e.Stdin)
		if err != nil {
			return nil, usage("--recovery-password-file: %v", err)
		}
		for _, l := range lines {
			redact.Register(l)
		}
		rps = append(rps, lines...)
	}
	pws := append([]string(nil), k.passwords...)
	if v := e.Getenv(envPassword); v != "" {
		pws = append(pws, v)
	}
	for _, h := range k.fveks {
		b, err := hex.DecodeString(strings.NewReplacer(" ", "", ":", "", "-", "").Replace(strings.TrimSpace(h)))
		if err != nil || len(b) == 0 {
			return nil, usage("--fvek: not a hexadecimal key (want 32, 64 or 128 hex digits)")
		}
		ks.explicit = append(ks.explicit, bitlocker.RawFVEK(b))
	}
	for _, f := range k.beks {
		b, err := keys.ReadBEKFile(f)
		if err != nil {
			return nil, usage("--bek: %v", err)
		}
		ks.explicit = append(ks.explicit, bitlocker.BEK(b))
	}
	for _, rp := range rps {
		ks.explicit = append(ks.explicit, bitlocker.RecoveryPassword(rp))
	}
	for _, pw := range pws {
		ks.explicit = append(ks.explicit, bitlocker.Password(pw))
	}
	if len(k.keyFiles) > 0 {
		es, err := keys.LoadFiles(k.keyFiles, keys.LoadOptions{
			Warn:       func(p keys.Problem) { fmt.Fprintf(e.Stderr, "warning: --keys: %v\n", p) },
			Passphrase: keysPassphrase(e, k.passphraseFile),
		})
		if err != nil {
			return nil, usage("--keys: %w", err)
		}
		ks.set = keys.NewSet(es)
	}
	return ks, nil
}

// empty reports whether no secret at all was supplied.
func (ks *keySource) empty() bool { return len(ks.explicit) == 0 && ks.set == nil }

// engineKeys are the resolved keys as the engine takes them: the engine
// alone decides which to try on a volume, in which order.
func (ks *keySource) engineKeys() remedy.KeyOptions {
	var ko remedy.KeyOptions
	for _, k := range ks.explicit {
		ko.Typed = append(ko.Typed, remedy.TypedKey{Key: k, Source: "the command line (" + string(k.Kind()) + ")"})
	}
	ko.Export = ks.set
	return ko
}

// openTarget resolves the key flags and opens a volume through the
// engine (remedy.Open: one way from a target to an unlocked volume). It
// prints the short-image warning once on stderr and returns the exit
// code to use with an error.
func openTarget(e *env, prog string, kf *keyFlags, req remedy.OpenRequest) (*remedy.Opened, int, error) {
	ks, err := kf.resolve(e)
	if err != nil {
		return nil, bitlockerExitCode(err), err
	}
	req.Keys = ks.engineKeys()
	o, err := remedy.Open(req)
	if err != nil {
		return nil, openExitCode(err), err
	}
	if w := o.ShortWarning(); w != "" {
		fmt.Fprintf(e.Stderr, "%s: warning: %s\n", prog, w)
	}
	return o, exitcode.OK, nil
}

// openExitCode maps an error of remedy.Open (or of its write path) to an
// exit code: 2 several candidates and no --partition, 3 locked, 4
// refused, else as bitlockerExitCode.
func openExitCode(err error) int {
	var se *disk.SelectError
	if errors.As(err, &se) && se.Ambiguous() {
		return exitcode.Usage
	}
	switch remedy.ErrorStatus(err) {
	case remedy.StatusLocked:
		return exitcode.Locked
	case remedy.StatusRefused:
		return exitcode.Refused
	}
	return bitlockerExitCode(err)
}

// bitlockerExitCode maps a bitlocker (or openVolume) error to an exit code:
// no usable or wrong key -> 3, bad key flags -> 2, anything else -> 1.
func bitlockerExitCode(err error) int {
	var ku *keyUsageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ku):
		return 2
	case errors.Is(err, bitlocker.ErrCorrupt), errors.Is(err, bitlocker.ErrUnsupported):
		return 1
	case errors.Is(err, bitlocker.ErrWrongKey), errors.Is(err, bitlocker.ErrLocked):
		return 3
	}
	return 1
}
