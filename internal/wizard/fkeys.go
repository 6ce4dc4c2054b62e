package wizard

import (
	tea "charm.land/bubbletea/v2"
	uv "github.com/charmbracelet/ultraviolet"
)

// lockMods are the lock states a terminal may report along with a key
// (kitty keyboard protocol, Windows console); they do not change which key
// was pressed.
const lockMods = tea.ModCapsLock | tea.ModNumLock | tea.ModScrollLock

// fkeyDigit maps F1..F9 to '1'..'9' and F10 to '0', as Windows' BitLocker
// recovery screen does, so that a recovery password can be typed whatever
// the keyboard layout (on a French AZERTY keyboard the digits need Shift).
// A modified F-key (Alt, Ctrl, Shift) is no digit. Numeric keypad digits
// arrive as plain digits on the Linux console and in xterm's normal keypad
// mode, which bubbletea leaves on.
func fkeyDigit(k tea.KeyPressMsg) (rune, bool) {
	if k.Mod&^lockMods != 0 {
		return 0, false
	}
	r, ok := fkeyDigits[k.Code]
	return r, ok
}

var fkeyDigits = map[rune]rune{
	tea.KeyF1: '1', tea.KeyF2: '2', tea.KeyF3: '3', tea.KeyF4: '4', tea.KeyF5: '5',
	tea.KeyF6: '6', tea.KeyF7: '7', tea.KeyF8: '8', tea.KeyF9: '9', tea.KeyF10: '0',
}

// linuxConsoleFKeyPrefix is what bubbletea v2's input decoder reports for
// the start of the Linux console's F1..F5 sequences, ESC [ [ A..E (see
// console_codes(4) and the kernel's default keymap, which sends them; the
// xterm forms of F1..F5 are ESC O P..S and ESC [ 15 ~). The decoder does not
// know them: it reads ESC [ [ as an unknown CSI sequence and the letter as
// a key of its own. F6..F12 use the same ESC [ n ~ forms as xterm.
const linuxConsoleFKeyPrefix = "\x1b[["

// linuxFKeys is the letter after ESC [ [ for F1..F5 on the Linux console
// (the decoder reports it as a shifted letter key whose text is the
// capital).
var linuxFKeys = map[string]rune{"A": tea.KeyF1, "B": tea.KeyF2, "C": tea.KeyF3, "D": tea.KeyF4, "E": tea.KeyF5}

// linuxFKeyJoiner joins the Linux console's F1..F5, which reach the model as an
// unknown CSI sequence ESC [ [ followed by a letter A..E, back into one
// F-key press. Feed it every message in order: it swallows the ESC [ [ and
// returns the F-key in place of the letter that follows.
type linuxFKeyJoiner struct{ pending bool }

// join returns the message to pass on, or nil to drop msg.
func (j *linuxFKeyJoiner) join(msg tea.Msg) tea.Msg {
	switch k := msg.(type) {
	case uv.UnknownCsiEvent:
		if string(k) == linuxConsoleFKeyPrefix {
			j.pending = true
			return nil
		}
	case tea.KeyPressMsg:
		if j.pending {
			j.pending = false
			if f, ok := linuxFKeys[k.Text]; ok {
				return tea.KeyPressMsg{Code: f}
			}
		}
		return msg
	}
	return msg
}
