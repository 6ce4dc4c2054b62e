package disk

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ErrBusy is returned (wrapped) by Target.Lock when another unbrick run
// holds the target.
var ErrBusy = errors.New("another unbrick run is working on this disk")

// Lock takes an exclusive advisory lock on the target, so that two unbrick
// runs never plan or write the same disk at the same time: on the image
// file or block device itself and, where the same disk can be reached by
// another name, on that too (a loop device's backing file; for an image
// file, the loop devices that serve it; for a flat VMDK, its descriptor
// and then every extent file). It does not wait: a target
// another run holds gives an error wrapping ErrBusy. unlock releases every
// lock taken. An NBD export is locked through a lock file named after it
// (lock_nbd.go). A Target from NewTarget (no file) locks nothing. On
// Windows, a disk opened writable is locked against other runs and its
// volumes are locked and dismounted (target_windows.go).
func (t *Target) Lock() (unlock func(), err error) {
	if t.lockDevice != nil {
		return t.lockDevice()
	}
	f := t.file
	if f == nil && t.nbdKey != "" {
		return lockNBD(t.path, t.nbdKey)
	}
	if f == nil {
		return func() {}, nil
	}
	var held []*os.File
	release := func() {
		for _, h := range held {
			unlockFile(h)
			if h != f && !t.ownFile(h) {
				h.Close()
			}
		}
	}
	// Every name of the disk is locked in one order (lockOrder), whichever
	// name this run was given: two runs, one given the image file and one
	// its loop device, then meet at the same first lock and exactly one of
	// them goes on. Locking our own name first would let each take one lock
	// and find the other's busy, and both would give up.
	for _, name := range t.lockOrder() {
		h := f
		if name != t.path {
			if h, err = os.Open(name); err != nil {
				continue // a name we cannot open cannot be written by us either
			}
		}
		if err := lockFile(h); err != nil {
			if h != f {
				h.Close()
			}
			release()
			return nil, lockErr(t.path, name, err)
		}
		held = append(held, h)
	}
	// A flat VMDK: its extent files, in the descriptor's order, after the
	// descriptor (which every run given this disk locks first).
	for _, h := range t.files {
		if err := lockFile(h); err != nil {
			release()
			return nil, lockErr(t.path, h.Name(), err)
		}
		held = append(held, h)
	}
	return release, nil
}

// ownFile reports whether h is one of the target's own open files (closed
// by Close, not by unlock).
func (t *Target) ownFile(h *os.File) bool {
	for _, x := range t.files {
		if x == h {
			return true
		}
	}
	return false
}

// lockOrder lists every name of the target's disk in the order Lock takes
// them: the backing image file first (whether this run was given it or one
// of its loop devices), then loop devices by name.
func (t *Target) lockOrder() []string {
	aliases := t.aliases()
	if !t.device {
		return append([]string{t.path}, aliases...)
	}
	// A loop device: its backing file (aliases holds at most that) comes
	// first, then the loop devices serving that file, this one among them.
	if len(aliases) == 0 {
		return []string{t.path}
	}
	backing := aliases[0]
	loops := loopsBackedBy(backing)
	found := false
	for _, l := range loops {
		if sameNode(l, t.path) {
			found = true
		}
	}
	if !found {
		loops = append(loops, t.path)
		sort.Strings(loops)
	}
	out := []string{backing}
	for _, l := range loops {
		if sameNode(l, t.path) {
			l = t.path // lock through the descriptor already open
		}
		out = append(out, l)
	}
	return out
}

// sameNode reports whether two paths name the same file or device node.
func sameNode(a, b string) bool {
	if a == b {
		return true
	}
	ai, err1 := os.Stat(a)
	bi, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(ai, bi)
}

func lockErr(target, holder string, err error) error {
	if errors.Is(err, ErrBusy) {
		if holder != target {
			return fmt.Errorf("%s: %w (through %s, the same disk): wait for it to finish, then run again", target, ErrBusy, holder)
		}
		return fmt.Errorf("%s: %w: wait for it to finish, then run again", target, ErrBusy)
	}
	return fmt.Errorf("lock %s: %w", holder, err)
}

// aliases lists other names of the same disk: for a loop device its
// backing file, for an image file every loop device backed by it (sorted).
func (t *Target) aliases() []string {
	var out []string
	if t.device {
		if b := loopBackingFile(t.path); b != "" {
			out = append(out, b)
		}
		return out
	}
	return loopsBackedBy(t.path)
}

// loopsBackedBy lists, sorted, the loop devices whose backing file is the
// file at path.
func loopsBackedBy(path string) []string {
	fi, err := os.Stat(path)
	if err != nil {
		return nil
	}
	var out []string
	loops, _ := filepath.Glob("/sys/block/loop*/loop/backing_file")
	for _, bf := range loops {
		data, err := os.ReadFile(bf)
		if err != nil {
			continue
		}
		backing := strings.TrimSuffix(strings.TrimSpace(string(data)), " (deleted)")
		bi, err := os.Stat(backing)
		if err != nil || !os.SameFile(fi, bi) {
			continue
		}
		out = append(out, "/dev/"+filepath.Base(filepath.Dir(filepath.Dir(bf))))
	}
	sort.Strings(out)
	return out
}

// loopBackingFile returns the file behind a loop device, or "".
func loopBackingFile(dev string) string {
	real, err := filepath.EvalSymlinks(dev)
	if err != nil {
		return ""
	}
	data, err := os.ReadFile(filepath.Join("/sys/block", filepath.Base(real), "loop", "backing_file"))
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(strings.TrimSpace(string(data)), " (deleted)")
}
