package remedy

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/unbrick/unbrick/bitlocker"
	"github.com/unbrick/unbrick/internal/keys"
)

// keyTry is one key worth trying on a volume, with what to report if it
// opens it.
type keyTry struct {
	key    bitlocker.Key
	source string // "keys.csv:12", "--recovery-password", "clear key"
	match  KeyMatch
}

// KeyMatch says how the key that opened a volume was chosen for it
// (BitLockerInfo.KeyMatch).
type KeyMatch string

// The ways a key is matched to a volume.
const (
	MatchProtectorID  KeyMatch = "protector id"  // key export entry for one of the volume's protector IDs
	MatchComputerName KeyMatch = "computer name" // entry for the computer name in the metadata description
	MatchSerial       KeyMatch = "serial"        // entry for the host's SMBIOS serial
	MatchExport       KeyMatch = "export"        // other export entry
	MatchTyped        KeyMatch = "typed"         // given on the command line or in the wizard
	MatchSuspended    KeyMatch = "suspended"     // the clear key of a suspended volume
)

// bitLockerReport fills the report's BitLocker fields from the metadata
// (no key needed) and returns notes on damaged metadata copies.
func bitLockerReport(bl *bitlocker.Volume) (*BitLockerInfo, []string) {
	info := bl.Info()
	bi := &BitLockerInfo{VolumeGUID: info.VolumeGUID, Method: info.MethodName, MethodCode: info.MethodCode, State: string(info.State), Description: info.Description}
	for _, pr := range bl.Protectors() {
		bi.Protectors = append(bi.Protectors, Protector{ID: pr.ID, Type: pr.Type, Code: fmt.Sprintf("0x%04x", pr.Code)})
	}
	var notes []string
	for i, c := range info.MetadataCopies {
		if c != "valid" {
			notes = append(notes, fmt.Sprintf("BitLocker metadata copy %d of %d is damaged (%s); unbrick uses a valid copy, and Windows repairs the damaged one", i+1, len(info.MetadataCopies), c))
		}
	}
	bi.MetadataCopies = info.MetadataCopies
	return bi, notes
}

// unlock is the engine's one key policy: it unlocks bl with the key
// ks.Cache holds for the volume (no stretch), else with the keys worth
// trying (keysFor), one at a time (each recovery password or password
// costs a 2^20-round stretch, so only keys matched to this volume are
// tried). It records the outcome in bi and returns the stretches spent.
// A volume no key opens is StatusLocked, the error naming the recovery
// key IDs to look up.
func unlock(bl *bitlocker.Volume, bi *BitLockerInfo, ks *KeyOptions) (int, error) {
	info := bl.Info()
	unlocked := !bl.Locked()
	// A key this process already unwrapped for the volume: no stretch.
	fromCache := false
	for _, ck := range ks.Cache.get(info.VolumeGUID) {
		if unlocked {
			break
		}
		if err := bl.Unlock(ck.key); err == nil {
			unlocked, fromCache = true, true
			bi.KeySource, bi.KeyMatch = ck.source, ck.match
		}
	}
	var tries []keyTry
	if !unlocked {
		tries = keysFor(info, bl, ks)
	}
	derivations := 0
	var errs []string
	if !unlocked && len(tries) == 0 {
		err := bl.Unlock() // no key: the error names the recovery key IDs to look up
		if err == nil {
			unlocked = true
		} else {
			return 0, &outcome{StatusLocked, err}
		}
	}
	for _, k := range tries {
		if unlocked {
			break
		}
		err := bl.Unlock(k.key)
		derivations += stretches(bl, k.key, err)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %s", k.source, scrubDigits(err.Error())))
			continue
		}
		unlocked = true
		bi.KeySource, bi.KeyMatch = k.source, k.match
	}
	if !unlocked {
		return derivations, &outcome{StatusLocked, fmt.Errorf("no key opened this volume (tried %d): %s", len(tries), strings.Join(errs, "; "))}
	}
	bi.Unlocked = true
	if !fromCache {
		ks.Cache.add(info.VolumeGUID, bl, bi.KeySource, bi.KeyMatch)
	}
	bi.ProtectorID, bi.UnlockMethod = bl.UnlockedBy()
	if bi.protector(bi.ProtectorID) == bitlocker.ProtectorRecoveryPassword {
		bi.RecoveryKeyID = bi.ProtectorID
	}
	return derivations, nil
}

// protector returns the type of the protector with this ID ("" if none).
func (bi *BitLockerInfo) protector(id string) bitlocker.ProtectorType {
	for _, pr := range bi.Protectors {
		if pr.ID == id {
			return pr.Type
		}
	}
	return ""
}

// keysFor lists the keys to try on a volume, cheapest and best first: the
// clear key of a suspended volume (no stretch), typed keys (those scoped
// to another volume GUID left out), then the key export's candidates
// (protector ID, then computer name in the metadata description, then
// SMBIOS serial; at most keys.MaxCandidates).
func keysFor(info *bitlocker.Info, bl *bitlocker.Volume, ks *KeyOptions) []keyTry {
	var out []keyTry
	if info.Suspended {
		out = append(out, keyTry{bitlocker.ClearKey(), "clear key (protection suspended)", MatchSuspended})
	}
	for _, k := range ks.Typed {
		if k.appliesTo(info.VolumeGUID) {
			out = append(out, keyTry{k.Key, k.Source, MatchTyped})
		}
	}
	if ks.Export != nil {
		var ids []string
		isID := map[string]bool{}
		for _, pr := range bl.Protectors() {
			ids = append(ids, pr.ID)
			isID[pr.ID] = true
		}
		for _, e := range ks.Export.Candidates(ids, info.Description, ks.Serial) {
			out = append(out, keyTry{bitlocker.RecoveryPassword(e.RecoveryPassword), entrySource(e), entryMatch(e, isID)})
		}
	}
	return out
}

// stretches is how many 2^20-round key stretches trying k on bl cost
// (err is what Unlock returned): one per protector of the key's kind tried,
// up to the one that opened the volume; none for a malformed secret or a
// key that needs no stretch (startup key, clear key, cached key).
func stretches(bl *bitlocker.Volume, k bitlocker.Key, err error) int {
	var kind bitlocker.ProtectorType
	switch k.Kind() {
	case bitlocker.KeyRecoveryPassword:
		kind = bitlocker.ProtectorRecoveryPassword
	case bitlocker.KeyPassword:
		kind = bitlocker.ProtectorPassword
	default:
		return 0
	}
	var bad *bitlocker.BadSecretError
	if errors.As(err, &bad) {
		return 0
	}
	by, _ := bl.UnlockedBy()
	n := 0
	for _, pr := range bl.Protectors() {
		if pr.Type != kind {
			continue
		}
		n++
		if err == nil && pr.ID == by {
			break
		}
	}
	return n
}

func entrySource(e keys.Entry) string {
	s := e.Source
	if e.Line > 0 {
		s = fmt.Sprintf("%s:%d", s, e.Line)
	}
	if e.KeyID != "" {
		s += " (key ID " + e.KeyID + ")"
	}
	return s
}

func entryMatch(e keys.Entry, isID map[string]bool) KeyMatch {
	switch {
	case e.KeyID != "" && isID[e.KeyID]:
		return MatchProtectorID
	case e.ComputerName != "":
		return MatchComputerName
	case e.Serial != "":
		return MatchSerial
	}
	return MatchExport
}

// digitGroup matches a run of 6 or more digits: a group of a recovery
// password (or all of it) that an error message about a malformed secret
// might quote. GUIDs (protector IDs) are kept whole.
var (
	digitGroup = regexp.MustCompile(`[0-9]{6,}`)
	guid       = regexp.MustCompile(`[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}`)
)

// scrubDigits removes digit groups from an unlock error message, so that
// no part of a secret reaches the output or the fleet log.
func scrubDigits(s string) string {
	var b strings.Builder
	last := 0
	for _, m := range guid.FindAllStringIndex(s, -1) {
		b.WriteString(digitGroup.ReplaceAllString(s[last:m[0]], "[redacted]"))
		b.WriteString(s[m[0]:m[1]])
		last = m[1]
	}
	b.WriteString(digitGroup.ReplaceAllString(s[last:], "[redacted]"))
	return b.String()
}
