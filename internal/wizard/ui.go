package wizard

import "errors"

// ErrAborted is returned by a UI when the user leaves the wizard (Ctrl-C on
// a question, Esc, or the end of standard input in accessible mode).
var ErrAborted = errors.New("the wizard was left before anything was written")

// Option is one answer of a multiple-choice question.
type Option struct {
	Label string // what the user reads
	Value string // what the flow receives
}

// Question is a free-text question.
type Question struct {
	Title       string
	Body        string
	Placeholder string
	CharLimit   int
	// Secret hides what is typed (user passwords).
	Secret bool
	// Digits makes F1..F10 type the digits 1..9 and 0, as on Windows'
	// BitLocker recovery screen, so any keyboard layout can enter a
	// recovery password.
	Digits bool
	// Validate checks the answer; its error is shown and the question asked
	// again. nil accepts anything.
	Validate func(string) error
	// Live, when set, is shown under the field and updated as the user
	// types (full-screen UI only).
	Live func(string) string
}

// UI is what the wizard flow needs from a front end. The full-screen one
// (huh forms) and the accessible one (plain line prompts) both implement
// it; neither knows anything about disks.
type UI interface {
	// Show displays an information screen and waits until the user goes on.
	Show(title, body string) error
	// Choose asks for one of opts and returns its Value.
	Choose(title, body string, opts []Option) (string, error)
	// Ask asks a free-text question until the answer passes q.Validate.
	Ask(q Question) (string, error)
	// Confirm asks a yes/no question.
	Confirm(title, body, yes, no string) (bool, error)
	// Busy shows title while work runs. work may call progress with a line
	// to show. Interrupt requests (Ctrl-C, SIGINT, SIGTERM, SIGHUP) do not
	// stop work: Busy reports them with interrupted = true once work is
	// done, after telling the user that the work will be finished first.
	Busy(title, body string, work func(progress func(string))) (interrupted bool)
}
