package keys

import (
	"encoding/base64"
	"strings"
)

// parseLDIF reads an ldifde export (RFC 2849): entries separated by blank
// lines, "attr: value", "attr:: base64" (binary or non-ASCII values, such as
// msFVE-RecoveryGuid), continuation lines starting with one space, comments
// starting with '#'. Each entry with a recovery password becomes an Entry.
func parseLDIF(file, text string, res *Result) {
	res.Format = FormatADLDIF
	var cur *record
	flush := func() {
		if cur != nil && len(cur.fields) > 0 {
			addRecord(file, res, *cur)
		}
		cur = nil
	}
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		ln := i + 1
		l := lines[i]
		if strings.TrimSpace(l) == "" {
			flush()
			continue
		}
		if strings.HasPrefix(l, "#") {
			continue
		}
		// Unfold continuation lines.
		if i+1 < len(lines) && strings.HasPrefix(lines[i+1], " ") {
			var b strings.Builder
			b.WriteString(l)
			for i+1 < len(lines) && strings.HasPrefix(lines[i+1], " ") {
				b.WriteString(lines[i+1][1:])
				i++
			}
			l = b.String()
		}
		colon := strings.IndexByte(l, ':')
		if colon <= 0 {
			res.Problems = append(res.Problems, Problem{File: file, Line: ln, Msg: "LDIF line has no \"attribute:\" prefix; ignored"})
			continue
		}
		name := l[:colon]
		rest := l[colon+1:]
		f := field{name: name, line: ln}
		switch {
		case strings.HasPrefix(rest, ":"):
			b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest[1:]))
			if err != nil {
				res.Problems = append(res.Problems, Problem{File: file, Line: ln, Msg: "attribute " + name + ": base64 value does not decode"})
				continue
			}
			if roleOf(name) == roleKeyID && len(b) == 16 {
				f.bin = b
			} else {
				f.value = string(b)
			}
		case strings.HasPrefix(rest, "<"):
			continue // URL reference; not used by ldifde exports of these attributes
		default:
			f.value = strings.TrimSpace(rest)
		}
		if cur == nil {
			cur = &record{line: ln}
		}
		cur.fields = append(cur.fields, f)
	}
	flush()
}

// parseList reads PowerShell Format-List output (what Get-ADObject prints
// when saved with Out-File or `>`): blocks of "Name : value" lines separated
// by blank lines; a value too long for the console continues on following
// lines indented to the value column.
func parseList(file, text string, res *Result) {
	res.Format = FormatADList
	var cur *record
	flush := func() {
		if cur != nil && len(cur.fields) > 0 {
			addRecord(file, res, *cur)
		}
		cur = nil
	}
	for i, l := range strings.Split(text, "\n") {
		ln := i + 1
		if strings.TrimSpace(l) == "" {
			flush()
			continue
		}
		if cur != nil && len(cur.fields) > 0 && strings.HasPrefix(l, " ") && !listLine(l) {
			// Wrapped value. Cap its length: no real value is near it, and
			// repeated appends must not go quadratic on hostile input.
			last := &cur.fields[len(cur.fields)-1]
			if len(last.value) < maxListValue {
				last.value += strings.TrimSpace(l)
			}
			continue
		}
		name, value, ok := splitListLine(l)
		if !ok {
			continue
		}
		if cur == nil {
			cur = &record{line: ln}
		}
		cur.fields = append(cur.fields, field{name: name, value: value, line: ln})
	}
	flush()
}

// maxListValue bounds a wrapped Format-List value (a distinguished name is
// at most a few hundred characters).
const maxListValue = 4096

// splitListLine splits "Name   : value".
func splitListLine(l string) (name, value string, ok bool) {
	i := strings.Index(l, " : ")
	if i < 0 {
		if strings.HasSuffix(strings.TrimRight(l, " "), " :") {
			i = len(strings.TrimRight(l, " ")) - 2
		} else {
			return "", "", false
		}
	}
	name = strings.TrimSpace(l[:i])
	if name == "" || strings.ContainsAny(name, " \t") && roleOf(name) == roleNone {
		return "", "", false
	}
	if i+3 <= len(l) {
		value = strings.TrimSpace(l[i+3:])
	}
	return name, value, true
}

func listLine(l string) bool {
	_, _, ok := splitListLine(l)
	return ok && !strings.HasPrefix(l, " ")
}
