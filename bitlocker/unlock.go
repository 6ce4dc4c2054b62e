package bitlocker

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
)

// How keys chain (libbde documentation "Keys"; dissect.fve bde/bde.py):
//
//	secret ──stretch(salt of the protector)──► 32-byte key
//	  (recovery password, password; a .BEK key and a clear key are used as is)
//	32-byte key ──AES-CCM unwrap of the protector's VMK entry──► VMK
//	VMK ──AES-CCM unwrap of the FVEK entry (type 3)──► FVEK (+ tweak key)
//	FVEK ──sector codec (method)──► plaintext sectors
//
// The VMK also unwraps the metadata's validation entry, a SHA-256 of the
// CRC-protected metadata bytes, which ties the metadata to the key.

// Unlock tries the keys in order and unlocks the volume with the first that
// opens a protector. A volume whose BitLocker is off (state decrypted) needs
// no key. On failure the error matches ErrWrongKey (a secret was tried
// against a protector of its kind and failed: *WrongKeyError names the
// protector) or ErrLocked (no key fits: *NeedRecoveryKeyError names the
// recovery key IDs to ask for, *NoProtectorError names what is missing).
// Malformed secrets (a recovery password with a bad group, a file that is
// not a .BEK) give an error that says what is wrong with it.
func (v *Volume) Unlock(keys ...Key) error {
	if v.unlocked {
		return nil
	}
	var errs []error
	for _, k := range keys {
		if k == nil {
			continue
		}
		err := v.tryKey(k)
		if err == nil {
			return nil
		}
		errs = append(errs, err)
	}
	// A wrong secret, a malformed one, or a damaged protector says more
	// than "nothing fits".
	for _, e := range errs {
		var ne *NoProtectorError
		if !errors.As(e, &ne) {
			return errors.Join(errs...)
		}
	}
	need := &NeedRecoveryKeyError{VolumeGUID: v.md.Dataset.VolumeGUID.String(), Protectors: v.Protectors()}
	for _, p := range v.protectors {
		if p.Type == ProtectorRecoveryPassword {
			need.RecoveryIDs = append(need.RecoveryIDs, p.ID)
		}
	}
	if len(errs) == 0 {
		return need
	}
	return errors.Join(append(errs, need)...)
}

func (v *Volume) tryKey(k Key) error {
	switch k := k.(type) {
	case clearKeyKey:
		ps := v.protectorsOfCode(protectionClearKey)
		if len(ps) == 0 {
			return &NoProtectorError{Kind: "clear key", Protectors: v.Protectors()}
		}
		var last error
		for _, p := range ps {
			ck, ok := firstValue(p.vmk.Entries, valueKey).(*keyValue)
			if !ok {
				last = corruptf("clear key protector {"+p.ID+"}", "has no unprotected key entry")
				continue
			}
			vmk, err := unwrapVMK(p, ck.Key)
			if err != nil {
				last = corruptf("clear key protector {"+p.ID+"}", "its key does not unwrap the VMK: %v", err)
				continue
			}
			return v.finishWithVMK(vmk, p.ID, "clear key (protection suspended)")
		}
		return last
	case recoveryPasswordKey:
		h, err := recoveryPasswordHash(k.pw)
		if err != nil {
			return &BadSecretError{Kind: "recovery password", Err: err}
		}
		return v.tryStretched(h, protectionRecoveryPassword, "recovery password")
	case passwordKey:
		if k.pw == "" {
			return &BadSecretError{Kind: "password", Err: errors.New("password is empty")}
		}
		return v.tryStretched(passwordHash(k.pw), protectionPassword, "password")
	case bekKey:
		bek, err := parseBEK(k.data)
		if err != nil {
			return &BadSecretError{Kind: "startup key", Err: err}
		}
		id := bek.ID.String()
		for _, p := range v.protectors {
			if p.ID != id {
				continue
			}
			vmk, err := unwrapVMK(p, bek.Key)
			if err != nil {
				return &WrongKeyError{ProtectorID: p.ID, Kind: "startup key"}
			}
			return v.finishWithVMK(vmk, p.ID, "startup key (.BEK)")
		}
		return &NoProtectorError{Kind: "startup key", KeyID: id, Protectors: v.Protectors()}
	case rawFVEKKey:
		return v.finishWithFVEK(k.b, v.datasetMethod(), "FVEK", "FVEK given directly", true)
	case reuseKey:
		if k.vmk != nil {
			return v.finishWithVMK(k.vmk, k.by, k.how)
		}
		return v.finishWithFVEK(k.fvek, k.method, k.by, k.how, true)
	}
	return fmt.Errorf("unknown key kind %T", k)
}

func (v *Volume) protectorsOfCode(code uint16) []Protector {
	var out []Protector
	for _, p := range v.protectors {
		if p.Code == code {
			out = append(out, p)
		}
	}
	return out
}

// tryStretched stretches hash with the salt of each protector of the
// given protection code and tries to unwrap its VMK.
func (v *Volume) tryStretched(hash [32]byte, code uint16, kind string) error {
	ps := v.protectorsOfCode(code)
	if len(ps) == 0 {
		return &NoProtectorError{Kind: kind, Protectors: v.Protectors()}
	}
	var errs []error
	done := map[[16]byte][32]byte{}
	for _, p := range ps {
		sk, ok := firstValue(p.vmk.Entries, valueStretchKey).(*stretchKeyValue)
		if !ok {
			errs = append(errs, corruptf(kind+" protector {"+p.ID+"}", "has no stretch key entry"))
			continue
		}
		key, ok := done[sk.Salt]
		if !ok {
			key = stretchKey(hash, sk.Salt)
			done[sk.Salt] = key
		}
		vmk, err := unwrapVMK(p, key[:])
		if err != nil {
			errs = append(errs, &WrongKeyError{ProtectorID: p.ID, Kind: kind})
			continue
		}
		return v.finishWithVMK(vmk, p.ID, kind)
	}
	return errors.Join(errs...)
}

// unwrapVMK unwraps the AES-CCM entry of protector p with key and returns
// the 32-byte VMK.
func unwrapVMK(p Protector, key []byte) ([]byte, error) {
	c, ok := firstValue(p.vmk.Entries, valueAESCCM).(*ccmValue)
	if !ok {
		return nil, errors.New("protector has no AES-CCM wrapped key")
	}
	k, err := unwrapKeyEntry(key, c)
	if err != nil {
		return nil, err
	}
	if len(k.Key) != 32 {
		return nil, fmt.Errorf("unwrapped VMK is %d bytes, want 32", len(k.Key))
	}
	return k.Key, nil
}

// unwrapKeyEntry decrypts an AES-CCM value whose plaintext is a key entry.
func unwrapKeyEntry(key []byte, c *ccmValue) (*keyValue, error) {
	if len(key) != 16 && len(key) != 32 {
		return nil, fmt.Errorf("wrapping key is %d bytes", len(key))
	}
	plain, err := ccmUnwrap(key, c.Nonce, c.Sealed)
	if err != nil {
		return nil, err
	}
	es, err := parseEntries(plain, 0)
	if err != nil || len(es) == 0 {
		return nil, fmt.Errorf("unwrapped data is not a key entry")
	}
	k, ok := es[0].value.(*keyValue)
	if !ok {
		return nil, fmt.Errorf("unwrapped data is a value of type 0x%04x, not a key", es[0].ValueType)
	}
	return k, nil
}

// finishWithVMK unwraps the FVEK with the VMK, checks the metadata's
// integrity hash and sets up the sector codec.
func (v *Volume) finishWithVMK(vmk []byte, by, how string) error {
	fs := findEntries(v.md.Entries, entryFVEK, valueAESCCM)
	if len(fs) == 0 {
		return corruptf("FVE metadata", "has no FVEK entry")
	}
	k, err := unwrapKeyEntry(vmk, fs[0].value.(*ccmValue))
	if err != nil {
		return corruptf("FVEK entry", "the VMK of protector {%s} does not unwrap it: %v", by, err)
	}
	v.integrity = v.checkIntegrity(vmk)
	if v.integrity == integrityMismatch {
		return corruptf(fmt.Sprintf("FVE metadata block %d", v.md.Index+1),
			"its SHA-256 validation hash does not match (the metadata was changed without its key)")
	}
	m := Method(k.Method)
	if !m.Known() {
		m = v.datasetMethod()
	}
	if err := v.finishWithFVEK(k.Key, m, by, how, false); err != nil {
		return err
	}
	v.vmk = append([]byte(nil), vmk...)
	return nil
}

// Integrity check outcomes.
const (
	integrityUnchecked = "not checked"
	integrityVerified  = "SHA-256 verified"
	integrityAbsent    = "no validation hash"
	integrityMismatch  = "SHA-256 mismatch"
)

// checkIntegrity unwraps the validation entry with the VMK and compares the
// SHA-256 it holds with the CRC-protected metadata bytes (dissect.fve
// Information.check_integrity).
func (v *Volume) checkIntegrity(vmk []byte) string {
	c, ok := firstValue(v.md.validation, valueAESCCM).(*ccmValue)
	if !ok {
		return integrityAbsent
	}
	k, err := unwrapKeyEntry(vmk, c)
	if err != nil || len(k.Key) != sha256.Size {
		return integrityAbsent
	}
	sum := sha256.Sum256(v.md.protected)
	if subtle.ConstantTimeCompare(sum[:], k.Key) != 1 {
		return integrityMismatch
	}
	return integrityVerified
}

func (v *Volume) datasetMethod() Method { return Method(v.md.Dataset.Method) }

// finishWithFVEK builds the sector codec. check asks for a plausibility
// test of the key (for an FVEK given directly, which nothing else checks):
// the decrypted first sector must end in the 0x55AA boot signature.
func (v *Volume) finishWithFVEK(fvek []byte, m Method, by, how string, check bool) error {
	c, err := newSectorCodec(m, fvek, v.sectorSize)
	if err != nil {
		if check {
			return &BadSecretError{Kind: "FVEK", Err: fmt.Errorf("FVEK: %w", err)}
		}
		return fmt.Errorf("%w: %v", ErrUnsupported, err)
	}
	oldCodec, oldMethod, oldFVEK, oldBy, oldHow := v.codec, v.method, v.fvek, v.unlockedBy, v.unlockedHow
	v.codec, v.method, v.unlocked = c, m, true
	v.fvek = append([]byte(nil), fvek...)
	v.unlockedBy, v.unlockedHow = by, how
	if check {
		sec := make([]byte, v.sectorSize)
		if _, err := v.ReadAt(sec, 0); err != nil || !bytes.Equal(sec[510:512], []byte{0x55, 0xaa}) {
			v.codec, v.method, v.fvek, v.unlockedBy, v.unlockedHow = oldCodec, oldMethod, oldFVEK, oldBy, oldHow
			v.unlocked = false
			return &WrongKeyError{Kind: "FVEK"}
		}
	}
	return nil
}

// UnlockedBy returns the ID of the protector that unlocked the volume
// ("FVEK" for a key given directly, "" when locked or when BitLocker is
// off) and how ("recovery password", "clear key (protection suspended)",
// ...).
func (v *Volume) UnlockedBy() (protectorID string, method string) {
	return v.unlockedBy, v.unlockedHow
}

// ReuseKey returns a key that unlocks this volume (or a fresh Volume opened
// on the same disk) without repeating the 2^20-round stretch. It is nil
// while the volume is locked. Like every Key it never prints its secret.
func (v *Volume) ReuseKey() Key {
	if !v.unlocked || v.codec == nil {
		return nil
	}
	return reuseKey{
		vmk:    append([]byte(nil), v.vmk...),
		fvek:   append([]byte(nil), v.fvek...),
		method: v.method,
		by:     v.unlockedBy,
		how:    v.unlockedHow,
	}
}
