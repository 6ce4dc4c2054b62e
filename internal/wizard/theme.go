package wizard

import (
	"charm.land/huh/v2"
	"charm.land/lipgloss/v2"
)

// asciiBorder is a left bar drawn with '|', which every console font has
// (the Linux VGA font lacks the heavy bar huh's themes use).
var asciiBorder = lipgloss.Border{Left: "|"}

// Theme returns the wizard's huh styles: ThemeBase's layout with ASCII-only
// decorations and the 16 ANSI colours, so it reads the same on a Linux VGA
// console (TERM=linux, no terminfo), a serial terminal and an xterm, on a
// dark or a light background alike. The wizard therefore never asks the
// terminal for its background colour (huh's own themes need that answer).
func Theme() *huh.Styles {
	t := huh.ThemeBase(true)
	red, yellow, cyan := lipgloss.Color("1"), lipgloss.Color("3"), lipgloss.Color("6")

	t.Focused.Base = lipgloss.NewStyle().PaddingLeft(1).BorderStyle(asciiBorder).BorderLeft(true).BorderForeground(cyan)
	t.Focused.Card = t.Focused.Base
	t.Focused.Title = lipgloss.NewStyle().Bold(true).Foreground(cyan)
	t.Focused.NoteTitle = lipgloss.NewStyle().Bold(true).Foreground(cyan).MarginBottom(1)
	t.Focused.Description = lipgloss.NewStyle()
	t.Focused.ErrorIndicator = lipgloss.NewStyle().Foreground(red).SetString(" *")
	t.Focused.ErrorMessage = lipgloss.NewStyle().Foreground(red).Bold(true)
	t.Focused.SelectSelector = lipgloss.NewStyle().Foreground(yellow).SetString("> ")
	t.Focused.Option = lipgloss.NewStyle()
	t.Focused.NextIndicator = lipgloss.NewStyle().MarginLeft(1).SetString(">")
	t.Focused.PrevIndicator = lipgloss.NewStyle().MarginRight(1).SetString("<")
	t.Focused.MultiSelectSelector = lipgloss.NewStyle().SetString("> ")
	t.Focused.SelectedPrefix = lipgloss.NewStyle().SetString("[x] ")
	t.Focused.UnselectedPrefix = lipgloss.NewStyle().SetString("[ ] ")
	t.Focused.Next = lipgloss.NewStyle().Foreground(lipgloss.Color("0")).Background(lipgloss.Color("7")).Padding(0, 2)
	t.Focused.TextInput.Prompt = lipgloss.NewStyle().Foreground(yellow)
	t.Focused.TextInput.Placeholder = lipgloss.NewStyle().Foreground(lipgloss.Color("8"))

	t.Blurred = t.Focused
	t.Blurred.Base = t.Blurred.Base.BorderStyle(lipgloss.HiddenBorder())
	t.Blurred.Card = t.Blurred.Base
	t.Blurred.SelectSelector = lipgloss.NewStyle().SetString("  ")
	t.Blurred.MultiSelectSelector = lipgloss.NewStyle().SetString("  ")
	t.Blurred.NextIndicator = lipgloss.NewStyle()
	t.Blurred.PrevIndicator = lipgloss.NewStyle()
	t.Help.ShortSeparator = lipgloss.NewStyle().SetString(" | ")
	t.Help.FullSeparator = lipgloss.NewStyle().SetString("   ")
	return t
}

// formTheme is Theme as a huh.Theme for huh.Form.WithTheme; the styles are
// built once per form and serve either background.
func formTheme() huh.Theme {
	st := Theme()
	return huh.ThemeFunc(func(bool) *huh.Styles { return st })
}
