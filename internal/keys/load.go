package keys

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/unbrick/unbrick/internal/inputfile"
)

// MaxFileSize bounds a key file LoadFile will read (256 MiB: a million-row
// export is about 100 MiB). It is inputfile.MaxKeyExport.
const MaxFileSize = inputfile.MaxKeyExport

// ErrUnknownFormat: the file is none of the key export layouts Parse knows.
var ErrUnknownFormat = errors.New("unrecognised key file format")

// LoadOptions control LoadFile.
type LoadOptions struct {
	// Strict makes any problem row an error. By default rows with problems
	// are skipped (and passed to Warn) so one typo in a 10,000-row export
	// does not stop a technician; a file with no usable row is always an
	// error.
	Strict bool
	// Warn receives each skipped row's problem. May be nil.
	Warn func(Problem)
	// Passphrase supplies the passphrase of an age-sealed bundle; it is
	// called only for a passphrase-sealed file. Nil: such files fail with
	// ErrNeedPassphrase.
	Passphrase PassphraseFunc
	// Identities are tried for bundles sealed to X25519 or SSH recipients.
	Identities []Identity
}

// LoadFile reads one key export, detecting its format (see Parse), and
// returns its usable entries.
func LoadFile(path string, opts LoadOptions) ([]Entry, error) {
	res, err := ParseFile(path, opts)
	if err != nil {
		return nil, err
	}
	if len(res.Entries) == 0 || (opts.Strict && len(res.Problems) > 0) {
		return nil, &ProblemsError{File: path, Problems: res.Problems, Usable: len(res.Entries)}
	}
	if opts.Warn != nil {
		for _, p := range res.Problems {
			opts.Warn(p)
		}
	}
	return res.Entries, nil
}

// LoadFiles loads several files (the repeatable --keys flag) into one list.
func LoadFiles(paths []string, opts LoadOptions) ([]Entry, error) {
	var all []Entry
	for _, p := range paths {
		es, err := LoadFile(p, opts)
		if err != nil {
			return nil, err
		}
		all = append(all, es...)
	}
	return all, nil
}

// ParseFile reads path and parses it with Parse. Rows with problems are
// reported in the Result, not as an error; the error is for a file that
// cannot be read or recognised at all.
func ParseFile(path string, opts LoadOptions) (*Result, error) {
	// inputfile refuses a device, FIFO, socket or directory (without
	// blocking on a FIFO) and a file over MaxFileSize; its errors name the
	// path and wrap inputfile.ErrNotRegular / inputfile.ErrTooLarge.
	data, err := inputfile.Read(path, "key file", MaxFileSize)
	if err != nil {
		return nil, err
	}
	return Parse(path, data, opts)
}

// Parse detects the format of data (the contents of the file named name)
// and extracts every key entry. Detection, in order: an age header (a sealed
// bundle; decrypted with opts and parsed again); JSON (starts with '{' or
// '['); LDIF (first line "dn:" or "version:"); CSV/TSV with a header naming
// a recovery-password column; PowerShell Format-List blocks; free text
// with recovery passwords, each paired with the key ID before it (see
// FormatText). Text may be
// UTF-8 (with or without BOM), UTF-16LE/BE with BOM, or ANSI.
func Parse(name string, data []byte, opts LoadOptions) (*Result, error) {
	return parse(name, data, opts, 0)
}

func parse(name string, data []byte, opts LoadOptions, depth int) (*Result, error) {
	if isSealed(data) {
		if depth > 0 {
			return nil, fmt.Errorf("%s: a sealed bundle inside a sealed bundle is not supported", name)
		}
		return openSealed(name, data, opts)
	}
	text, err := decodeText(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	res := &Result{}
	trim := strings.TrimLeft(text, " \t\n")
	if trim == "" {
		return nil, fmt.Errorf("%s: file is empty", name)
	}
	if trim[0] == '{' || trim[0] == '[' {
		if err := parseJSON(name, []byte(text), res); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return res, nil
	}
	if first := strings.ToLower(firstLine(trim)); strings.HasPrefix(first, "dn:") || strings.HasPrefix(first, "version:") {
		parseLDIF(name, text, res)
		return res, nil
	}
	err = parseCSV(name, text, res)
	if err == nil {
		return res, nil
	}
	if !errors.Is(err, ErrUnknownFormat) {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if looksLikeList(text) {
		res = &Result{}
		parseList(name, text, res)
		return res, nil
	}
	if hasPasswordToken(text) {
		res = &Result{}
		parsePairs(name, text, res)
		return res, nil
	}
	return nil, fmt.Errorf("%s: %w: no header naming a recovery password column. Supported: "+
		"AD DS exports (csvde/Export-Csv CSV, ldifde LDIF, Get-ADObject list output), Microsoft Graph/Entra JSON or CSV, "+
		"MBAM/ConfigMgr CSV, CrowdStrike BitLockerKeys.csv, a generic CSV with a header such as KeyID,RecoveryPassword,ComputerName, "+
		"or a bundle made by `unbrick keys seal`", name, ErrUnknownFormat)
}

func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
			return t
		}
	}
	return ""
}

// looksLikeList reports whether some "Name : value" line names a recovery
// password.
func looksLikeList(text string) bool {
	for _, l := range strings.Split(text, "\n") {
		if name, _, ok := splitListLine(l); ok && roleOf(name) == rolePassword {
			return true
		}
	}
	return false
}

// isSealed reports whether data starts with an age header, binary or armored.
func isSealed(data []byte) bool {
	return bytes.HasPrefix(data, []byte("age-encryption.org/v1\n")) ||
		bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("-----BEGIN AGE ENCRYPTED FILE-----"))
}
