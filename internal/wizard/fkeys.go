package wizard

import tea "github.com/charmbracelet/bubbletea"

// fkeyDigit maps F1..F9 to '1'..'9' and F10 to '0', as Windows' BitLocker
// recovery screen does, so that a recovery password can be typed whatever
// the keyboard layout (on a French AZERTY keyboard the digits need Shift).
// Numeric keypad digits arrive as plain digits on the Linux console and in
// xterm's normal keypad mode, which bubbletea leaves on.
func fkeyDigit(k tea.KeyMsg) (rune, bool) {
	if k.Alt {
		return 0, false
	}
	r, ok := fkeyDigits[k.Type]
	return r, ok
}

var fkeyDigits = map[tea.KeyType]rune{
	tea.KeyF1: '1', tea.KeyF2: '2', tea.KeyF3: '3', tea.KeyF4: '4', tea.KeyF5: '5',
	tea.KeyF6: '6', tea.KeyF7: '7', tea.KeyF8: '8', tea.KeyF9: '9', tea.KeyF10: '0',
}
