package wizard

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"
)

// TUI is the full-screen front end: one huh form per screen, ASCII theme,
// F1..F10 as digits on recovery password questions.
type TUI struct {
	in  io.Reader
	out io.Writer
}

// NewTUI returns a full-screen UI on the terminal in/out.
func NewTUI(in io.Reader, out io.Writer) *TUI {
	return &TUI{in: in, out: out}
}

// formModel wraps a huh form: it shows it on the alternate screen, maps
// F-keys to digits when asked (the Linux console's F1..F5 included) and
// gives the form a usable size on terminals that report 0x0 (serial lines).
type formModel struct {
	form   *huh.Form
	digits bool
	fkeys  *linuxFKeyJoiner
}

func newFormModel(f *huh.Form, digits bool) formModel {
	return formModel{form: f, digits: digits, fkeys: &linuxFKeyJoiner{}}
}

func (m formModel) Init() tea.Cmd { return m.form.Init() }

func (m formModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if msg = m.fkeys.join(msg); msg == nil {
		return m, nil
	}
	switch k := msg.(type) {
	case tea.WindowSizeMsg:
		if k.Width <= 0 {
			k.Width = 80
		}
		if k.Height <= 0 {
			k.Height = 24
		}
		msg = k
	case tea.KeyPressMsg:
		if m.digits {
			if r, ok := fkeyDigit(k); ok {
				msg = tea.KeyPressMsg{Code: r, Text: string(r)}
			}
		}
	}
	f, cmd := m.form.Update(msg)
	if ff, ok := f.(*huh.Form); ok {
		m.form = ff
	}
	return m, cmd
}

func (m formModel) View() tea.View {
	v := tea.NewView(m.form.View())
	v.AltScreen = true
	return v
}

// run shows one form until it is submitted or aborted.
func (u *TUI) run(digits bool, groups ...*huh.Group) error {
	return u.runForm(digits, newForm(groups...))
}

// runForm shows f until it is submitted or aborted.
func (u *TUI) runForm(digits bool, f *huh.Form) error {
	p := tea.NewProgram(newFormModel(f, digits), tea.WithInput(u.in), tea.WithOutput(u.out))
	if _, err := p.Run(); err != nil {
		if errors.Is(err, tea.ErrInterrupted) || errors.Is(err, tea.ErrProgramKilled) {
			return ErrAborted
		}
		return fmt.Errorf("show the screen: %w", err)
	}
	if f.State != huh.StateCompleted {
		return ErrAborted
	}
	return nil
}

// hint is the key help shown under each screen (huh's own help line uses
// arrows and bullets the VGA font may lack).
func hint(s string) string { return "\n" + s + "   Ctrl-C: leave" }

// Show implements UI.
func (u *TUI) Show(title, body string) error {
	n := huh.NewNote().Title(asciiOnly(title)).Description(noteEscape(body) + hint("Enter: continue")).Next(true).NextLabel("Continue")
	return u.run(false, huh.NewGroup(n))
}

// Choose implements UI.
func (u *TUI) Choose(title, body string, opts []Option) (string, error) {
	var v string
	hopts := make([]huh.Option[string], len(opts))
	for i, o := range opts {
		hopts[i] = huh.NewOption(asciiOnly(o.Label), o.Value)
	}
	if len(opts) > 0 {
		v = opts[0].Value
	}
	s := huh.NewSelect[string]().Title(asciiOnly(title)).Description(asciiOnly(body) + hint("Up/Down: choose   Enter: select")).Options(hopts...).Value(&v)
	if err := u.run(false, huh.NewGroup(s)); err != nil {
		return "", err
	}
	return v, nil
}

// Ask implements UI.
func (u *TUI) Ask(q Question) (string, error) {
	var v string
	if err := u.runForm(q.Digits, newInputForm(q, &v)); err != nil {
		return "", err
	}
	return v, nil
}

// newInputForm builds the form of a free-text question.
func newInputForm(q Question, v *string) *huh.Form {
	h := "Enter: done"
	if q.Digits {
		h = "Digits, numpad or F1-F10 (F10 = 0)   Enter: done"
	}
	in := huh.NewInput().Title(asciiOnly(q.Title)).Description(asciiOnly(q.Body) + hint(h)).Placeholder(asciiOnly(q.Placeholder)).Value(v)
	if q.Live != nil {
		body := asciiOnly(q.Body) + hint(h)
		in.DescriptionFunc(func() string { return body + "\nCheck: " + asciiOnly(q.Live(*v)) }, v)
	}
	if q.CharLimit > 0 {
		in.CharLimit(q.CharLimit)
	}
	if q.Secret {
		in.EchoMode(huh.EchoModePassword)
	}
	if q.Validate != nil {
		in.Validate(q.Validate)
	}
	return newForm(huh.NewGroup(in))
}

// newForm makes a form with the wizard's theme whose submit and cancel
// end the program.
func newForm(groups ...*huh.Group) *huh.Form {
	f := huh.NewForm(groups...).WithTheme(formTheme()).WithShowHelp(false)
	f.SubmitCmd = tea.Quit
	f.CancelCmd = tea.Quit
	return f
}

// Confirm implements UI as a two-option list, whose "> " marker shows the
// choice on a monochrome console too.
func (u *TUI) Confirm(title, body, yes, no string) (bool, error) {
	v, err := u.Choose(title, body, []Option{{Label: no, Value: "n"}, {Label: yes, Value: "y"}})
	return v == "y", err
}

// Busy implements UI: a spinner and the progress lines; Ctrl-C and the
// termination signals are answered with a notice and otherwise ignored
// until work is done.
func (u *TUI) Busy(title, body string, work func(progress func(string))) bool {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	m := &busyModel{title: title, body: body}
	p := tea.NewProgram(m, tea.WithInput(u.in), tea.WithOutput(u.out), tea.WithoutSignalHandler())
	done := make(chan struct{})
	go func() {
		defer close(done)
		work(func(line string) { p.Send(progressMsg(line)) })
		p.Send(doneMsg{})
	}()
	go func() {
		for {
			select {
			case <-done:
				return
			case s := <-sigs:
				p.Send(interruptMsg(s.String()))
			}
		}
	}()
	if _, err := p.Run(); err != nil {
		// The screen failed; the work must still finish.
		fmt.Fprintf(u.out, "%s\n", asciiOnly(title))
	}
	<-done
	return m.interrupted
}

type progressMsg string
type doneMsg struct{}
type interruptMsg string
type tickMsg struct{}

// busyModel is the progress screen.
type busyModel struct {
	title, body string
	lines       []string
	frame       int
	interrupted bool
	notice      string
	done        bool
}

func tick() tea.Cmd {
	return tea.Tick(150*time.Millisecond, func(time.Time) tea.Msg { return tickMsg{} })
}

func (m *busyModel) Init() tea.Cmd { return tick() }

func (m *busyModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch k := msg.(type) {
	case tickMsg:
		m.frame++
		return m, tick()
	case progressMsg:
		m.lines = append(m.lines, string(k))
	case interruptMsg:
		m.interrupted = true
		m.notice = string(k) + ": " + interruptNotice
	case tea.KeyPressMsg:
		if isCtrlC(k) {
			m.interrupted = true
			m.notice = "Ctrl-C: " + interruptNotice
		}
	case doneMsg:
		m.done = true
		return m, tea.Quit
	}
	return m, nil
}

func (m *busyModel) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	return v
}

// isCtrlC reports whether k is Ctrl-C (in raw mode the terminal sends it as
// a key, not as SIGINT).
func isCtrlC(k tea.KeyPressMsg) bool {
	return k.Code == 'c' && k.Mod&^lockMods == tea.ModCtrl
}

// render draws the progress screen.
func (m *busyModel) render() string {
	var b strings.Builder
	spin := `|/-\`[m.frame%4]
	st := Theme()
	fmt.Fprintf(&b, "%s\n\n", st.Focused.Title.Render(asciiOnly(m.title)+" "+string(spin)))
	if m.body != "" {
		b.WriteString(asciiOnly(m.body) + "\n\n")
	}
	for _, l := range m.lines {
		b.WriteString("  " + asciiOnly(l) + "\n")
	}
	if m.notice != "" {
		b.WriteString("\n" + st.Focused.ErrorMessage.Render(asciiOnly(m.notice)) + "\n")
	}
	return st.Focused.Card.Render(b.String())
}

// noteEscape protects text shown in a huh Note, whose description
// understands *bold*, _italic_, `code` and backslash escapes: file paths
// and names must appear as they are.
func noteEscape(s string) string {
	var b strings.Builder
	for _, r := range asciiOnly(s) {
		switch r {
		case '\\', '_', '*', '`':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
