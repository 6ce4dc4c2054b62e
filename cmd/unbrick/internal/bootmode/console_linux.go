//go:build linux

package bootmode

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/unbrick/unbrick/image"
	"github.com/unbrick/unbrick/internal/redact"
)

// openConsoles opens every console the kernel writes to (console= on the
// command line, listed in /sys/class/tty/console/active: "ttyS0 tty0"), so
// the run shows on the PC's screen and on a serial line alike, and starts
// one line reader per console: a passphrase may be typed on either.
func (b *booter) openConsoles() {
	names := strings.Fields(readSysString("/sys/class/tty/console/active"))
	writers := []io.Writer{&b.log}
	for _, n := range names {
		f, err := os.OpenFile("/dev/"+n, os.O_RDWR|unix.O_NOCTTY, 0)
		if err != nil {
			continue
		}
		b.consoles = append(b.consoles, f)
		writers = append(writers, crlfWriter{f})
	}
	if len(b.consoles) == 0 {
		b.consoles = []*os.File{os.Stdin}
		writers = append(writers, os.Stdout)
	}
	b.setOut(io.MultiWriter(writers...))
}

// startReaders starts one line reader per console, so an answer may be
// typed on the screen's keyboard or on a serial line. They keep running
// (a stopped reader could swallow the next answer) until stopReaders.
func (b *booter) startReaders() {
	b.lines = make(chan string, 8)
	for _, f := range b.consoles {
		f.SetReadDeadline(time.Time{})
		b.readers.Add(1)
		go func(f *os.File, lines chan<- string) {
			defer b.readers.Done()
			r := bufio.NewReader(f)
			for {
				l, err := r.ReadString('\n')
				if l != "" && err == nil {
					select {
					case lines <- strings.TrimRight(l, "\r\n"):
					default:
					}
				}
				if err != nil {
					return
				}
			}
		}(f, b.lines)
	}
}

// stopReaders ends the line readers (a read deadline in the past wakes
// them up), so the keyboard belongs to whatever runs next: the wizard.
func (b *booter) stopReaders() {
	for _, f := range b.consoles {
		f.SetReadDeadline(time.Now())
	}
	done := make(chan struct{})
	go func() { b.readers.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
	for _, f := range b.consoles {
		f.SetReadDeadline(time.Time{})
	}
	b.lines = nil
}

// crlfWriter turns "\n" into "\r\n": a serial console in raw output mode
// would otherwise show a staircase.
type crlfWriter struct{ w io.Writer }

func (c crlfWriter) Write(p []byte) (int, error) {
	s := strings.ReplaceAll(strings.ReplaceAll(string(p), "\r\n", "\n"), "\n", "\r\n")
	if _, err := io.WriteString(c.w, s); err != nil {
		return 0, err
	}
	return len(p), nil
}

// readLine waits for one line typed on any console, with echo off when
// secret is set. ok is false on timeout.
func (b *booter) readLine(secret bool, timeout time.Duration) (string, bool) {
	b.flush() // the question must be on the screen
	if secret {
		for _, f := range b.consoles {
			fd := int(f.Fd())
			old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
			if err != nil {
				continue
			}
			t := *old
			t.Lflag &^= unix.ECHO
			t.Lflag |= unix.ICANON | unix.ECHONL
			unix.IoctlSetTermios(fd, unix.TCSETS, &t)
			defer unix.IoctlSetTermios(fd, unix.TCSETS, old)
		}
	}
	if b.lines == nil {
		b.startReaders()
	}
	for drained := false; !drained; { // drop lines typed before the question
		select {
		case <-b.lines:
		default:
			drained = true
		}
	}
	var tc <-chan time.Time
	if timeout > 0 {
		tc = time.After(timeout)
	}
	select {
	case l := <-b.lines:
		return l, true
	case <-tc:
		return "", false
	}
}

func (b *booter) waitEnter(timeout time.Duration) {
	if len(b.consoles) == 0 {
		time.Sleep(timeout)
		return
	}
	b.readLine(false, timeout)
}

// openKeys makes the stick's key files usable by the engine: plaintext
// ones are used in place; sealed ones (*.age) are opened with the
// passphrase, asked once, into /run (RAM only, never the stick).
func (b *booter) openKeys(dir string) []string {
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	var plain, sealed []string
	for _, f := range files {
		if st, err := os.Stat(f); err != nil || !st.Mode().IsRegular() {
			continue
		}
		if strings.HasSuffix(strings.ToLower(f), image.SealedSuffix) {
			sealed = append(sealed, f)
		} else {
			plain = append(plain, f)
		}
	}
	var out []string
	var notes []string
	if len(plain) > 0 {
		b.say("\n*** WARNING: %d key file(s) on this stick are NOT sealed: anyone holding the stick can read the recovery keys. ***\n", len(plain))
		out = append(out, plain...)
		notes = append(notes, fmt.Sprintf("%d plaintext (NOT sealed)", len(plain)))
	}
	if len(sealed) > 0 {
		opened := b.unsealKeys(sealed)
		out = append(out, opened...)
		notes = append(notes, fmt.Sprintf("%d sealed, %d opened", len(sealed), len(opened)))
	}
	if len(notes) > 0 {
		b.rec.Keys = strings.Join(notes, ", ")
	}
	return out
}

const passphraseTries = 3

func (b *booter) unsealKeys(sealed []string) []string {
	first, err := os.ReadFile(sealed[0])
	if err != nil {
		b.problem("read key file %s: %v", filepath.Base(sealed[0]), err)
		return nil
	}
	var pass string
	for try := 1; ; try++ {
		fmt.Fprintf(b.out, "The recovery keys on this stick are sealed. Passphrase: ")
		p, ok := b.readLine(true, 0)
		if !ok {
			return nil
		}
		// Right or wrong (a typo of the right one), it is never shown.
		redact.Register(p)
		b.say("checking...")
		if _, err := image.Unseal(first, p); err == nil {
			pass = p
			break
		} else if !errors.Is(err, image.ErrWrongPassphrase) {
			b.problem("key file %s: %v", filepath.Base(sealed[0]), err)
			return nil
		}
		if try == passphraseTries {
			b.problem("wrong passphrase %d times: continuing WITHOUT the keys, so BitLocker volumes stay locked (boot again to retry)", passphraseTries)
			return nil
		}
		b.say("Wrong passphrase (%d of %d tries). Try again.", try, passphraseTries)
	}
	var out []string
	for _, f := range sealed {
		data, err := os.ReadFile(f)
		if err == nil {
			data, err = image.Unseal(data, pass)
		}
		if err != nil {
			b.problem("key file %s: %v", filepath.Base(f), err)
			continue
		}
		dst := filepath.Join(runKeysDir, strings.TrimSuffix(filepath.Base(f), filepath.Ext(f)))
		if err := os.WriteFile(dst, data, 0o600); err != nil {
			b.problem("key file %s: %v", filepath.Base(f), err)
			continue
		}
		out = append(out, dst)
	}
	b.say("Keys opened: %d of %d sealed file(s).", len(out), len(sealed))
	return out
}

// consoleFontOp is struct console_font_op (include/uapi/linux/kd.h).
type consoleFontOp struct {
	Op, Flags, Width, Height, Charcount uint32
	Data                                *byte
}

const (
	kdFontOp           = 0x4B72 // KDFONTOP
	kdFontOpSetDefault = 2      // KD_FONT_OP_SET_DEFAULT: data = font name
)

// setFont switches the screen console to the kernel's built-in TER16x32
// font (CONFIG_FONT_TER16x32) on large framebuffers, so the text stays
// readable on high-DPI laptop panels. There is no setfont in the
// initramfs; KDFONTOP with a font name asks fbcon for a built-in font.
func (b *booter) setFont(haveTer bool) {
	if b.cfg.Font == "normal" || !haveTer {
		return
	}
	w := 0
	if s := readSysString("/sys/class/graphics/fb0/virtual_size"); s != "" {
		w, _ = strconv.Atoi(strings.Split(s, ",")[0])
	}
	if b.cfg.Font == "auto" && w < 1920 {
		return
	}
	f, err := os.OpenFile("/dev/tty1", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return
	}
	defer f.Close()
	name := []byte("TER16x32\x00")
	op := consoleFontOp{Op: kdFontOpSetDefault, Data: &name[0]}
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), kdFontOp, uintptr(unsafe.Pointer(&op)))
	runtime.KeepAlive(name)
	if errno != 0 {
		b.say("Large console font not set: %v", errno)
		return
	}
	b.say("Large console font (TER16x32) for a %d-pixel wide screen.", w)
}
