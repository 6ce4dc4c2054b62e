package disk

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/unbrick/unbrick/internal/nbd"
)

// openQemuNBD opens an image whose format qemu-nbd reads and writes (ue
// says which) through a qemu-nbd process serving it on a private Unix
// socket. A streamOptimized VMDK is opened for reading only: it is an
// export format that qemu cannot change in place.
func (t *Target) openQemuNBD(ue *UnsupportedContainerError, writable bool) error {
	if writable && ue.Format == "streamOptimized VMDK" {
		return &UnsupportedContainerError{Path: t.path, Format: ue.Format,
			Reason: "a streamOptimized VMDK (an OVA/OVF export) cannot be changed in place; convert it (qemu-img convert -O vmdk -o subformat=monolithicSparse " + t.path + " fixed.vmdk) and fix the result", Unsafe: true}
	}
	if writable {
		if err := t.refuseIfParent(); err != nil {
			return err
		}
	}
	if writable && t.file != nil {
		// One writer per disk: take unbrick's lock before qemu-nbd opens
		// the image (Lock takes it again through the same descriptor).
		if err := lockFile(t.file); err != nil {
			return lockErr(t.path, t.path, err)
		}
	}
	q, err := nbd.StartQemuNBD(context.Background(), t.path, ue.QemuFormat, !writable)
	if err != nil && strings.Contains(err.Error(), `Failed to get "write" lock`) {
		return fmt.Errorf("%s: %w: another program has the image open for writing (is its VM running? stop it first), or another unbrick run holds it", t.path, ErrBusy)
	}
	if errors.Is(err, nbd.ErrNoQemuNBD) {
		return &UnsupportedContainerError{Path: t.path, Format: ue.Format,
			Reason: "unbrick opens this format through qemu-nbd, which is not installed: install it (Debian/Ubuntu: apt install qemu-utils), or " + convertSteps(t.path, ue.QemuFormat)}
	}
	if err != nil {
		return fmt.Errorf("%s (%s): %w", t.path, ue.Format, err)
	}
	c, err := q.Dial(context.Background(), nbd.Options{ReadOnly: !writable})
	if err != nil {
		q.Stop()
		return fmt.Errorf("%s (%s) through qemu-nbd: %w", t.path, ue.Format, err)
	}
	t.container, t.format = ContainerQemuNBD, ue.Format
	t.r, t.size = c, c.Size()
	if writable {
		t.w = c
	}
	t.closer = multiCloser{closerFunc(func() error {
		err := c.Close()
		if serr := q.Stop(); err == nil {
			err = serr
		}
		return err
	}), t.file}
	return nil
}

// closerFunc is a function as an io.Closer.
type closerFunc func() error

func (f closerFunc) Close() error { return f() }

// isStreamOptimized reports whether a hosted sparse VMDK header ("KDMV")
// is streamOptimized: compressAlgorithm (uint16 at offset 77, VMware
// "Virtual Disk Format 1.1", SparseExtentHeader) is 1 (deflate).
func isStreamOptimized(head []byte) bool {
	return len(head) >= 79 && binary.LittleEndian.Uint16(head[77:]) == 1
}
