package wizard

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/charmbracelet/x/term"
)

// LineUI is the accessible front end: plain line prompts, ASCII only, no
// cursor movement, one question per line. It suits screen readers, serial
// consoles and scripts feeding standard input. It reads its input through
// one buffered reader, so piped answers are never swallowed by an earlier
// question (huh's accessible fields each wrap the input in their own
// scanner, which does that).
type LineUI struct {
	in  *bufio.Reader
	fd  uintptr // terminal descriptor of the input, for secrets
	tty bool    // fd is a terminal
	out io.Writer
	mu  sync.Mutex // serialises progress lines from Busy
}

// NewLineUI returns an accessible UI reading answers from in and writing to
// out.
func NewLineUI(in io.Reader, out io.Writer) *LineUI {
	u := &LineUI{in: bufio.NewReader(in), out: out}
	if f, ok := in.(*os.File); ok && term.IsTerminal(f.Fd()) {
		u.fd, u.tty = f.Fd(), true
	}
	return u
}

func (u *LineUI) printf(format string, a ...any) { fmt.Fprintf(u.out, format, a...) }

func (u *LineUI) heading(title, body string) {
	title = asciiOnly(title)
	u.printf("\n%s\n%s\n", title, strings.Repeat("=", min(len(title), 78)))
	if body != "" {
		u.printf("%s\n", asciiOnly(strings.TrimRight(body, "\n")))
	}
}

// readLine returns the next input line without its line ending; io.EOF
// (also for a last line without newline that is empty) means the input is
// finished.
func (u *LineUI) readLine() (string, error) {
	s, err := u.in.ReadString('\n')
	if err != nil && (err != io.EOF || s == "") {
		if err == io.EOF {
			return "", ErrAborted
		}
		return "", fmt.Errorf("read the answer: %w", err)
	}
	return strings.TrimRight(s, "\r\n"), nil
}

// Show implements UI.
func (u *LineUI) Show(title, body string) error {
	u.heading(title, body)
	u.printf("Press Enter to continue.\n")
	_, err := u.readLine()
	return err
}

// Choose implements UI: numbered options; the answer is the number.
func (u *LineUI) Choose(title, body string, opts []Option) (string, error) {
	u.heading(title, body)
	for i, o := range opts {
		u.printf("  %d) %s\n", i+1, asciiOnly(o.Label))
	}
	for {
		u.printf("Type a number from 1 to %d and press Enter: ", len(opts))
		s, err := u.readLine()
		if err != nil {
			return "", err
		}
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err == nil && n >= 1 && n <= len(opts) {
			u.printf("You chose: %s\n", asciiOnly(opts[n-1].Label))
			return opts[n-1].Value, nil
		}
		u.printf("Error: %q is not one of the numbers 1 to %d.\n", strings.TrimSpace(s), len(opts))
	}
}

// Ask implements UI. Secret answers are read without echo when the input is
// a terminal.
func (u *LineUI) Ask(q Question) (string, error) {
	u.heading(q.Title, q.Body)
	for {
		if q.Placeholder != "" {
			u.printf("(%s)\n", asciiOnly(q.Placeholder))
		}
		u.printf("> ")
		s, err := u.readSecretOrLine(q.Secret)
		if err != nil {
			return "", err
		}
		if q.Validate != nil {
			if verr := q.Validate(s); verr != nil {
				u.printf("Error: %s\n", asciiOnly(verr.Error()))
				continue
			}
		}
		return s, nil
	}
}

// Confirm implements UI.
func (u *LineUI) Confirm(title, body, yes, no string) (bool, error) {
	u.heading(title, body)
	for {
		u.printf("Type y (%s) or n (%s) and press Enter: ", asciiOnly(yes), asciiOnly(no))
		s, err := u.readLine()
		if err != nil {
			return false, err
		}
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "y", "yes":
			return true, nil
		case "n", "no":
			return false, nil
		}
		u.printf("Error: answer y or n.\n")
	}
}

// Busy implements UI. SIGINT, SIGTERM and SIGHUP are caught while work runs
// and answered with a line saying the work is finished first.
func (u *LineUI) Busy(title, body string, work func(progress func(string))) bool {
	u.heading(title, body)
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	done := make(chan struct{})
	interrupted := false
	go func() {
		defer close(done)
		work(func(line string) {
			u.mu.Lock()
			u.printf("  %s\n", asciiOnly(line))
			u.mu.Unlock()
		})
	}()
	for {
		select {
		case <-done:
			select {
			case <-sigs:
				interrupted = true
			default:
			}
			return interrupted
		case s := <-sigs:
			interrupted = true
			u.mu.Lock()
			u.printf("  %s received: %s\n", s, interruptNotice)
			u.mu.Unlock()
		}
	}
}

// interruptNotice is what the wizard says when asked to stop while writing.
const interruptNotice = "the volume being fixed is finished first (stopping half-way could damage it); the wizard stops afterwards"

// readSecretOrLine reads a line; secrets are read with echo off when the
// input is a terminal.
func (u *LineUI) readSecretOrLine(secret bool) (string, error) {
	if secret && u.tty && u.in.Buffered() == 0 {
		b, err := term.ReadPassword(u.fd)
		u.printf("\n")
		if err != nil {
			return "", fmt.Errorf("read the answer: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	return u.readLine()
}
