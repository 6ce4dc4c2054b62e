package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/unbrick/unbrick/internal/redact"
	"golang.org/x/sys/unix"
)

// readSecret prints prompt and reads one line from the terminal on stdin
// with echo off. It refuses when stdin is not a terminal.
func readSecret(e *env, prompt string) (string, error) {
	f, ok := e.Stdin.(*os.File)
	if !ok {
		return "", fmt.Errorf("no terminal to ask for the passphrase")
	}
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return "", fmt.Errorf("no terminal to ask for the passphrase")
	}
	noEcho := *old
	noEcho.Lflag &^= unix.ECHO
	noEcho.Lflag |= unix.ICANON | unix.ECHONL
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &noEcho); err != nil {
		return "", fmt.Errorf("turn terminal echo off: %w", err)
	}
	defer unix.IoctlSetTermios(fd, unix.TCSETS, old)
	fmt.Fprint(e.Stderr, prompt)
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("read passphrase: %w", err)
	}
	s := strings.TrimRight(line, "\r\n")
	redact.Register(s)
	return s, nil
}
