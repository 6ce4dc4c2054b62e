package keys

import (
	"path/filepath"
	"regexp"
	"strings"
)

// FormatText is free text holding key IDs and recovery passwords: the
// "BitLocker Recovery Key <ID>.TXT" file Windows saves when a user backs
// the key up to a file or USB drive ("Identifier:" then "Recovery Key:"),
// `manage-bde -protectors -get C:` output ("Numerical Password:", "ID:
// {GUID}", "Password:"), or header-less "GUID,password" lines.
const FormatText Format = "text"

var (
	guidRE = regexp.MustCompile(`\{?\b([0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})\b\}?`)
	// pwTokenRE: 8 dash-separated groups of 6 digits, not part of a longer
	// digit run.
	pwTokenRE = regexp.MustCompile(`(?:^|[^0-9-])(\d{6}(?:-\d{6}){7})(?:$|[^0-9-])`)
)

// pairWindow is how many lines before a recovery password its key ID may
// be (the Windows file puts a blank line and a sentence in between).
const pairWindow = 12

func hasPasswordToken(text string) bool { return pwTokenRE.MatchString(text) }

// parsePairs pairs each recovery password with the nearest key ID before
// it (same line or up to pairWindow lines above); a file with no ID in its
// text may carry one in its name, as Windows names the file.
func parsePairs(file, text string, res *Result) {
	res.Format = FormatText
	lastID, lastLine := "", 0
	nameID := ""
	if m := guidRE.FindStringSubmatch(filepath.Base(file)); m != nil {
		nameID = m[1]
	}
	for i, l := range strings.Split(text, "\n") {
		ln := i + 1
		pws := pwTokenRE.FindAllStringSubmatchIndex(l, -1)
		ids := guidRE.FindAllStringSubmatchIndex(l, -1)
		for _, pw := range pws {
			pwStart := pw[2]
			id := ""
			for _, g := range ids {
				if g[0] < pwStart {
					id = l[g[2]:g[3]]
				}
			}
			if id == "" && lastID != "" && ln-lastLine <= pairWindow {
				id = lastID
			}
			if id == "" && nameID != "" {
				id = nameID
			}
			rec := record{line: ln, fields: []field{{name: "RecoveryPassword", value: l[pw[2]:pw[3]], line: ln}}}
			if id != "" {
				rec.fields = append(rec.fields, field{name: "KeyID", value: id, line: ln})
			}
			addRecord(file, res, rec)
			lastID = "" // one ID names one password
		}
		if len(ids) > 0 && len(pws) == 0 {
			lastID, lastLine = l[ids[len(ids)-1][2]:ids[len(ids)-1][3]], ln
		}
	}
}
