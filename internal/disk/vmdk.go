package disk

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// A VMDK descriptor (VMware, "Virtual Disk Format 1.1", section "The
// Descriptor File") is a small text file: "# Disk DescriptorFile", then
// key="value" lines (version, CID, parentCID, createType,
// parentFileNameHint, ddb.* entries) and one extent line per extent:
//
//	ACCESS SECTORS TYPE "FILENAME" [OFFSET]
//
// ACCESS is RW, RDONLY or NOACCESS; SECTORS the extent's size in 512-byte
// sectors; TYPE FLAT (a file holding the disk's bytes as they are), VMFS
// (the same, on ESXi), SPARSE, ZERO, VMFSSPARSE, VMFSRDM or VMFSRAW;
// FILENAME relative to the descriptor's folder; OFFSET (FLAT only) where,
// in 512-byte sectors, the extent's data starts in its file. The extents,
// in order, make up the disk. parentCID other than ffffffff (or a
// parentFileNameHint) makes the disk a delta of a snapshot chain.

const (
	vmdkDescriptorMagic = "# Disk DescriptorFile"
	vmdkSector          = 512
	// vmdkDescriptorLimit bounds the descriptor file read whole: real ones
	// are well under a kilobyte.
	vmdkDescriptorLimit = 1 << 20
)

func isVMDKDescriptor(head []byte) bool {
	return bytes.HasPrefix(bytes.TrimLeft(head, " \t\r\n\ufeff"), []byte(vmdkDescriptorMagic))
}

// vmdkExtent is one extent line of a descriptor.
type vmdkExtent struct {
	Access  string // RW, RDONLY, NOACCESS
	Sectors int64
	Type    string // FLAT, VMFS, ...
	File    string // as written in the descriptor
	Offset  int64  // in sectors, FLAT only
	Line    int    // 1-based line number in the descriptor
}

// vmdkDescriptor is what unbrick uses of a descriptor.
type vmdkDescriptor struct {
	CreateType string
	ParentCID  string
	ParentHint string
	Extents    []vmdkExtent
}

// parseVMDKDescriptor parses descriptor text. Errors name the line.
func parseVMDKDescriptor(text []byte) (*vmdkDescriptor, error) {
	d := &vmdkDescriptor{}
	if i := bytes.IndexByte(text, 0); i >= 0 {
		text = text[:i] // padded with zero bytes to a whole sector
	}
	for i, raw := range strings.Split(string(text), "\n") {
		line := strings.TrimSpace(strings.TrimPrefix(raw, "\ufeff"))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok && !strings.ContainsAny(k, "\"") {
			v = strings.Trim(strings.TrimSpace(v), "\"")
			switch strings.TrimSpace(k) {
			case "createType":
				d.CreateType = v
			case "parentCID":
				d.ParentCID = strings.ToLower(v)
			case "parentFileNameHint":
				d.ParentHint = v
			}
			continue
		}
		e, err := parseVMDKExtent(line)
		if err != nil {
			return nil, fmt.Errorf("VMDK descriptor line %d: %w", i+1, err)
		}
		e.Line = i + 1
		d.Extents = append(d.Extents, e)
	}
	if len(d.Extents) == 0 {
		return nil, errors.New("VMDK descriptor names no extent")
	}
	return d, nil
}

// parseVMDKExtent parses `ACCESS SECTORS TYPE "FILE" [OFFSET]`.
func parseVMDKExtent(line string) (vmdkExtent, error) {
	var e vmdkExtent
	q1 := strings.IndexByte(line, '"')
	q2 := strings.LastIndexByte(line, '"')
	if q1 < 0 || q2 <= q1 {
		if f := strings.Fields(line); len(f) == 3 && f[2] == "ZERO" {
			return vmdkExtent{Access: f[0], Type: "ZERO"}, nil
		}
		return e, fmt.Errorf("%q is neither key=\"value\" nor an extent (ACCESS SECTORS TYPE \"FILE\" [OFFSET])", line)
	}
	f := strings.Fields(line[:q1])
	if len(f) != 3 {
		return e, fmt.Errorf("extent %q: want ACCESS SECTORS TYPE before the file name", line)
	}
	e.Access, e.Type, e.File = f[0], f[2], line[q1+1:q2]
	switch e.Access {
	case "RW", "RDONLY", "NOACCESS":
	default:
		return e, fmt.Errorf("extent %q: access %q is not RW, RDONLY or NOACCESS", line, e.Access)
	}
	n, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil || n <= 0 || n > 1<<50/vmdkSector {
		return e, fmt.Errorf("extent %q: size %q is not a sector count", line, f[1])
	}
	e.Sectors = n
	if rest := strings.TrimSpace(line[q2+1:]); rest != "" {
		off, err := strconv.ParseInt(rest, 10, 64)
		if err != nil || off < 0 || off > 1<<50/vmdkSector {
			return e, fmt.Errorf("extent %q: offset %q is not a sector number", line, rest)
		}
		e.Offset = off
	}
	return e, nil
}

// openFlatVMDK opens the flat extents a VMDK descriptor (f, size bytes)
// names, as one disk. Anything but RW flat extents is refused with what to
// do; so is a delta disk of a snapshot chain.
func (t *Target) openFlatVMDK(f *os.File, size int64, writable bool) error {
	if size > vmdkDescriptorLimit {
		return fmt.Errorf("%s starts like a VMDK descriptor but is %d bytes (a descriptor is at most %d): not opened", t.path, size, vmdkDescriptorLimit)
	}
	text := make([]byte, size)
	if _, err := f.ReadAt(text, 0); err != nil && err != io.EOF {
		return fmt.Errorf("read VMDK descriptor %s: %w", t.path, err)
	}
	d, err := parseVMDKDescriptor(text)
	if err != nil {
		return fmt.Errorf("%s: %w; nothing was written", t.path, err)
	}
	if (d.ParentCID != "" && d.ParentCID != "ffffffff") || d.ParentHint != "" {
		return &UnsupportedContainerError{Path: t.path, Format: "VMDK delta disk (a snapshot over " + orUnnamed(d.ParentHint) + ")",
			Reason: "the VM reads its disk through the whole snapshot chain; " +
				"consolidate the snapshots (or convert the chain: qemu-img convert -O raw " + t.path + " disk.raw), then fix the result",
			QemuFormat: "vmdk"}
	}
	cat := &extentDisk{}
	ok := false
	defer func() {
		if !ok {
			cat.Close()
		}
	}()
	dir := filepath.Dir(t.path)
	flag := os.O_RDONLY
	if writable {
		flag = os.O_RDWR
	}
	for _, e := range d.Extents {
		if e.Type != "FLAT" && e.Type != "VMFS" {
			q := "vmdk"
			if e.Type != "SPARSE" && e.Type != "VMFSSPARSE" {
				q = "" // raw device mappings, zero extents: not a file qemu-nbd can serve for a fix
			}
			return &UnsupportedContainerError{Path: t.path, Format: "VMDK with " + e.Type + " extents (createType " + orUnnamed(d.CreateType) + ")",
				Reason: convertHint(t.path, "vmdk"), QemuFormat: q}
		}
		if e.Access != "RW" && (writable || e.Access == "NOACCESS") {
			return fmt.Errorf("%s: extent %q (line %d) is %s: unbrick cannot fix through it; nothing was written", t.path, e.File, e.Line, e.Access)
		}
		p := e.File
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("%s: extent file of line %d: %w (the descriptor and its -flat files must stay in one folder)", t.path, e.Line, err)
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%s: extent %s (line %d) is not a regular file (mode %v); nothing was written", t.path, p, e.Line, fi.Mode())
		}
		need := (e.Offset + e.Sectors) * vmdkSector
		if fi.Size() < need {
			return fmt.Errorf("%s: extent %s (line %d) holds %d bytes, the descriptor needs %d: the image is cut short; nothing was written",
				t.path, p, e.Line, fi.Size(), need)
		}
		ef, err := os.OpenFile(p, flag|syscall.O_NONBLOCK, 0)
		if err != nil {
			return fmt.Errorf("%s: open extent %s: %w", t.path, p, err)
		}
		cat.add(ef, e.Offset*vmdkSector, e.Sectors*vmdkSector)
	}
	ok = true
	t.r, t.size, t.files = cat, cat.size, cat.files()
	t.closer = multiCloser{cat, f}
	if writable {
		t.w = cat
	}
	return nil
}

func orUnnamed(s string) string {
	if s == "" {
		return "an unnamed parent"
	}
	return s
}

// extentDisk is a disk made of extents laid end to end, each a range of
// a file.
type extentDisk struct {
	ext  []extent
	size int64
}

type extent struct {
	f     *os.File
	start int64 // where the extent starts in the disk
	off   int64 // where its data starts in f
	size  int64
}

func (d *extentDisk) add(f *os.File, off, size int64) {
	d.ext = append(d.ext, extent{f: f, start: d.size, off: off, size: size})
	d.size += size
}

func (d *extentDisk) files() []*os.File {
	var out []*os.File
	for _, e := range d.ext {
		out = append(out, e.f)
	}
	return out
}

// each calls fn for every piece of [off, off+n) that falls in an extent, in
// order: the extent, the offset in its file and the byte range of the
// caller's buffer.
func (d *extentDisk) each(off int64, n int, fn func(e *extent, fileOff int64, from, to int) error) error {
	done := 0
	for i := range d.ext {
		e := &d.ext[i]
		if done == n {
			break
		}
		pos := off + int64(done)
		if pos >= e.start+e.size || pos < e.start {
			continue
		}
		k := int(min(int64(n-done), e.start+e.size-pos))
		if err := fn(e, e.off+pos-e.start, done, done+k); err != nil {
			return err
		}
		done += k
	}
	if done < n {
		return io.EOF
	}
	return nil
}

// ReadAt reads across extents; past the end it returns io.EOF.
func (d *extentDisk) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= d.size {
		return 0, io.EOF
	}
	n := 0
	err := d.each(off, len(p), func(e *extent, fo int64, from, to int) error {
		k, err := e.f.ReadAt(p[from:to], fo)
		n += k
		if err == io.EOF && k == to-from {
			err = nil
		}
		return err
	})
	return n, err
}

// WriteAt writes across extents; it never writes past the end.
func (d *extentDisk) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || int64(len(p)) > d.size-off {
		return 0, fmt.Errorf("write of %d bytes at %d is outside the disk (%d bytes)", len(p), off, d.size)
	}
	n := 0
	err := d.each(off, len(p), func(e *extent, fo int64, from, to int) error {
		k, err := e.f.WriteAt(p[from:to], fo)
		n += k
		return err
	})
	return n, err
}

// Sync flushes every extent file.
func (d *extentDisk) Sync() error {
	for _, e := range d.ext {
		if err := e.f.Sync(); err != nil {
			return fmt.Errorf("flush extent %s: %w", e.f.Name(), err)
		}
	}
	return nil
}

// Close closes every extent file.
func (d *extentDisk) Close() error {
	var first error
	for _, e := range d.ext {
		if err := e.f.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// multiCloser closes several things, reporting the first error.
type multiCloser []io.Closer

func (m multiCloser) Close() error {
	var first error
	for _, c := range m {
		if err := c.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
