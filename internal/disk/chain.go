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
//   - Differencing VHDX (Hyper-V checkpoints, NAME_GUID.avhdx; vhdx.go):
//     the Parent Locator metadata item's relative_path, or, without one,
//     the file name of its absolute_win32_path.
//   - Differencing VHD (.avhd, .vhd; vhd.go): the W2ru parent locator
//     (relative path), or the file name of the W2ku locator (absolute
//     path) or of the Parent Unicode Name.
//
// Hyper-V's paths are Windows paths: backslashes are read as separators
// and, when no file has the exact name, a file of the folder whose name
// differs only in case is taken as the parent. Only the image's own
// folder is searched for images based on it.

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
	// hyperV: one of them is a differencing VHD or VHDX (merged into its
	// base, not rebased).
	hyperV bool
}

// shownChildren is how many images over a base a refusal names.
const shownChildren = 3

// add records one more image over the base.
func (c *children) add(name string, hyperV bool) {
	c.n++
	c.hyperV = c.hyperV || hyperV
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
	todo := "fix the image the VM runs from (the top of the chain) instead"
	if kids.hyperV {
		todo = "merge the differencing disks into it first (Hyper-V: delete the checkpoint, which merges it, " +
			"or Edit Disk > Merge, or Merge-VHD), then fix the merged disk"
	}
	return &UnsupportedContainerError{Path: t.path, Format: "base of a snapshot chain",
		Reason: fmt.Sprintf("%s%s %s based on it, and writing it would corrupt them: %s; nothing was written",
			strings.Join(kids.first, ", "), more, isAre(kids.n), todo),
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
	if len(ents) > maxChainScan {
		return nil, fmt.Errorf("too many files (%d) to look through", len(ents))
	}
	// Names without case, for Hyper-V's Windows paths.
	folded := map[string][]string{}
	for _, de := range ents {
		k := strings.ToLower(de.Name())
		folded[k] = append(folded[k], de.Name())
	}
	idx := &childIndex{children: map[fileID]*children{}}
	start := time.Now()
	for _, de := range ents {
		if time.Since(start) > time.Minute {
			return nil, fmt.Errorf("too many files (%d) to look through", len(ents))
		}
		if !de.Type().IsRegular() {
			continue
		}
		p := filepath.Join(dir, de.Name())
		ref, ok := parentOf(p)
		if !ok {
			continue
		}
		added := map[fileID]bool{} // two spellings of one base count once
		for _, base := range ref.resolve(dir, folded) {
			bi, err := os.Stat(base)
			if err != nil {
				continue
			}
			if id, ok := identity(bi); ok && !added[id] {
				added[id] = true
				c := idx.children[id]
				if c == nil {
					c = &children{}
					idx.children[id] = c
				}
				c.add(p, ref.hyperV)
			}
		}
	}
	return idx, nil
}

// parentRef is the parent (backing file) an image names.
type parentRef struct {
	name    string // as recorded: a path, relative to the image's folder or absolute
	windows bool   // a Windows path (Hyper-V): backslashes, names compared without case
	hyperV  bool   // named by a differencing VHD or VHDX
}

// resolve returns the files of the file system ref may name, for an image
// in dir whose files, by lower-case name, are folded.
func (ref parentRef) resolve(dir string, folded map[string][]string) []string {
	name := ref.name
	if ref.windows {
		name = strings.ReplaceAll(name, `\`, "/")
		if isWindowsAbs(ref.name) {
			// A drive or UNC path means nothing here: look for its file
			// name next to the image.
			name = windowsBase(ref.name)
		}
	}
	if !filepath.IsAbs(name) {
		name = filepath.Join(dir, name)
	}
	if !ref.windows {
		return []string{name}
	}
	if _, err := os.Stat(name); err == nil || filepath.Dir(name) != dir {
		return []string{name}
	}
	var out []string
	for _, n := range folded[strings.ToLower(filepath.Base(name))] {
		out = append(out, filepath.Join(dir, n))
	}
	return out
}

// isWindowsAbs reports whether a Windows path is absolute: a drive
// ("C:\..."), a UNC or device path ("\\server\...", "\\?\C:\...") or
// rooted ("\dir\...").
func isWindowsAbs(p string) bool {
	return strings.HasPrefix(p, `\`) || strings.HasPrefix(p, "/") ||
		(len(p) >= 2 && p[1] == ':' && ('a' <= p[0]|0x20 && p[0]|0x20 <= 'z'))
}

// windowsBase is the last element of a Windows path.
func windowsBase(p string) string {
	if i := strings.LastIndexAny(p, `\/`); i >= 0 {
		return p[i+1:]
	}
	return p
}

// parentOf returns the backing file or parent an image names, if any.
func parentOf(path string) (parentRef, bool) {
	f, err := os.Open(path)
	if err != nil {
		return parentRef{}, false
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
			return parentRef{}, false
		}
		name := make([]byte, size)
		if n, _ := f.ReadAt(name, int64(off)); n != int(size) {
			return parentRef{}, false
		}
		return parentRef{name: string(name)}, true
	case isVMDKDescriptor(head):
		if d, err := parseVMDKDescriptor(head); err == nil {
			return parentRef{name: d.ParentHint}, d.ParentHint != ""
		}
		// A descriptor whose extents did not parse still names its parent.
		for _, line := range strings.Split(string(head), "\n") {
			if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok && strings.TrimSpace(k) == "parentFileNameHint" {
				name := strings.Trim(strings.TrimSpace(v), "\"")
				return parentRef{name: name}, name != ""
			}
		}
	case bytes.HasPrefix(head, []byte(vhdxSignature)):
		fi, err := f.Stat()
		if err != nil {
			return parentRef{}, false
		}
		v, err := readVHDX(f, fi.Size())
		if err != nil || !v.HasParent || v.LocatorType != vhdxLocatorTypeVHDX {
			return parentRef{}, false
		}
		ref := parentRef{name: v.Locator["relative_path"], windows: true, hyperV: true}
		if ref.name == "" {
			ref.name = windowsBase(v.Locator["absolute_win32_path"])
		}
		return ref, ref.name != ""
	case bytes.HasPrefix(head, []byte(vhdCookie)):
		ft, err := parseVHDFooter(head)
		if err != nil || ft.DiskType != vhdTypeDifferencing {
			return parentRef{}, false
		}
		fi, err := f.Stat()
		if err != nil {
			return parentRef{}, false
		}
		p, err := readVHDParent(f, fi.Size(), ft)
		if err != nil {
			return parentRef{}, false
		}
		ref := parentRef{name: p.Relative, windows: true, hyperV: true}
		if ref.name == "" {
			ref.name = windowsBase(p.Absolute)
		}
		if ref.name == "" {
			ref.name = windowsBase(p.Name)
		}
		return ref, ref.name != ""
	}
	return parentRef{}, false
}
