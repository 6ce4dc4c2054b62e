package wizard

import (
	"os"
	"strings"

	"github.com/charmbracelet/x/term"
)

// EnvAccessible selects accessible mode when set to 1, true or yes (the
// boot image's configuration sets it for serial consoles).
const EnvAccessible = "UNBRICK_ACCESSIBLE"

// CmdlineAccessible on the kernel command line selects accessible mode.
const CmdlineAccessible = "unbrick.accessible"

// ModeReason says why the accessible (line) UI is chosen, or "" for the
// full-screen UI. Accessible mode is used when asked for (flag, environment,
// kernel command line), and when a full-screen UI cannot work: TERM unset
// or dumb, input or output not a terminal, or a terminal that reports no
// size (a serial line without TIOCSWINSZ).
func ModeReason(flag bool, getenv func(string) string, cmdline string, in, out *os.File) string {
	switch {
	case flag:
		return "--accessible"
	case isTrue(getenv(EnvAccessible)):
		return "$" + EnvAccessible
	case cmdlineHas(cmdline, CmdlineAccessible):
		return "kernel command line " + CmdlineAccessible
	}
	t := getenv("TERM")
	if t == "" || t == "dumb" {
		return "TERM is " + map[bool]string{true: "unset", false: t}[t == ""]
	}
	if in == nil || out == nil || !term.IsTerminal(in.Fd()) || !term.IsTerminal(out.Fd()) {
		return "not a terminal"
	}
	if w, h, err := term.GetSize(out.Fd()); err != nil || w == 0 || h == 0 {
		return "the terminal reports no size (serial line?)"
	}
	return ""
}

func isTrue(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

// cmdlineHas reports whether the kernel command line holds name or
// name=<true value>.
func cmdlineHas(cmdline, name string) bool {
	for _, f := range strings.Fields(cmdline) {
		if f == name {
			return true
		}
		if v, ok := strings.CutPrefix(f, name+"="); ok {
			return isTrue(v)
		}
	}
	return false
}
