package wizard

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"
	uv "github.com/charmbracelet/ultraviolet"
	"github.com/charmbracelet/x/ansi"
)

func TestFKeyDigits(t *testing.T) {
	want := map[rune]rune{tea.KeyF1: '1', tea.KeyF5: '5', tea.KeyF9: '9', tea.KeyF10: '0'}
	for k, r := range want {
		got, ok := fkeyDigit(tea.KeyPressMsg{Code: k})
		if !ok || got != r {
			t.Errorf("%v -> %q %v, want %q", k, got, ok, r)
		}
	}
	for _, k := range []rune{tea.KeyF11, tea.KeyF12, tea.KeyEnter, 'a', '1'} {
		if _, ok := fkeyDigit(tea.KeyPressMsg{Code: k}); ok {
			t.Errorf("%v mapped to a digit", k)
		}
	}
	for _, mod := range []tea.KeyMod{tea.ModAlt, tea.ModCtrl, tea.ModShift} {
		if _, ok := fkeyDigit(tea.KeyPressMsg{Code: tea.KeyF1, Mod: mod}); ok {
			t.Errorf("%v+F1 mapped to a digit", mod)
		}
	}
	if r, ok := fkeyDigit(tea.KeyPressMsg{Code: tea.KeyF3, Mod: tea.ModNumLock}); !ok || r != '3' {
		t.Errorf("F3 with Num Lock on -> %q %v", r, ok)
	}
}

func TestLinuxFKeyJoiner(t *testing.T) {
	var j linuxFKeyJoiner
	if m := j.join(uv.UnknownCsiEvent("\x1b[[")); m != nil {
		t.Fatalf("ESC [ [ passed on as %#v", m)
	}
	// What the decoder makes of the letter: a shifted key whose text is it.
	m := j.join(tea.KeyPressMsg{Code: 'd', ShiftedCode: 'D', Mod: tea.ModShift, Text: "D"})
	if k, ok := m.(tea.KeyPressMsg); !ok || k.Code != tea.KeyF4 {
		t.Fatalf("ESC [ [ D -> %#v, want F4", m)
	}
	// Only the key right after ESC [ [ is an F-key.
	m = j.join(tea.KeyPressMsg{Code: 'd', ShiftedCode: 'D', Mod: tea.ModShift, Text: "D"})
	if k, ok := m.(tea.KeyPressMsg); !ok || k.Text != "D" {
		t.Fatalf("a later D -> %#v", m)
	}
	j.join(uv.UnknownCsiEvent("\x1b[["))
	m = j.join(tea.KeyPressMsg{Code: 'z', ShiftedCode: 'Z', Mod: tea.ModShift, Text: "Z"})
	if k, ok := m.(tea.KeyPressMsg); !ok || k.Text != "Z" {
		t.Fatalf("ESC [ [ Z -> %#v, want the Z passed on", m)
	}
	if m := j.join(uv.UnknownCsiEvent("\x1b[99x")); m == nil {
		t.Fatal("another unknown sequence was dropped")
	}
}

// runFormOn runs f in a real bubbletea program whose terminal sends input
// (TERM=linux), so the keys pass through bubbletea's own input decoder, and
// fails the test if the form is not submitted.
func runFormOn(t *testing.T, f *huh.Form, digits bool, input string) {
	t.Helper()
	pr, pw := io.Pipe()
	defer pw.Close()
	// A deadline so that a form that never submits fails instead of hanging.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p := tea.NewProgram(newFormModel(f, digits), tea.WithContext(ctx), tea.WithInput(pr), tea.WithOutput(io.Discard),
		tea.WithEnvironment([]string{"TERM=linux"}), tea.WithWindowSize(80, 24), tea.WithoutSignalHandler())
	go func() { _, _ = io.WriteString(pw, input) }()
	_, err := p.Run()
	if errors.Is(err, tea.ErrProgramKilled) {
		t.Fatalf("the form was not submitted by %q; screen:\n%s", input, ansi.Strip(f.View()))
	}
	if err != nil {
		t.Fatal(err)
	}
	if f.State != huh.StateCompleted {
		t.Fatalf("form state %v after %q", f.State, input)
	}
}

// The F-keys as the Linux console (ESC [ [ A..E for F1..F5) and xterm
// (ESC [ n ~) send them type digits into a recovery password, through
// bubbletea's decoder.
func TestTUIFKeysThroughDecoder(t *testing.T) {
	var v string
	q := Question{Title: "Enter the recovery password", Digits: true, Validate: validateRecoveryPassword}
	const (
		linuxF1, linuxF4           = "\x1b[[A", "\x1b[[D"
		xtermF8, xtermF9, xtermF10 = "\x1b[19~", "\x1b[20~", "\x1b[21~"
	)
	// ...-215424-199408 with 4, 1, 9, 9, 4, 0, 8 typed by F-keys.
	in := strings.TrimSuffix(goodPW, "4-199408") + linuxF4 + "-" + linuxF1 + xtermF9 + xtermF9 + linuxF4 + xtermF10 + xtermF8 + "\r"
	runFormOn(t, newInputForm(q, &v), true, in)
	if v != goodPW {
		t.Fatalf("typed %q, want %q", v, goodPW)
	}
}

// On a question without digits, a Linux console F-key types nothing (the
// decoder alone would type its letter).
func TestTUILinuxFKeyTypesNoLetter(t *testing.T) {
	var v string
	runFormOn(t, newInputForm(Question{Title: "File"}, &v), false, "\x1b[[Ax\x1b[[E\r")
	if v != "x" {
		t.Fatalf("typed %q, want %q", v, "x")
	}
}
