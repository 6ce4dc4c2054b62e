package wizard

import "strings"

// bannerFont draws the characters of a BitLocker key ID (hex digits and
// '-') five rows high with '#', so the ID's first eight characters can be
// read out over the phone from across the room, as on Windows' own
// recovery screen. ASCII only: every console font has '#'.
var bannerFont = map[rune][5]string{
	'0': {" ### ", "#   #", "#   #", "#   #", " ### "},
	'1': {"  #  ", " ##  ", "  #  ", "  #  ", " ### "},
	'2': {" ### ", "#   #", "  ## ", " #   ", "#####"},
	'3': {"#### ", "    #", " ### ", "    #", "#### "},
	'4': {"#   #", "#   #", "#####", "    #", "    #"},
	'5': {"#####", "#    ", "#### ", "    #", "#### "},
	'6': {" ### ", "#    ", "#### ", "#   #", " ### "},
	'7': {"#####", "    #", "   # ", "  #  ", "  #  "},
	'8': {" ### ", "#   #", " ### ", "#   #", " ### "},
	'9': {" ### ", "#   #", " ####", "    #", " ### "},
	'A': {" ### ", "#   #", "#####", "#   #", "#   #"},
	'B': {"#### ", "#   #", "#### ", "#   #", "#### "},
	'C': {" ####", "#    ", "#    ", "#    ", " ####"},
	'D': {"#### ", "#   #", "#   #", "#   #", "#### "},
	'E': {"#####", "#    ", "#### ", "#    ", "#####"},
	'F': {"#####", "#    ", "#### ", "#    ", "#    "},
	'-': {"     ", "     ", "#####", "     ", "     "},
}

// Banner renders s (hex digits and dashes; other characters as blanks) in
// the five-row font, glyphs separated by a blank column.
func Banner(s string) string {
	var rows [5]strings.Builder
	for i, r := range strings.ToUpper(s) {
		g, ok := bannerFont[r]
		if !ok {
			g = [5]string{"     ", "     ", "     ", "     ", "     "}
		}
		for j := range rows {
			if i > 0 {
				rows[j].WriteString("  ")
			}
			rows[j].WriteString(g[j])
		}
	}
	out := make([]string, 5)
	for j := range rows {
		out[j] = strings.TrimRight(rows[j].String(), " ")
	}
	return strings.Join(out, "\n")
}

// ShortKeyID is what Windows' recovery screen shows of a key ID: its first
// eight characters ("Recovery key ID: 1A2B3C4D").
func ShortKeyID(id string) string {
	id = strings.ToUpper(strings.Trim(id, "{}"))
	if len(id) > 8 {
		id = id[:8]
	}
	return id
}
