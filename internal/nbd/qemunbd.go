package nbd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// QemuNBD is a qemu-nbd process (Debian package qemu-utils) serving one
// image file on a Unix socket in a private temporary folder, for this
// process only. qemu-nbd reads and writes the image format (qcow2, VHDX,
// VPC, VMDK, VDI, QED) and follows its backing chain; unbrick speaks NBD to
// it and never writes those formats itself.
type QemuNBD struct {
	URI  *URI
	cmd  *exec.Cmd
	dir  string
	done chan error
	logf *os.File
}

// ErrNoQemuNBD: qemu-nbd is not installed.
var ErrNoQemuNBD = errors.New("qemu-nbd is not installed (Debian/Ubuntu package qemu-utils; Fedora qemu-img)")

// StartQemuNBD serves path, an image of the given qemu format, and waits
// until its socket accepts connections. qemu-nbd runs in its own process
// group, so a Ctrl-C at the terminal reaches unbrick only, which then
// finishes its writes, flushes and disconnects; Stop waits for qemu-nbd to
// exit. qemu-nbd serves one client and exits when it disconnects.
func StartQemuNBD(ctx context.Context, path, format string, readOnly bool) (*QemuNBD, error) {
	bin, err := exec.LookPath("qemu-nbd")
	if err != nil {
		return nil, ErrNoQemuNBD
	}
	dir, err := os.MkdirTemp("", "unbrick-nbd-")
	if err != nil {
		return nil, fmt.Errorf("qemu-nbd socket folder: %w", err)
	}
	sock := filepath.Join(dir, "nbd.sock")
	args := []string{"--socket=" + sock, "--format=" + format, "--export-name=disk", "--shared=1", "--cache=writeback"}
	if readOnly {
		args = append(args, "--read-only")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	args = append(args, "--", abs)
	logf, err := os.Create(filepath.Join(dir, "qemu-nbd.log"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("qemu-nbd log: %w", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = newProcessGroup()
	if err := cmd.Start(); err != nil {
		logf.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start qemu-nbd for %s: %w", path, err)
	}
	q := &QemuNBD{URI: &URI{Network: "unix", Address: sock, Export: "disk", Raw: "nbd+unix:///disk?socket=" + sock}, cmd: cmd, dir: dir, done: make(chan error, 1), logf: logf}
	go func() { q.done <- cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(sock); err == nil {
			return q, nil
		}
		select {
		case err := <-q.done:
			q.done <- err
			msg := q.log()
			q.cleanup()
			return nil, fmt.Errorf("qemu-nbd could not serve %s as %s: %v: %s", path, format, err, msg)
		case <-ctx.Done():
			q.Stop()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			q.Stop()
			return nil, fmt.Errorf("qemu-nbd did not open its socket for %s within 30 s", path)
		}
	}
}

// Dial connects to the qemu-nbd process. Its socket file appears when
// qemu-nbd binds it, a moment before it listens: a refused connection is
// tried again for up to 10 s. (A probe connection cannot be used to wait:
// qemu-nbd serves one client and exits when it disconnects.)
func (q *QemuNBD) Dial(ctx context.Context, o Options) (*Client, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := Dial(ctx, q.URI, o)
		if err == nil || !errors.Is(err, syscall.ECONNREFUSED) || time.Now().After(deadline) {
			return c, err
		}
		select {
		case err := <-q.done:
			q.done <- err
			return nil, fmt.Errorf("qemu-nbd exited before serving: %v: %s", err, q.log())
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// log is what qemu-nbd printed, trimmed.
func (q *QemuNBD) log() string {
	b, _ := os.ReadFile(q.logf.Name())
	s := strings.TrimSpace(string(b))
	if len(s) > 400 {
		s = s[len(s)-400:]
	}
	if s == "" {
		s = "(no message)"
	}
	return s
}

// Stop waits for qemu-nbd to exit after its client disconnected (up to
// 60 s: it flushes the image first), asks it to stop (SIGTERM, another
// 30 s) if it does not, and removes the socket folder. An error means
// qemu-nbd did not exit cleanly: the image may need checking (qemu-img
// check).
func (q *QemuNBD) Stop() error {
	defer q.cleanup()
	select {
	case err := <-q.done:
		return exitErr(err)
	case <-time.After(60 * time.Second):
	}
	q.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-q.done:
		return fmt.Errorf("qemu-nbd had to be stopped: %v", exitErr(err))
	case <-time.After(30 * time.Second):
	}
	q.cmd.Process.Kill()
	<-q.done
	return errors.New("qemu-nbd did not stop and was killed: check the image with qemu-img check")
}

func exitErr(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("qemu-nbd: %w", err)
}

func (q *QemuNBD) cleanup() {
	q.logf.Close()
	os.RemoveAll(q.dir)
}
