package keys

import (
	"fmt"
	"strings"
)

// Format names a key export layout that LoadFile recognises.
type Format string

// The formats LoadFile detects. CSV exports of AD, Entra/Intune, MBAM and
// CrowdStrike differ only in their header names; they all go through the
// CSV reader and are labelled by the columns they carry.
const (
	FormatCSV            Format = "csv"             // generic CSV/TSV with a header
	FormatADCSV          Format = "ad-csv"          // csvde or Get-ADObject | Export-Csv
	FormatADLDIF         Format = "ad-ldif"         // ldifde
	FormatADList         Format = "ad-powershell"   // Get-ADObject ... | Format-List (console output saved to a file)
	FormatGraphJSON      Format = "graph-json"      // Microsoft Graph bitlockerRecoveryKey JSON
	FormatEntraCSV       Format = "entra-csv"       // Entra/Intune portal or script CSV (id, key, deviceId, device name)
	FormatMBAMCSV        Format = "mbam-csv"        // MBAM / ConfigMgr RecoveryAndHardwareCore export
	FormatCrowdStrikeCSV Format = "crowdstrike-csv" // CrowdStrike recovery tool BitLockerKeys.csv
	FormatSealed         Format = "age"             // an age-encrypted bundle made by `unbrick keys seal`
)

// Entry is one recovery password with what identifies the volume it opens.
// RecoveryPassword is the only secret: it is excluded from JSON, and
// String/GoString (and so every fmt verb) leave it out.
type Entry struct {
	KeyID            string // key protector ID: GUID upper-case, no braces; "" when the export has none
	RecoveryPassword string `json:"-"` // canonical 8 groups of 6 digits with dashes
	ComputerName     string // as the export spells it
	DeviceID         string // Entra device ID, when the export has one
	Serial           string // SMBIOS serial number, when the export has one
	Source           string // file the entry came from (for a sealed bundle, the file sealed into it)
	Line             int    // 1-based line in Source where the entry starts
	Format           Format // layout it was read from
}

// String describes the entry without its recovery password.
func (e Entry) String() string {
	var b strings.Builder
	if e.KeyID != "" {
		fmt.Fprintf(&b, "key {%s}", e.KeyID)
	} else {
		b.WriteString("key without ID")
	}
	if e.ComputerName != "" {
		fmt.Fprintf(&b, " for %s", e.ComputerName)
	}
	if e.Serial != "" {
		fmt.Fprintf(&b, " serial %s", e.Serial)
	}
	if e.Source != "" {
		fmt.Fprintf(&b, " (%s:%d)", e.Source, e.Line)
	}
	return b.String()
}

// GoString is String, so %#v cannot print the password either.
func (e Entry) GoString() string { return "keys.Entry{" + e.String() + "}" }

// Problem is one row of a key file that could not be used. Its message names
// the field at fault and never contains a recovery password.
type Problem struct {
	File string
	Line int // 1-based; 0 when the problem is not tied to a line
	Msg  string
}

func (p Problem) Error() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s: line %d: %s", p.File, p.Line, p.Msg)
	}
	return p.File + ": " + p.Msg
}

// Result is everything Parse found in one file.
type Result struct {
	Format   Format
	Entries  []Entry
	Problems []Problem
}

// ProblemsError is returned by LoadFile in strict mode, or when a file
// yields no usable entry at all.
type ProblemsError struct {
	File     string
	Problems []Problem
	Usable   int // entries that were fine
}

func (e *ProblemsError) Error() string {
	var b strings.Builder
	if e.Usable == 0 {
		fmt.Fprintf(&b, "%s: no usable recovery key", e.File)
	} else {
		fmt.Fprintf(&b, "%s: %d row(s) with problems", e.File, len(e.Problems))
	}
	for i, p := range e.Problems {
		if i == 5 {
			fmt.Fprintf(&b, "\n  ... and %d more (run `unbrick keys check %s`)", len(e.Problems)-5, e.File)
			break
		}
		b.WriteString("\n  ")
		if p.Line > 0 {
			fmt.Fprintf(&b, "line %d: ", p.Line)
		}
		b.WriteString(p.Msg)
	}
	return b.String()
}
