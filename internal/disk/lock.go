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
// file, the loop devices that serve it). It does not wait: a target
// another run holds gives an error wrapping ErrBusy. unlock releases every
// lock taken. A Target from NewTarget (no file) locks nothing.
func (t *Target) Lock() (unlock func(), err error) {
	f, ok := t.closer.(*os.File)
	if !ok {
		return func() {}, nil
	}
	var held []*os.File
	release := func() {
		for _, h := range held {
			unlockFile(h)
			h.Close()
		}
	}
	if err := lockFile(f); err != nil {
		return nil, lockErr(t.path, t.path, err)
	}
	for _, alias := range t.aliases() {
		h, err := os.Open(alias)
		if err != nil {
			continue // an alias we cannot open cannot be written by us either
		}
		if err := lockFile(h); err != nil {
			h.Close()
			release()
			unlockFile(f)
			return nil, lockErr(t.path, alias, err)
		}
		held = append(held, h)
	}
	return func() { release(); unlockFile(f) }, nil
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

// aliases lists other names of the same disk, sorted so that two runs take
// locks in the same order: for a loop device its backing file, for an image
// file every loop device backed by it.
func (t *Target) aliases() []string {
	var out []string
	if t.device {
		if b := loopBackingFile(t.path); b != "" {
			out = append(out, b)
		}
		return out
	}
	fi, err := os.Stat(t.path)
	if err != nil {
		return nil
	}
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
		dev := "/dev/" + filepath.Base(filepath.Dir(filepath.Dir(bf)))
		out = append(out, dev)
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
