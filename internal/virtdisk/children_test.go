package virtdisk

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"
)

// makeVHDX writes the parts of a VHDX that Children reads, laid out as
// [MS-VHDX] says (independently of the parser: offsets written out here):
// the file type identifier, a region table at 192 KiB with its CRC-32C,
// a metadata region at 1 MiB with File Parameters and, when locator is not
// nil, HasParent and a Parent Locator of those key/value pairs.
func makeVHDX(t testing.TB, locator [][2]string) []byte {
	b := make([]byte, 2<<20)
	copy(b, "vhdxfile")
	rt := b[192<<10:][:64<<10]
	copy(rt, "regi")
	binary.LittleEndian.PutUint32(rt[8:], 1)
	// Metadata region GUID 8B7CA206-4790-4B9A-B8FE-575F050F886E.
	copy(rt[16:], []byte{0x06, 0xA2, 0x7C, 0x8B, 0x90, 0x47, 0x9A, 0x4B, 0xB8, 0xFE, 0x57, 0x5F, 0x05, 0x0F, 0x88, 0x6E})
	binary.LittleEndian.PutUint64(rt[32:], 1<<20)
	binary.LittleEndian.PutUint32(rt[40:], 1<<20)
	binary.LittleEndian.PutUint32(rt[4:], crc32.Checksum(rt, crc32.MakeTable(crc32.Castagnoli)))
	md := b[1<<20:]
	copy(md, "metadata")
	entry := func(i int, id []byte, off, length uint32) {
		e := md[32+32*i:]
		copy(e, id)
		binary.LittleEndian.PutUint32(e[16:], off)
		binary.LittleEndian.PutUint32(e[20:], length)
		binary.LittleEndian.PutUint32(e[24:], 4) // IsRequired
	}
	// File Parameters CAA16737-FA36-4D43-B3B6-33F0AA44E76B at 64 KiB.
	entry(0, []byte{0x37, 0x67, 0xA1, 0xCA, 0x36, 0xFA, 0x43, 0x4D, 0xB3, 0xB6, 0x33, 0xF0, 0xAA, 0x44, 0xE7, 0x6B}, 64<<10, 8)
	binary.LittleEndian.PutUint32(md[64<<10:], 32<<20)
	n := 1
	if locator != nil {
		binary.LittleEndian.PutUint32(md[64<<10+4:], 2) // HasParent
		var item bytes.Buffer
		item.Write(make([]byte, 20+12*len(locator)))
		ib := func() []byte { return item.Bytes() }
		binary.LittleEndian.PutUint16(ib()[18:], uint16(len(locator)))
		for i, kv := range locator {
			var offs [2]uint32
			var lens [2]uint16
			for j, s := range kv {
				offs[j] = uint32(item.Len())
				for _, u := range utf16.Encode([]rune(s)) {
					binary.Write(&item, binary.LittleEndian, u)
				}
				lens[j] = uint16(item.Len()) - uint16(offs[j])
			}
			e := ib()[20+12*i:]
			binary.LittleEndian.PutUint32(e[0:], offs[0])
			binary.LittleEndian.PutUint32(e[4:], offs[1])
			binary.LittleEndian.PutUint16(e[8:], lens[0])
			binary.LittleEndian.PutUint16(e[10:], lens[1])
		}
		// Parent Locator A8D35F2D-B30B-454D-ABF7-D3D84834AB0C at 128 KiB.
		entry(1, []byte{0x2D, 0x5F, 0xD3, 0xA8, 0x0B, 0xB3, 0x4D, 0x45, 0xAB, 0xF7, 0xD3, 0xD8, 0x48, 0x34, 0xAB, 0x0C}, 128<<10, uint32(item.Len()))
		copy(md[128<<10:], item.Bytes())
		n = 2
	}
	binary.LittleEndian.PutUint16(md[10:], uint16(n))
	return b
}

// makeDiffVHD writes a differencing VHD (Virtual Hard Disk Image Format
// Specification: footer copy at 0, dynamic header at 512, footer at the
// end) whose Parent Unicode Name is name and whose W2ru locator is rel.
func makeDiffVHD(name, rel string) []byte {
	b := make([]byte, 4096)
	foot := make([]byte, 512)
	copy(foot, "conectix")
	binary.BigEndian.PutUint64(foot[16:], 512) // Data Offset
	binary.BigEndian.PutUint32(foot[60:], 4)   // Disk Type: differencing
	copy(b, foot)
	copy(b[len(b)-512:], foot)
	dh := b[512:]
	copy(dh, "cxsparse")
	for i, u := range utf16.Encode([]rune(name)) {
		binary.BigEndian.PutUint16(dh[64+2*i:], u)
	}
	loc := dh[576:]
	copy(loc, "W2ru")
	u := utf16.Encode([]rune(rel))
	binary.BigEndian.PutUint32(loc[8:], uint32(2*len(u)))
	binary.BigEndian.PutUint64(loc[16:], 2048)
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2048+2*i:], c)
	}
	return b
}

func TestChildren(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	base := write("Base.vhdx", makeVHDX(t, nil))
	other := write("other.vhdx", makeVHDX(t, nil))
	rel := write("Base_6F3C.avhdx", makeVHDX(t, [][2]string{{"parent_linkage", "{6F3C}"}, {"relative_path", `.\base.VHDX`}}))
	abs := write("abs_1.avhdx", makeVHDX(t, [][2]string{{"absolute_win32_path", `E:\Moved\BASE.vhdx`}}))
	write("elsewhere.avhdx", makeVHDX(t, [][2]string{{"relative_path", `..\x\Base.vhdx`}}))
	write("other_1.avhdx", makeVHDX(t, [][2]string{{"relative_path", "other.vhdx"}, {"absolute_win32_path", `D:\VMs\other.vhdx`}}))
	write("notes.txt", []byte("Base.vhdx"))
	junk := write("broken.avhdx", []byte("vhdxfile, then nothing"))

	got, err := Children(base)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{rel, abs, junk} // sorted by bytes: upper case first
	if len(got) != len(want) {
		t.Fatalf("Children(Base.vhdx) = %q, want %q (broken.avhdx flagged unreadable)", got, want)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("child %d = %q, want %q", i, got[i], want[i])
		}
	}
	if !strings.Contains(got[2], "unreadable") {
		t.Errorf("broken child not marked unreadable: %q", got[2])
	}

	os.Remove(junk)
	got, err = Children(other)
	if err != nil || len(got) != 1 || got[0] != filepath.Join(dir, "other_1.avhdx") {
		t.Errorf("Children(other.vhdx) = %q, %v", got, err)
	}
	// A child is not its own child; a checkpoint with no children has none.
	if got, err := Children(rel); err != nil || len(got) != 0 {
		t.Errorf("Children(checkpoint) = %q, %v; want none", got, err)
	}

	// VHD: Parent Unicode Name (base name match) and W2ru.
	vbase := write("w7.vhd", makeDiffVHD("", "")) // overwritten below by a non-differencing VHD
	foot := make([]byte, 512)
	copy(foot, "conectix")
	binary.BigEndian.PutUint32(foot[60:], 2) // fixed
	os.WriteFile(vbase, append(make([]byte, 4096), foot...), 0o644)
	c1 := write("w7_a.avhd", makeDiffVHD("W7.vhd", ""))
	c2 := write("w7_b.avhd", makeDiffVHD("", `.\w7.vhd`))
	write("w7_c.avhd", makeDiffVHD("", `..\w7.vhd`))
	got, err = Children(vbase)
	if err != nil || !slices.Equal(got, []string{c1, c2}) {
		t.Errorf("Children(w7.vhd) = %q, %v; want %q", got, err, []string{c1, c2})
	}
	if _, err := Children(filepath.Join(dir, "no-such-folder", "x.vhdx")); err == nil {
		t.Errorf("a missing folder was not an error")
	}
}

// TestParentRefsQemuImg: VHDX and VHD files written by qemu-img (an
// independent writer) parse, and are not differencing disks.
func TestParentRefsQemuImg(t *testing.T) {
	if _, err := exec.LookPath("qemu-img"); err != nil {
		t.Skip("qemu-img not installed (Debian package qemu-utils)")
	}
	dir := t.TempDir()
	for _, f := range []struct{ format, name string }{{"vhdx", "q.vhdx"}, {"vpc", "q.vhd"}} {
		p := filepath.Join(dir, f.name)
		if out, err := exec.Command("qemu-img", "create", "-q", "-f", f.format, p, "64M").CombinedOutput(); err != nil {
			t.Fatalf("qemu-img: %v\n%s", err, out)
		}
		refs, err := parentRefsOfFile(p)
		if err != nil || len(refs) != 0 {
			t.Errorf("%s: refs %v, err %v; want a non-differencing disk", f.name, refs, err)
		}
	}
}

// FuzzParentRefs: damaged files never panic.
func FuzzParentRefs(f *testing.F) {
	f.Add(makeVHDX(f, [][2]string{{"relative_path", "a.vhdx"}})[:1<<20+1024])
	f.Add(makeDiffVHD("a.vhd", `.\a.vhd`))
	f.Add([]byte("vhdxfile"))
	tmpl := makeVHDX(f, [][2]string{{"relative_path", "a.vhdx"}})
	f.Fuzz(func(t *testing.T, b []byte) {
		// Put the fuzzed bytes where the parser looks: at the start, the
		// region table and the metadata region of a 2 MiB file.
		img := bytes.Clone(tmpl)
		copy(img, b)
		if len(b) > 8 {
			copy(img[192<<10+16:], b[8:]) // region entries (checksum then fails: parsed from the copy or refused)
			copy(img[1<<20:], b[8:])
			copy(img[1<<20+128<<10:], b)
		}
		parentRefs(bytes.NewReader(img), int64(len(img)))
		parentRefs(bytes.NewReader(b), int64(len(b)))
	})
}
