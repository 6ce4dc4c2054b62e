package wizard

import "strings"

// asciiReplacer maps the few non-ASCII characters the wizard's texts may
// carry (from file names, disk models or rule reasons) to ASCII, so the
// Linux VGA console font and serial terminals show them.
var asciiReplacer = strings.NewReplacer(
	"…", "...", "—", "-", "–", "-", "→", "->", "←", "<-", "•", "*",
	"“", `"`, "”", `"`, "‘", "'", "’", "'", "×", "x", "≥", ">=", "≤", "<=",
)

// asciiOnly returns s with non-ASCII characters replaced: known ones by
// their ASCII look-alike, others by '?'. Line breaks and tabs stay.
func asciiOnly(s string) string {
	s = asciiReplacer.Replace(s)
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			var b strings.Builder
			for _, r := range s {
				if r < 0x80 {
					b.WriteRune(r)
				} else {
					b.WriteByte('?')
				}
			}
			return b.String()
		}
	}
	return s
}
