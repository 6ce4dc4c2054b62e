package disk

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// A snapshot or overlay image records the image it is based on (its
// backing file or parent): writing that base changes what every image over
// it reads, which corrupts them. Before writing an image file, unbrick
// looks in the image's folder for images based on it:
//
//   - qcow2 (QEMU's "qcow2 format" specification, docs/interop/qcow2.txt):
//     header magic "QFI\xfb"; backing_file_offset (uint64, big-endian) at
//     byte 8 and backing_file_size (uint32) at 16 locate the backing
//     file's name (at most 1023 bytes), relative to the overlay's folder.
//   - VMDK descriptors (text, "# Disk DescriptorFile"): parentFileNameHint.
//
// Other formats' parent locators (differencing VHD and VHDX) are not read.

// maxChainScan bounds how many files of one folder are looked at.
const maxChainScan = 200000

// childIndex maps a base image (by file identity) to the images over it,
// for one folder; built once per folder and process. It keeps per base
// only what the refusal names (a count and the first few names, in name
// order), not every overlay: thousands of VM disks over one template
// would otherwise cost memory for the whole run.
type childIndex struct {
	children map[fileID]*children
}

// children are the images over one base: how many, and the
// shownChildren first names in name order.
type children struct {
	n     int
	first []string
}

// shownChildren is how many images over a base a refusal names.
const shownChildren = 3

// add records one more image over the base.
func (c *children) add(name string) {
	c.n++
	i, _ := slices.BinarySearch(c.first, name)
	if i >= shownChildren {
		return
	}
	c.first = slices.Insert(c.first, i, name)
	if len(c.first) > shownChildren {
		c.first = c.first[:shownChildren:shownChildren]
	}
}

type fileID struct{ dev, ino uint64 }

var childIndexes sync.Map // folder -> *childIndexEntry

type childIndexEntry struct {
	once sync.Once
	idx  *childIndex
	err  error
}

// refuseIfParent refuses to write t when an image in its folder is based
// on it, naming that image.
func (t *Target) refuseIfParent() error {
	if t.file == nil {
		return nil
	}
	fi, err := t.file.Stat()
	if err != nil {
		return nil
	}
	id, ok := identity(fi)
	if !ok {
		return nil
	}
	dir := filepath.Dir(t.path)
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	e, _ := childIndexes.LoadOrStore(dir, &childIndexEntry{})
	entry := e.(*childIndexEntry)
	entry.once.Do(func() { entry.idx, entry.err = buildChildIndex(dir) })
	if entry.err != nil {
		return fmt.Errorf("%s: cannot look for snapshot images based on it in %s: %w; nothing was written", t.path, dir, entry.err)
	}
	kids := entry.idx.children[id]
	if kids == nil || kids.n == 0 {
		return nil
	}
	more := ""
	if kids.n > len(kids.first) {
		more = fmt.Sprintf(" and %d more", kids.n-len(kids.first))
	}
	return &UnsupportedContainerError{Path: t.path, Format: "base of a snapshot chain",
		Reason: fmt.Sprintf("%s%s %s based on it, and writing it would corrupt them: fix the image the VM runs from (the top of the chain) instead; nothing was written",
			strings.Join(kids.first, ", "), more, isAre(kids.n)),
		Unsafe: true,
	}
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

// buildChildIndex reads the header of every regular file in dir that may
// be an overlay and records which base each names.
func buildChildIndex(dir string) (*childIndex, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	idx := &childIndex{children: map[fileID]*children{}}
	start := time.Now()
	for i, de := range ents {
		if i >= maxChainScan || time.Since(start) > time.Minute {
			return nil, fmt.Errorf("too many files (%d) to look through", len(ents))
		}
		if !de.Type().IsRegular() {
			continue
		}
		p := filepath.Join(dir, de.Name())
		base := backingFileOf(p)
		if base == "" {
			continue
		}
		if !filepath.IsAbs(base) {
			base = filepath.Join(dir, base)
		}
		bi, err := os.Stat(base)
		if err != nil {
			continue
		}
		if id, ok := identity(bi); ok {
			c := idx.children[id]
			if c == nil {
				c = &children{}
				idx.children[id] = c
			}
			c.add(p)
		}
	}
	return idx, nil
}

// backingFileOf returns the backing file or parent an image names, or "".
func backingFileOf(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	head := make([]byte, 4096)
	n, _ := f.ReadAt(head, 0)
	head = head[:n]
	switch {
	case bytes.HasPrefix(head, []byte("QFI\xfb")) && len(head) >= 20:
		off := binary.BigEndian.Uint64(head[8:])
		size := binary.BigEndian.Uint32(head[16:])
		if off == 0 || size == 0 || size > 1023 || off > 1<<20 {
			return ""
		}
		name := make([]byte, size)
		if n, _ := f.ReadAt(name, int64(off)); n != int(size) {
			return ""
		}
		return string(name)
	case isVMDKDescriptor(head):
		if d, err := parseVMDKDescriptor(head); err == nil {
			return d.ParentHint
		}
		// A descriptor whose extents did not parse still names its parent.
		for _, line := range strings.Split(string(head), "\n") {
			if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok && strings.TrimSpace(k) == "parentFileNameHint" {
				return strings.Trim(strings.TrimSpace(v), "\"")
			}
		}
	}
	return ""
}
