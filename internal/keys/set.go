package keys

import (
	"fmt"
	"strings"
)

// MaxCandidates bounds how many keys Candidates returns for one volume.
// Each attempt at a recovery password costs BitLocker's key stretch, 2^20
// SHA-256 rounds (about 0.12 s here with SHA-NI, seconds on old CPUs), so
// trying thousands of keys blindly is not an option: a protector-ID match
// is exact, and a computer-name or serial match yields the few keys that
// host has backed up (volumes, rotations). Eight covers a host with a few
// volumes and rotations while bounding the cost at about a second.
const MaxCandidates = 8

// Set indexes entries for matching against a volume.
type Set struct {
	entries    []Entry
	byID       map[string][]int
	byComputer map[string][]int
	bySerial   map[string][]int
}

// NewSet indexes entries. Entries keep their order; duplicates (same key ID
// and password) are kept once.
func NewSet(entries []Entry) *Set {
	s := &Set{entries: make([]Entry, 0, len(entries)), byID: make(map[string][]int, len(entries)),
		byComputer: map[string][]int{}, bySerial: map[string][]int{}}
	seen := make(map[[2]string]bool, len(entries))
	for _, e := range entries {
		k := [2]string{e.KeyID, e.RecoveryPassword}
		if e.KeyID != "" && seen[k] {
			continue
		}
		seen[k] = true
		i := len(s.entries)
		s.entries = append(s.entries, e)
		if e.KeyID != "" {
			s.byID[e.KeyID] = append(s.byID[e.KeyID], i)
		}
		if c := normComputer(e.ComputerName); c != "" {
			s.byComputer[c] = append(s.byComputer[c], i)
		}
		if sn := normSerial(e.Serial); sn != "" {
			s.bySerial[sn] = append(s.bySerial[sn], i)
		}
	}
	return s
}

// String describes the set without its contents, so printing a Set (or a
// struct holding one) never prints a recovery password.
func (s *Set) String() string { return fmt.Sprintf("keys.Set(%d entries)", len(s.entries)) }

// GoString is String.
func (s *Set) GoString() string { return s.String() }

// Len is the number of distinct entries.
func (s *Set) Len() int { return len(s.entries) }

// Entries returns the entries in load order.
func (s *Set) Entries() []Entry { return append([]Entry(nil), s.entries...) }

func (s *Set) pick(idx []int) []Entry {
	out := make([]Entry, 0, len(idx))
	for _, i := range idx {
		out = append(out, s.entries[i])
	}
	return out
}

// ForProtector returns the entries whose key ID is id (braces and case
// ignored). An id that is not a GUID matches nothing.
func (s *Set) ForProtector(id string) []Entry {
	n, err := NormalizeKeyID(id)
	if err != nil {
		return nil
	}
	return s.pick(s.byID[n])
}

// ForComputer returns the entries listed for a computer name, compared
// case-insensitively on the host part ("PC01", "pc01.corp.example" and
// "PC01$" all match PC01). name may also be a BitLocker metadata
// description such as "DESKTOP-QNI1MMF C: 10/8/2021": Windows writes the
// computer name as its first word when BitLocker is turned on.
func (s *Set) ForComputer(name string) []Entry {
	if idx := s.byComputer[normComputer(name)]; len(idx) > 0 {
		return s.pick(idx)
	}
	if f := strings.Fields(name); len(f) > 1 {
		return s.pick(s.byComputer[normComputer(f[0])])
	}
	return nil
}

// ForSerial returns the entries listed for an SMBIOS serial number (case and
// surrounding space ignored).
func (s *Set) ForSerial(serial string) []Entry {
	return s.pick(s.bySerial[normSerial(serial)])
}

// Candidates returns the keys worth trying on one volume, best first:
// entries for its protector IDs (exact), then entries for the computer name
// in its metadata description, then for the host's SMBIOS serial. Entries
// are de-duplicated by (key ID, password); entries with a key ID that is
// none of the volume's protectors are skipped (they belong to another
// volume or an old rotation and would only cost a stretch each). The list
// is cut at MaxCandidates.
func (s *Set) Candidates(protectorIDs []string, description, serial string) []Entry {
	own := map[string]bool{}
	var out []Entry
	seen := map[[2]string]bool{}
	add := func(es []Entry, requireOwn bool) {
		for _, e := range es {
			if len(out) >= MaxCandidates {
				return
			}
			if requireOwn && e.KeyID != "" && len(own) > 0 && !own[e.KeyID] {
				continue
			}
			k := [2]string{e.KeyID, e.RecoveryPassword}
			if seen[k] {
				continue
			}
			seen[k] = true
			out = append(out, e)
		}
	}
	for _, id := range protectorIDs {
		if n, err := NormalizeKeyID(id); err == nil {
			own[n] = true
		}
	}
	for _, id := range protectorIDs {
		add(s.ForProtector(id), false)
	}
	if description != "" {
		add(s.ForComputer(description), true)
	}
	if serial != "" {
		add(s.ForSerial(serial), true)
	}
	return out
}

func normComputer(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '.'); i > 0 {
		s = s[:i]
	}
	s = strings.TrimSuffix(s, "$")
	return strings.ToUpper(s)
}

func normSerial(s string) string { return strings.ToUpper(strings.TrimSpace(s)) }
