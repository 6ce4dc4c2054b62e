package virtdisk

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf16"
)

// A differencing disk (a Hyper-V checkpoint, NAME_GUID.avhdx) records its
// parent's path; writing the parent changes what the child reads through
// it and corrupts the child. Children finds such disks in the parent's
// folder, which is where Hyper-V keeps checkpoints by default.
//
// VHDX ([MS-VHDX] 2.2.3, 2.6): the region table at 192 KiB (a copy at
// 256 KiB) locates the metadata region; the metadata table at its start
// locates the File Parameters item (flag HasParent, bit 1 of the second
// uint32) and the Parent Locator item: a 20-byte header (LocatorType GUID,
// Reserved, KeyValueCount uint16 at 18) then 12-byte entries (KeyOffset,
// ValueOffset uint32; KeyLength, ValueLength uint16), offsets relative to
// the item, strings UTF-16LE. The keys naming the parent are
// relative_path, volume_path and absolute_win32_path.
//
// VHD ("Virtual Hard Disk Image Format Specification"): the 512-byte
// footer ("conectix", big-endian fields) ends the file; Disk Type 4 at 60
// is a differencing disk; Data Offset at 16 locates the dynamic disk
// header ("cxsparse"), whose Parent Unicode Name (UTF-16BE, 512 bytes at
// 64) and parent locator entries (8 of 24 bytes at 576: platform code
// "W2ru" relative or "W2ku" absolute, data length at 8, data offset at 16;
// data UTF-16LE) name the parent.

// maxFolderScan bounds how many names of one folder are looked at.
const maxFolderScan = 100000

// Children returns the differencing disks (.avhdx, .vhdx, .avhd, .vhd) in
// path's folder that name path as their parent, sorted. A disk of that
// kind that cannot be read, or whose parent cannot be made out, is
// returned too, with " (unreadable: ...)" after its path: unbrick cannot
// rule it out. A parent is matched by its relative path (resolved in the
// child's folder) or by the file name of its absolute path, without case,
// as Windows compares names.
func Children(path string) ([]string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("differencing disk check for %s: %w", path, err)
	}
	dir := filepath.Dir(abs)
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("differencing disk check: list the folder of %s: %w (is the path right, and readable?)", path, err)
	}
	names, err := f.Readdirnames(maxFolderScan)
	f.Close()
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("differencing disk check: list %s: %w", dir, err)
	}
	if len(names) >= maxFolderScan {
		return nil, fmt.Errorf("differencing disk check: %s holds more than %d files; move %s to a folder of its own and run again", dir, maxFolderScan, filepath.Base(abs))
	}
	var out []string
	for _, name := range names {
		child := filepath.Join(dir, name)
		if !IsVirtualDiskPath(name) || strings.EqualFold(child, abs) {
			continue
		}
		if fi, err := os.Stat(child); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		refs, err := parentRefsOfFile(child)
		if err != nil {
			out = append(out, fmt.Sprintf("%s (unreadable: %v)", child, err))
			continue
		}
		if namesParent(refs, dir, abs) {
			out = append(out, child)
		}
	}
	sort.Strings(out)
	return out, nil
}

// namesParent reports whether one of a child's parent references (as
// Windows paths) names the file abs; the child lives in dir.
func namesParent(refs []parentRef, dir, abs string) bool {
	for _, r := range refs {
		if r.path == "" {
			continue
		}
		if r.relative && !isWindowsAbs(r.path) {
			p := filepath.Join(dir, filepath.FromSlash(strings.ReplaceAll(r.path, `\`, "/")))
			if strings.EqualFold(filepath.Clean(p), filepath.Clean(abs)) {
				return true
			}
			continue
		}
		if strings.EqualFold(windowsBase(r.path), filepath.Base(abs)) {
			return true
		}
	}
	return false
}

// parentRef is one way a differencing disk names its parent.
type parentRef struct {
	path     string
	relative bool // relative to the child's folder
}

// isWindowsAbs: a drive path (C:\...), UNC or device path (\\...) or a
// rooted path (\...).
func isWindowsAbs(p string) bool {
	return strings.HasPrefix(p, `\`) || strings.HasPrefix(p, "/") ||
		len(p) >= 2 && p[1] == ':'
}

// windowsBase is the last element of a Windows path.
func windowsBase(p string) string {
	return p[strings.LastIndexAny(p, `\/`)+1:]
}

// parentRefsOfFile reads a VHDX or VHD file's parent references; none
// for a disk that is not a differencing disk.
func parentRefsOfFile(path string) ([]parentRef, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return parentRefs(f, fi.Size())
}

// parentRefs reads the parent references of a VHDX or VHD of the given
// size. It never panics on damaged input: every offset is checked.
func parentRefs(r io.ReaderAt, size int64) ([]parentRef, error) {
	head, err := readAt(r, size, 0, 8)
	if err != nil {
		return nil, err
	}
	switch {
	case string(head) == "vhdxfile":
		return vhdxParentRefs(r, size)
	case size >= 512:
		foot, err := readAt(r, size, size-512, 512)
		if err != nil {
			return nil, err
		}
		if string(foot[:8]) != "conectix" {
			foot = nil
		}
		if foot == nil && string(head) == "conectix" { // footer copy at the start of a dynamic disk
			foot, _ = readAt(r, size, 0, 512)
		}
		if foot == nil {
			return nil, errors.New("neither a VHDX (no \"vhdxfile\" signature) nor a VHD (no \"conectix\" footer)")
		}
		return vhdParentRefs(r, size, foot)
	}
	return nil, errors.New("too short for a VHD or VHDX")
}

// readAt reads n bytes at off, refusing spans past size.
func readAt(r io.ReaderAt, size, off int64, n int) ([]byte, error) {
	if off < 0 || n < 0 || off > size || int64(n) > size-off {
		return nil, fmt.Errorf("%d bytes at offset %d lie past the end of the file (%d bytes): cut short?", n, off, size)
	}
	b := make([]byte, n)
	if _, err := r.ReadAt(b, off); err != nil && !(errors.Is(err, io.EOF) && len(b) == n) {
		return nil, fmt.Errorf("read %d bytes at offset %d: %w", n, off, err)
	}
	return b, nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// GUIDs of MS-VHDX, in their binary form.
var (
	guidMetadataRegion = guidBytes(guid{0x8B7CA206, 0x4790, 0x4B9A, [8]byte{0xB8, 0xFE, 0x57, 0x5F, 0x05, 0x0F, 0x88, 0x6E}})
	guidFileParameters = guidBytes(guid{0xCAA16737, 0xFA36, 0x4D43, [8]byte{0xB3, 0xB6, 0x33, 0xF0, 0xAA, 0x44, 0xE7, 0x6B}})
	guidParentLocator  = guidBytes(guid{0xA8D35F2D, 0xB30B, 0x454D, [8]byte{0xAB, 0xF7, 0xD3, 0xD8, 0x48, 0x34, 0xAB, 0x0C}})
)

// guidBytes is a GUID's on-disk form: Data1-3 little-endian, Data4 as is.
func guidBytes(g guid) [16]byte {
	var b [16]byte
	binary.LittleEndian.PutUint32(b[0:], g.Data1)
	binary.LittleEndian.PutUint16(b[4:], g.Data2)
	binary.LittleEndian.PutUint16(b[6:], g.Data3)
	copy(b[8:], g.Data4[:])
	return b
}

// vhdxParentRefs reads a VHDX's parent locator (see the comment above).
func vhdxParentRefs(r io.ReaderAt, size int64) ([]parentRef, error) {
	var mdOff, mdLen int64
	var rtErr error
	for _, at := range []int64{192 << 10, 256 << 10} {
		rt, err := readAt(r, size, at, 64<<10)
		if err == nil && string(rt[:4]) != "regi" {
			err = fmt.Errorf("region table at %d: signature %q, want \"regi\"", at, rt[:4])
		}
		if err == nil {
			sum := binary.LittleEndian.Uint32(rt[4:])
			c := crc32.Update(0, castagnoli, rt[:4])
			c = crc32.Update(c, castagnoli, []byte{0, 0, 0, 0})
			if c = crc32.Update(c, castagnoli, rt[8:]); c != sum {
				err = fmt.Errorf("region table at %d: checksum %#08x, its bytes give %#08x", at, sum, c)
			}
		}
		if err != nil {
			rtErr = errors.Join(rtErr, err)
			continue
		}
		n := binary.LittleEndian.Uint32(rt[8:])
		if n > 2047 {
			rtErr = errors.Join(rtErr, fmt.Errorf("region table at %d: %d entries, at most 2047", at, n))
			continue
		}
		for i := range int(n) {
			e := rt[16+32*i:][:32]
			if [16]byte(e[:16]) == guidMetadataRegion {
				mdOff, mdLen = int64(binary.LittleEndian.Uint64(e[16:])), int64(binary.LittleEndian.Uint32(e[24:]))
			}
		}
		if mdLen == 0 {
			rtErr = errors.Join(rtErr, fmt.Errorf("region table at %d: no metadata region", at))
			continue
		}
		rtErr = nil
		break
	}
	if rtErr != nil {
		return nil, fmt.Errorf("VHDX: %w", rtErr)
	}
	mt, err := readAt(r, size, mdOff, 64<<10)
	if err != nil {
		return nil, fmt.Errorf("VHDX metadata table: %w", err)
	}
	if string(mt[:8]) != "metadata" {
		return nil, fmt.Errorf("VHDX metadata table at %d: signature %q, want \"metadata\"", mdOff, mt[:8])
	}
	n := int(binary.LittleEndian.Uint16(mt[10:]))
	if n > 2047 {
		return nil, fmt.Errorf("VHDX metadata table at %d: %d entries, at most 2047", mdOff, n)
	}
	var params, locator []byte
	for i := range n {
		e := mt[32+32*i:][:32]
		id := [16]byte(e[:16])
		if id != guidFileParameters && id != guidParentLocator || binary.LittleEndian.Uint32(e[24:])&1 != 0 {
			continue // another item, or user metadata
		}
		off, l := int64(binary.LittleEndian.Uint32(e[16:])), int64(binary.LittleEndian.Uint32(e[20:]))
		if l > 1<<20 || off+l > mdLen {
			return nil, fmt.Errorf("VHDX metadata table entry %d: item of %d bytes at %d does not fit in the %d-byte metadata region", i, l, off, mdLen)
		}
		b, err := readAt(r, size, mdOff+off, int(l))
		if err != nil {
			return nil, fmt.Errorf("VHDX metadata item %d: %w", i, err)
		}
		if id == guidFileParameters {
			params = b
		} else {
			locator = b
		}
	}
	if len(params) < 8 {
		return nil, errors.New("VHDX: no File Parameters metadata item")
	}
	if binary.LittleEndian.Uint32(params[4:])&2 == 0 {
		return nil, nil // HasParent clear: not a differencing disk
	}
	if len(locator) < 20 {
		return nil, errors.New("VHDX: HasParent is set but the Parent Locator item is missing or shorter than its 20-byte header")
	}
	kvs := int(binary.LittleEndian.Uint16(locator[18:]))
	if 20+12*kvs > len(locator) {
		return nil, fmt.Errorf("VHDX parent locator: %d entries do not fit in %d bytes", kvs, len(locator))
	}
	str := func(off uint32, l uint16) (string, bool) {
		if off == 0 || l%2 != 0 || uint64(off)+uint64(l) > uint64(len(locator)) {
			return "", false
		}
		return utf16String(locator[off:][:l], binary.LittleEndian), true
	}
	var refs []parentRef
	for i := range kvs {
		e := locator[20+12*i:][:12]
		k, ok1 := str(binary.LittleEndian.Uint32(e[0:]), binary.LittleEndian.Uint16(e[8:]))
		v, ok2 := str(binary.LittleEndian.Uint32(e[4:]), binary.LittleEndian.Uint16(e[10:]))
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("VHDX parent locator entry %d: key or value lies outside the item", i)
		}
		switch k {
		case "relative_path":
			refs = append(refs, parentRef{path: v, relative: true})
		case "absolute_win32_path", "volume_path":
			refs = append(refs, parentRef{path: v})
		}
	}
	if len(refs) == 0 {
		return nil, errors.New("VHDX parent locator names no parent path")
	}
	return refs, nil
}

// vhdParentRefs reads a differencing VHD's parent names from its footer
// foot (see the comment above); none for other VHDs.
func vhdParentRefs(r io.ReaderAt, size int64, foot []byte) ([]parentRef, error) {
	if binary.BigEndian.Uint32(foot[60:]) != 4 {
		return nil, nil // fixed (2) or dynamic (3)
	}
	off := binary.BigEndian.Uint64(foot[16:])
	if off > uint64(size) {
		return nil, fmt.Errorf("VHD footer: Data Offset %d past the end of the file", off)
	}
	dh, err := readAt(r, size, int64(off), 1024)
	if err != nil {
		return nil, fmt.Errorf("VHD dynamic disk header: %w", err)
	}
	if string(dh[:8]) != "cxsparse" {
		return nil, fmt.Errorf("VHD dynamic disk header at %d: cookie %q, want \"cxsparse\"", off, dh[:8])
	}
	var refs []parentRef
	if name := utf16String(dh[64:][:512], binary.BigEndian); name != "" {
		refs = append(refs, parentRef{path: name})
	}
	for i := range 8 {
		e := dh[576+24*i:][:24]
		code := string(e[:4])
		if code != "W2ru" && code != "W2ku" {
			continue
		}
		l := binary.BigEndian.Uint32(e[8:])
		doff := binary.BigEndian.Uint64(e[16:])
		if l > 65536 || doff > uint64(size) {
			continue
		}
		b, err := readAt(r, size, int64(doff), int(l))
		if err != nil {
			continue
		}
		refs = append(refs, parentRef{path: utf16String(b, binary.LittleEndian), relative: code == "W2ru"})
	}
	if len(refs) == 0 {
		return nil, errors.New("differencing VHD names no parent")
	}
	return refs, nil
}

// utf16String decodes UTF-16 in byte order bo up to the first NUL, and
// drops a leading ".\" Hyper-V writes in relative paths.
func utf16String(b []byte, bo binary.ByteOrder) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		c := bo.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	s := string(utf16.Decode(u))
	return strings.TrimPrefix(strings.TrimPrefix(s, `.\`), "./")
}
