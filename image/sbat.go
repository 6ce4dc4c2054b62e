package image

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// SBATEntry is one line of a binary's .sbat section (shim's SBAT.md):
// component_name,component_generation,vendor_name,vendor_package_name,
// vendor_version,vendor_url.
type SBATEntry struct {
	Component  string
	Generation int
	Vendor     string
	Package    string
	Version    string
	URL        string
}

// String is the "component,generation" form used in SbatLevel payloads.
func (e SBATEntry) String() string { return fmt.Sprintf("%s,%d", e.Component, e.Generation) }

// maxSBATEntries bounds a .sbat section or SbatLevel payload.
const maxSBATEntries = 256

// parseSBAT parses SBAT CSV text (a .sbat section, ending at its first
// NUL). Each line needs at least component and generation; the
// generation is a decimal number. file and off (the section's file
// offset) and what (".sbat", "SbatLevel payload") name the place in
// errors.
func parseSBAT(file, what string, text []byte, off int64) ([]SBATEntry, error) {
	if i := bytes.IndexByte(text, 0); i >= 0 {
		text = text[:i]
	}
	var out []SBATEntry
	pos := int64(0)
	for len(text) > 0 {
		line := text
		next := len(text)
		if i := bytes.IndexByte(text, '\n'); i >= 0 {
			line, next = text[:i], i+1
		}
		lineOff := off + pos
		text, pos = text[next:], pos+int64(next)
		l := strings.TrimSuffix(string(line), "\r")
		if strings.TrimSpace(l) == "" {
			continue
		}
		if len(out) >= maxSBATEntries {
			return nil, efiErr(file, what, lineOff, "", "more than %d entries", maxSBATEntries)
		}
		f := strings.Split(l, ",")
		if len(f) < 2 {
			return nil, efiErr(file, fmt.Sprintf("%s entry %d", what, len(out)+1), lineOff, "component_generation", "line %q has no generation", l)
		}
		gen, err := strconv.ParseUint(strings.TrimSpace(f[1]), 10, 16)
		if err != nil || f[0] == "" {
			return nil, efiErr(file, fmt.Sprintf("%s entry %d", what, len(out)+1), lineOff, "component_generation", "line %q: generation %q is not a number from 0 to 65535", l, f[1])
		}
		e := SBATEntry{Component: f[0], Generation: int(gen)}
		for i, p := range []*string{&e.Vendor, &e.Package, &e.Version, &e.URL} {
			if 2+i < len(f) {
				*p = f[2+i]
			}
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		return nil, efiErr(file, what, off, "", "empty")
	}
	if out[0].Component != "sbat" {
		return nil, efiErr(file, what+" entry 1", off, "component_name", "%q: the first entry must be the sbat format version", out[0].Component)
	}
	return out, nil
}

// SbatLevel is one SbatLevel revocation payload: "sbat,1,DATE" followed
// by component,minimum-generation lines. Shim refuses to load a binary
// one of whose .sbat components is named here with a lower generation.
type SbatLevel struct {
	Date    string // the payload's date stamp, YYYYMMDDCC, e.g. "2025021800"
	Entries []SBATEntry
	Note    string // what it revokes (from SbatLevel_Variable.txt)
}

// Generation returns the minimum generation the level requires of
// component, or 0 when it names none.
func (l SbatLevel) Generation(component string) int {
	for _, e := range l.Entries {
		if e.Component == component {
			return e.Generation
		}
	}
	return 0
}

func (l SbatLevel) String() string {
	var parts []string
	for _, e := range l.Entries {
		parts = append(parts, e.String())
	}
	return l.Date + " (" + strings.Join(parts, " ") + ")"
}

func level(date, note string, entries ...string) SbatLevel {
	l := SbatLevel{Date: date, Note: note}
	for _, e := range entries {
		c, g, _ := strings.Cut(e, ",")
		n, _ := strconv.Atoi(g)
		l.Entries = append(l.Entries, SBATEntry{Component: c, Generation: n})
	}
	return l
}

// KnownSbatLevels are the SbatLevel revocation payloads published in
// shim's SbatLevel_Variable.txt (github.com/rhboot/shim, as of commit
// 13ab598c, July 2025), oldest first. Each payload replaces the previous
// one whole on a machine that applies it. Where the file gives two
// payloads with one date stamp (2022052400), the fuller one is listed.
var KnownSbatLevels = []SbatLevel{
	level("2021030218", "initialized, no revocations"),
	level("2022052400", "GRUB2 CVE-2021-3695..3697, CVE-2022-28733..28736; shim CVE-2022-28737", "shim,2", "grub,2"),
	level("2022111500", "GRUB2 CVE-2022-2601, CVE-2022-3775", "shim,2", "grub,3"),
	level("2023012900", "Debian's grub.debian,3 which missed the patches", "shim,2", "grub,3", "grub.debian,4"),
	level("2023012950", "a shim bug not considered exploitable (not delivered by shim)", "shim,3", "grub,3", "grub.debian,4"),
	level("2023091900", "GRUB2 CVE-2023-4692, CVE-2023-4693 (ntfs; not delivered by shim)", "shim,2", "grub,4"),
	level("2024010900", "shim CVE-2023-40546..40551", "shim,4", "grub,3", "grub.debian,4"),
	level("2024040900", "January 2024 shim CVEs, October 2023 GRUB CVEs, Debian/Ubuntu peimage CVE-2024-2312", "shim,4", "grub,4", "grub.peimage,2"),
	level("2025021800", "February 2025 GRUB CVEs", "shim,4", "grub,5"),
	level("2025051000", "Proxmox GRUB PSA-2025-00012-1", "shim,4", "grub,5", "grub.proxmox,2"),
}

// LatestSbatLevel is the newest payload of KnownSbatLevels.
func LatestSbatLevel() SbatLevel { return KnownSbatLevels[len(KnownSbatLevels)-1] }

// introducedBy returns the date of the oldest known level from which on
// every later level (up to latest) requires at least gen of component.
func introducedBy(levels []SbatLevel, component string, gen int) string {
	date := ""
	for i := len(levels) - 1; i >= 0; i-- {
		if levels[i].Generation(component) < gen {
			break
		}
		date = levels[i].Date
	}
	return date
}

// ShimSbatLevels are the two payloads a shim carries in its .sbatlevel
// section (shim 15.7 and later; shim's sbat_var.S): Automatic is applied
// by that shim on every boot, Latest when the user opts in with
// "mokutil --set-sbat-policy latest".
type ShimSbatLevels struct {
	Automatic, Latest SbatLevel
}

// parseSbatLevelSection parses a .sbatlevel section: a 32-bit format
// version (0), then the offsets of the automatic and latest payloads
// relative to the end of the version field, each a NUL-terminated
// SbatLevel payload.
func parseSbatLevelSection(file string, sec []byte, off int64) (*ShimSbatLevels, error) {
	what := ".sbatlevel section"
	if len(sec) < 12 {
		return nil, efiErr(file, what, off, "", "%d bytes, shorter than its 12-byte header", len(sec))
	}
	if v := binary.LittleEndian.Uint32(sec); v != 0 {
		return nil, efiErr(file, what, off, "version", "format version %d, this build knows 0", v)
	}
	var out ShimSbatLevels
	for i, dst := range []*SbatLevel{&out.Automatic, &out.Latest} {
		field := []string{"automatic offset", "latest offset"}[i]
		rel := int64(binary.LittleEndian.Uint32(sec[4+4*i:]))
		start := 4 + rel
		if rel < 8 || start >= int64(len(sec)) {
			return nil, efiErr(file, what, off+4+4*int64(i), field, "%d points outside the %d-byte section", rel, len(sec))
		}
		text := sec[start:]
		if j := bytes.IndexByte(text, 0); j >= 0 {
			text = text[:j]
		}
		l, err := parseSbatLevelText(file, text, off+start)
		if err != nil {
			return nil, err
		}
		*dst = l
	}
	return &out, nil
}

// parseSbatLevelText parses an SbatLevel payload: "sbat,1,DATE\n" then
// "component,generation\n" lines.
func parseSbatLevelText(file string, text []byte, off int64) (SbatLevel, error) {
	entries, err := parseSBAT(file, "SbatLevel payload", text, off)
	if err != nil {
		return SbatLevel{}, err
	}
	l := SbatLevel{Date: entries[0].Vendor, Entries: entries[1:]}
	if len(l.Date) != 10 || strings.Trim(l.Date, "0123456789") != "" {
		return SbatLevel{}, efiErr(file, "SbatLevel payload", off, "date", "%q is not a YYYYMMDDCC date stamp", l.Date)
	}
	return l, nil
}
