package disk

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// qemuImg runs qemu-img (Debian qemu-utils): the independent maker of the
// VHD and VMDK files these tests open, and the judge that reads them back.
func qemuImg(t *testing.T, args ...string) {
	t.Helper()
	if _, err := exec.LookPath("qemu-img"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("qemu-img is missing (Debian package qemu-utils, in scripts/test-packages.txt)")
		}
		t.Skip("qemu-img not installed (Debian package qemu-utils)")
	}
	if out, err := exec.Command("qemu-img", args...).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// patternDisk writes a raw disk of n bytes whose every 512-byte sector
// holds its own number, so a misplaced extent or an off-by-one shows.
func patternDisk(t *testing.T, path string, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	for s := 0; s < n/512; s++ {
		copy(b[s*512:], []byte(strings.Repeat(string(rune('a'+s%26)), 7)))
		b[s*512+8], b[s*512+9], b[s*512+10] = byte(s), byte(s>>8), byte(s>>16)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestContainersRoundTrip: qemu-img makes a fixed VHD, a monolithicFlat
// VMDK and a twoGbMaxExtentFlat VMDK of a patterned raw disk; OpenTarget
// reads the disk's bytes from each, a write through the Target lands where
// qemu-img reads it back (converted to raw), and the VHD footer and VMDK
// descriptor are byte-identical afterwards.
func TestContainersRoundTrip(t *testing.T) {
	dir := t.TempDir()
	raw := filepath.Join(dir, "raw.img")
	const size = 6 << 20
	want := patternDisk(t, raw, size)
	cases := []struct {
		name, file, fmt, opts string
		container             Container
		meta                  string // the file holding the container's metadata
	}{
		{"fixed VHD", "d.vhd", "vpc", "subformat=fixed,force_size=on", ContainerFixedVHD, "d.vhd"},
		{"monolithicFlat VMDK", "m.vmdk", "vmdk", "subformat=monolithicFlat", ContainerFlatVMDK, "m.vmdk"},
		{"twoGbMaxExtentFlat VMDK", "t.vmdk", "vmdk", "subformat=twoGbMaxExtentFlat", ContainerFlatVMDK, "t.vmdk"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			img := filepath.Join(dir, c.file)
			qemuImg(t, "convert", "-f", "raw", "-O", c.fmt, "-o", c.opts, raw, img)
			metaBefore := containerMeta(t, filepath.Join(dir, c.meta), c.container)
			tg, err := OpenTarget(img, true)
			if err != nil {
				t.Fatal(err)
			}
			if tg.Container() != c.container || tg.Size() != size {
				t.Fatalf("OpenTarget(%s): container %q size %d, want %q %d", c.file, tg.Container(), tg.Size(), c.container, size)
			}
			got := make([]byte, size)
			if _, err := tg.ReadAt(got, 0); err != nil && err != io.EOF {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("disk bytes read through the %s differ from the raw disk", c.name)
			}
			// A write across a sector boundary and one at the very end.
			w1, w2 := []byte("unbrick wrote this across sectors"), bytes.Repeat([]byte{0xEE}, 512)
			if _, err := tg.WriteAt(w1, 3*512-10); err != nil {
				t.Fatal(err)
			}
			if _, err := tg.WriteAt(w2, size-512); err != nil {
				t.Fatal(err)
			}
			if _, err := tg.WriteAt([]byte{1}, size); err == nil {
				t.Fatal("a write past the disk's end was accepted")
			}
			if err := tg.Sync(); err != nil {
				t.Fatal(err)
			}
			tg.Close()
			copy(want[3*512-10:], w1)
			copy(want[size-512:], w2)
			back := filepath.Join(dir, c.file+".raw")
			qemuImg(t, "convert", "-f", c.fmt, "-O", "raw", img, back)
			gotRaw, err := os.ReadFile(back)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(gotRaw, want) {
				t.Fatalf("qemu-img reads back other bytes than unbrick wrote through the %s", c.name)
			}
			if after := containerMeta(t, filepath.Join(dir, c.meta), c.container); !bytes.Equal(after, metaBefore) {
				t.Fatalf("the %s's metadata changed", c.name)
			}
			want = patternDisk(t, raw, size) // undo this case's writes in want
		})
	}
}

// containerMeta is the container's own metadata: a VHD's footer, a VMDK's
// descriptor file.
func containerMeta(t *testing.T, path string, c Container) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if c == ContainerFixedVHD {
		return b[len(b)-vhdFooterSize:]
	}
	return b
}

// TestContainersThroughQemuNBD: formats with their own block allocation
// are opened through qemu-nbd: the disk's bytes read as qemu-img says,
// a write lands where qemu-img reads it back; a streamOptimized VMDK is
// read but never written; a VMDK delta is opened through its chain.
func TestContainersThroughQemuNBD(t *testing.T) {
	needQemuNBD(t)
	dir := t.TempDir()
	raw := filepath.Join(dir, "raw.img")
	const size = 4 << 20
	want := patternDisk(t, raw, size)
	cases := []struct{ file, fmt, opts, format string }{
		{"q.qcow2", "qcow2", "", "qcow2"},
		{"x.vhdx", "vhdx", "", "VHDX"},
		{"d.vhd", "vpc", "subformat=dynamic,force_size=on", "dynamic VHD"},
		{"ms.vmdk", "vmdk", "subformat=monolithicSparse", "sparse VMDK"},
		{"ts.vmdk", "vmdk", "subformat=twoGbMaxExtentSparse", "SPARSE extents"},
		{"v.vdi", "vdi", "", "VirtualBox VDI"},
	}
	for _, c := range cases {
		img := filepath.Join(dir, c.file)
		args := []string{"convert", "-f", "raw", "-O", c.fmt}
		if c.opts != "" {
			args = append(args, "-o", c.opts)
		}
		qemuImg(t, append(args, raw, img)...)
		tg, err := OpenTarget(img, true)
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		if tg.Container() != ContainerQemuNBD || !strings.Contains(tg.Format(), c.format) || tg.Size() != size {
			t.Fatalf("%s: container %q format %q size %d", c.file, tg.Container(), tg.Format(), tg.Size())
		}
		got := make([]byte, size)
		if _, err := tg.ReadAt(got, 0); err != nil && err != io.EOF {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: bytes read through qemu-nbd differ", c.file)
		}
		w := []byte("written through qemu-nbd by unbrick")
		if _, err := tg.WriteAt(w, 1<<20-7); err != nil {
			t.Fatal(err)
		}
		if err := tg.Sync(); err != nil {
			t.Fatal(err)
		}
		if err := tg.Close(); err != nil {
			t.Fatalf("%s: Close: %v", c.file, err)
		}
		back := filepath.Join(dir, c.file+".raw")
		qemuImg(t, "convert", "-f", c.fmt, "-O", "raw", img, back)
		exp := append([]byte(nil), want...)
		copy(exp[1<<20-7:], w)
		if !bytes.Equal(fileBytes(t, back), exp) {
			t.Fatalf("%s: qemu-img reads back other bytes than were written", c.file)
		}
	}

	// streamOptimized: read-only only.
	so := filepath.Join(dir, "so.vmdk")
	qemuImg(t, "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized", raw, so)
	before := fileBytes(t, so)
	if _, err := OpenTarget(so, true); err == nil || !strings.Contains(err.Error(), "cannot be changed in place") {
		t.Fatalf("writable streamOptimized VMDK: %v", err)
	}
	tg, err := OpenTarget(so, false)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4096)
	tg.ReadAt(got, 0)
	tg.Close()
	if !bytes.Equal(got, want[:4096]) || !bytes.Equal(before, fileBytes(t, so)) {
		t.Fatal("streamOptimized VMDK: read wrong bytes or the file changed")
	}
}

func needQemuNBD(t *testing.T) {
	t.Helper()
	qemuImg(t, "--version")
	if _, err := exec.LookPath("qemu-nbd"); err != nil {
		t.Fatal("qemu-img without qemu-nbd: install qemu-utils")
	}
}

// TestSnapshotChain: the base of a qcow2 overlay is refused for writing,
// naming the overlay; the overlay is fixed through qemu-nbd, its base
// untouched.
func TestSnapshotChain(t *testing.T) {
	needQemuNBD(t)
	dir := t.TempDir()
	base := filepath.Join(dir, "base.raw")
	want := patternDisk(t, base, 2<<20)
	ov := filepath.Join(dir, "vm7.qcow2")
	qemuImg(t, "create", "-f", "qcow2", "-b", "base.raw", "-F", "raw", ov)
	_, err := OpenTarget(base, true)
	var ue *UnsupportedContainerError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), ov) || !strings.Contains(err.Error(), "top of the chain") {
		t.Fatalf("writable base: %v, want a refusal naming %s", err, ov)
	}
	if tg, err := OpenTarget(base, false); err != nil {
		t.Fatalf("read-only base: %v", err)
	} else {
		tg.Close()
	}
	tg, err := OpenTarget(ov, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tg.WriteAt([]byte("overlay"), 512); err != nil {
		t.Fatal(err)
	}
	if err := tg.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fileBytes(t, base), want) {
		t.Fatal("the base changed")
	}
	back := filepath.Join(dir, "back.raw")
	qemuImg(t, "convert", "-O", "raw", ov, back)
	if got := fileBytes(t, back); string(got[512:519]) != "overlay" || !bytes.Equal(got[1024:], want[1024:]) {
		t.Fatal("the overlay does not read back as base + the write")
	}
}

// TestNoQemuNBD: without qemu-nbd a qcow2 is refused by name, saying what
// to install and how to convert instead, and is not changed.
func TestNoQemuNBD(t *testing.T) {
	qemuImg(t, "--version")
	dir := t.TempDir()
	raw := filepath.Join(dir, "raw.img")
	patternDisk(t, raw, 1<<20)
	img := filepath.Join(dir, "q.qcow2")
	qemuImg(t, "convert", "-f", "raw", "-O", "qcow2", raw, img)
	before := fileBytes(t, img)
	t.Setenv("PATH", t.TempDir())
	_, err := OpenTarget(img, true)
	var ue *UnsupportedContainerError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "qcow2") || !strings.Contains(err.Error(), "qemu-utils") || !strings.Contains(err.Error(), "qemu-img convert") {
		t.Fatalf("without qemu-nbd: %v", err)
	}
	if !bytes.Equal(before, fileBytes(t, img)) {
		t.Fatal("the image changed")
	}
}

func fileBytes(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestVMDKDescriptorErrors: damaged descriptors name the line and the
// problem; an extent file shorter than the descriptor says is cut short.
func TestVMDKDescriptorErrors(t *testing.T) {
	dir := t.TempDir()
	flat := filepath.Join(dir, "a-flat.vmdk")
	os.WriteFile(flat, make([]byte, 1<<20), 0o644)
	cases := []struct{ desc, want string }{
		{"# Disk DescriptorFile\ncreateType=\"monolithicFlat\"\n", "names no extent"},
		{"# Disk DescriptorFile\nRW 2048 FLAT \"missing.vmdk\" 0\n", "line 2"},
		{"# Disk DescriptorFile\nRW 4096 FLAT \"a-flat.vmdk\" 0\n", "cut short"},
		{"# Disk DescriptorFile\nRW 2048 FLAT \"a-flat.vmdk\" 1\n", "cut short"},
		{"# Disk DescriptorFile\nRW -5 FLAT \"a-flat.vmdk\" 0\n", "not a sector count"},
		{"# Disk DescriptorFile\nXX 2048 FLAT \"a-flat.vmdk\" 0\n", "access"},
		{"# Disk DescriptorFile\nRDONLY 2048 FLAT \"a-flat.vmdk\" 0\n", "RDONLY"},
		{"# Disk DescriptorFile\nRW 2048 FLAT \"a-flat.vmdk\" zz\n", "offset"},
		{"# Disk DescriptorFile\ngarbage line\n", "line 2"},
	}
	for i, c := range cases {
		p := filepath.Join(dir, "d.vmdk")
		os.WriteFile(p, []byte(c.desc), 0o644)
		tg, err := OpenTarget(p, true)
		if err == nil {
			tg.Close()
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("case %d %q: %v, want an error containing %q", i, c.desc, err, c.want)
		}
	}
	// Two extents, the second at an offset in its file: laid end to end.
	os.WriteFile(filepath.Join(dir, "b-flat.vmdk"), bytes.Repeat([]byte{7}, 3*512), 0o644)
	p := filepath.Join(dir, "two.vmdk")
	os.WriteFile(p, []byte("# Disk DescriptorFile\nRW 2048 FLAT \"a-flat.vmdk\" 0\nRW 2 FLAT \"b-flat.vmdk\" 1\n"), 0o644)
	tg, err := OpenTarget(p, false)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	if tg.Size() != 1<<20+1024 {
		t.Fatalf("size %d, want %d", tg.Size(), 1<<20+1024)
	}
	b := make([]byte, 4)
	if _, err := tg.ReadAt(b, 1<<20-2); err != nil || !bytes.Equal(b, []byte{0, 0, 7, 7}) {
		t.Fatalf("read across the extents: % x, %v", b, err)
	}
}

// TestFixedVHDFooterChecked: a damaged footer checksum, or a footer whose
// size disagrees with the file, is an error, not a raw disk.
func TestFixedVHDFooterChecked(t *testing.T) {
	dir := t.TempDir()
	raw := filepath.Join(dir, "raw.img")
	patternDisk(t, raw, 2<<20)
	img := filepath.Join(dir, "f.vhd")
	qemuImg(t, "convert", "-f", "raw", "-O", "vpc", "-o", "subformat=fixed,force_size=on", raw, img)
	good := fileBytes(t, img)
	bad := append([]byte(nil), good...)
	bad[len(bad)-vhdFooterSize+50]++ // current size
	os.WriteFile(img, bad, 0o644)
	if _, err := OpenTarget(img, false); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("damaged footer: %v, want a checksum error", err)
	}
	padded := append(append(append([]byte(nil), good[:len(good)-vhdFooterSize]...), make([]byte, 512)...), good[len(good)-vhdFooterSize:]...)
	os.WriteFile(img, padded, 0o644)
	if _, err := OpenTarget(img, false); err == nil || !strings.Contains(err.Error(), "footer says the disk is") {
		t.Fatalf("footer size mismatch: %v", err)
	}
}
