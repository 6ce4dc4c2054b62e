package fleetlog

import (
	"sort"
	"strings"
)

// HostResult is the newest record of one host, with how many records the
// host has in all.
type HostResult struct {
	Latest  LoadedRecord
	Records int
	// JournalReset: a fix emptied this host's NTFS journal
	// (journal_action reset) in one of its records: Windows runs chkdsk
	// at its next start and changes it had not written are lost, so the
	// help desk should check the host. JournalReplayed: a fix replayed it.
	JournalReset, JournalReplayed bool
}

// UsedKey is a recovery key that was used (and so must be rotated).
type UsedKey struct {
	KeyID    string
	Host     string
	LastUsed LoadedRecord
}

// Summary is the merged view of many logs.
type Summary struct {
	Records int
	Hosts   []HostResult // sorted by host name, then volume ID
	Counts  map[Status]int
	Keys    []UsedKey // sorted by key ID
	// Packs are the rule packs the records name (rule_pack), one per
	// pack file (sha256), sorted by id then sha256; the built-in rule is
	// not listed.
	Packs []PackUse
}

// PackUse is one rule pack seen in the records and how it was trusted.
type PackUse struct {
	RulePack
	Records int // records naming it
	// Unverified: the pack was used without a signature that checked
	// (--allow-unsigned-rules) or after its expiry date
	// (--allow-expired-rules): the report flags it.
	Unverified bool
}

// junkSerials are SMBIOS serial numbers firmware leaves unset; they do not
// identify a machine.
var junkSerials = map[string]bool{
	"": true, "0": true, "NONE": true, "DEFAULT STRING": true, "TO BE FILLED BY O.E.M.": true,
	"SYSTEM SERIAL NUMBER": true, "NOT SPECIFIED": true, "0123456789": true, "CHASSIS SERIAL NUMBER": true,
	"N/A": true,
}

// hostKeys are the identifiers that tie records to one host: BitLocker or
// NTFS volume ID, SMBIOS UUID and serial (when real), computer name.
func hostKeys(r *Record) []string {
	var k []string
	if r.VolumeID != "" {
		k = append(k, "vol:"+strings.ToUpper(r.VolumeID))
	}
	if u := strings.ToUpper(strings.TrimSpace(r.Host.UUID)); u != "" && u != "00000000-0000-0000-0000-000000000000" && u != "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF" {
		k = append(k, "uuid:"+u)
	}
	if s := strings.ToUpper(strings.TrimSpace(r.Host.Serial)); !junkSerials[s] {
		k = append(k, "serial:"+s)
	}
	if n := strings.ToUpper(strings.TrimSpace(r.Host.ComputerName)); n != "" {
		k = append(k, "name:"+n)
	}
	if len(k) == 0 {
		k = append(k, "target:"+r.Target+"#"+r.Disk)
	}
	return k
}

// Merge groups records by host — two records belong to one host when they
// share a volume ID, SMBIOS UUID, real SMBIOS serial or computer name (so a
// volume first logged locked, with only its volume ID, and later fixed,
// with its computer name, is one host) — and keeps the newest record of
// each. Ties on time go to the later log line read. Every recovery key ID
// used in any record is listed, newest use first per key.
func Merge(recs []LoadedRecord) *Summary {
	parent := make([]int, len(recs))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	owner := map[string]int{}
	for i := range recs {
		for _, k := range hostKeys(&recs[i].Record) {
			if j, ok := owner[k]; ok {
				parent[find(i)] = find(j)
			} else {
				owner[k] = i
			}
		}
	}
	groups := map[int][]int{}
	for i := range recs {
		r := find(i)
		groups[r] = append(groups[r], i)
	}
	s := &Summary{Records: len(recs), Counts: map[Status]int{}}
	for _, idx := range groups {
		best := idx[0]
		for _, i := range idx[1:] {
			if !recs[i].Time.Before(recs[best].Time) {
				best = i
			}
		}
		h := HostResult{Latest: recs[best], Records: len(idx)}
		for _, i := range idx {
			h.JournalReset = h.JournalReset || recs[i].JournalAction == "reset"
			h.JournalReplayed = h.JournalReplayed || recs[i].JournalAction == "replayed"
		}
		s.Hosts = append(s.Hosts, h)
		s.Counts[recs[best].Status]++
	}
	sort.Slice(s.Hosts, func(i, j int) bool {
		a, b := s.Hosts[i].Latest, s.Hosts[j].Latest
		if x, y := strings.ToUpper(a.Host.Name()), strings.ToUpper(b.Host.Name()); x != y {
			return x < y
		}
		return a.VolumeID < b.VolumeID
	})
	keys := map[string]*UsedKey{}
	for i := range recs {
		r := &recs[i]
		if r.RecoveryKeyID == "" {
			continue
		}
		id := strings.ToUpper(strings.Trim(r.RecoveryKeyID, "{}"))
		k := keys[id]
		if k == nil || !r.Time.Before(k.LastUsed.Time) {
			keys[id] = &UsedKey{KeyID: id, Host: r.Host.Name(), LastUsed: *r}
		}
	}
	for _, k := range keys {
		s.Keys = append(s.Keys, *k)
	}
	sort.Slice(s.Keys, func(i, j int) bool { return s.Keys[i].KeyID < s.Keys[j].KeyID })
	s.Packs = packUses(recs)
	return s
}

// packUses lists the rule packs the records name.
func packUses(recs []LoadedRecord) []PackUse {
	packs := map[string]*PackUse{}
	for i := range recs {
		p := recs[i].RulePack
		if p == nil {
			continue
		}
		key := p.SHA256 + "\x00" + p.ID
		u := packs[key]
		if u == nil {
			u = &PackUse{RulePack: *p}
			packs[key] = u
		}
		u.Records++
		if !strings.HasPrefix(p.Signature, "signed by ") || p.Expired != "" {
			u.Unverified = true
			if u.Signature == "" || strings.HasPrefix(u.Signature, "signed by ") {
				u.Signature = p.Signature
			}
			if p.Expired != "" {
				u.Expired = p.Expired
			}
		}
	}
	out := make([]PackUse, 0, len(packs))
	for _, u := range packs {
		out = append(out, *u)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].ID != out[j].ID {
			return out[i].ID < out[j].ID
		}
		return out[i].SHA256 < out[j].SHA256
	})
	return out
}

// InventoryItem is one host an inventory expects: a computer name and/or
// key IDs (from a key export).
type InventoryItem struct {
	Name   string
	Serial string
	KeyIDs []string
	Source string // file:line
}

// NeverSeen returns the inventory items that no record matches: by
// computer name (hive or BitLocker description, case-insensitive, host part
// of an FQDN), by SMBIOS serial, or by any of the item's key IDs appearing
// among a record's protectors.
func NeverSeen(inv []InventoryItem, recs []LoadedRecord) []InventoryItem {
	names := map[string]bool{}
	serials := map[string]bool{}
	prot := map[string]bool{}
	for i := range recs {
		r := &recs[i]
		for _, n := range []string{r.Host.ComputerName, r.Host.BitLockerName} {
			if n != "" {
				names[normName(n)] = true
			}
		}
		if s := strings.ToUpper(strings.TrimSpace(r.Host.Serial)); !junkSerials[s] {
			serials[s] = true
		}
		for _, p := range append(append([]string(nil), r.Protectors...), r.ProtectorID, r.RecoveryKeyID) {
			if p != "" {
				prot[strings.ToUpper(strings.Trim(p, "{}"))] = true
			}
		}
	}
	var out []InventoryItem
	for _, it := range inv {
		seen := it.Name != "" && names[normName(it.Name)] ||
			it.Serial != "" && serials[strings.ToUpper(strings.TrimSpace(it.Serial))]
		for _, k := range it.KeyIDs {
			if prot[strings.ToUpper(strings.Trim(k, "{}"))] {
				seen = true
			}
		}
		if !seen {
			out = append(out, it)
		}
	}
	return out
}

func normName(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '.'); i > 0 {
		s = s[:i]
	}
	return strings.ToUpper(strings.TrimSuffix(s, "$"))
}
