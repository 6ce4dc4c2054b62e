package image

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// fakeModule returns a minimal ELF64 relocatable object whose only content
// is a .modinfo section holding kv ("depends=a,b", "vermagic=..."), as
// modpost lays it out: NUL-separated strings.
func fakeModule(kv ...string) []byte {
	modinfo := []byte(strings.Join(kv, "\x00") + "\x00")
	shstr := []byte("\x00.modinfo\x00.shstrtab\x00")
	const ehsize, shentsize = 64, 64
	modOff := int64(ehsize)
	strOff := modOff + int64(len(modinfo))
	shOff := (strOff + int64(len(shstr)) + 7) &^ 7
	var b bytes.Buffer
	le := binary.LittleEndian
	ident := []byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	b.Write(ident)
	binary.Write(&b, le, uint16(1))  // ET_REL
	binary.Write(&b, le, uint16(62)) // EM_X86_64
	binary.Write(&b, le, uint32(1))
	binary.Write(&b, le, uint64(0)) // entry
	binary.Write(&b, le, uint64(0)) // phoff
	binary.Write(&b, le, uint64(shOff))
	binary.Write(&b, le, uint32(0))
	binary.Write(&b, le, uint16(ehsize))
	binary.Write(&b, le, uint16(0)) // phentsize
	binary.Write(&b, le, uint16(0)) // phnum
	binary.Write(&b, le, uint16(shentsize))
	binary.Write(&b, le, uint16(3)) // shnum
	binary.Write(&b, le, uint16(2)) // shstrndx
	b.Write(modinfo)
	b.Write(shstr)
	for int64(b.Len()) < shOff {
		b.WriteByte(0)
	}
	sh := func(name, typ uint32, off, size int64) {
		binary.Write(&b, le, name)
		binary.Write(&b, le, typ)
		binary.Write(&b, le, uint64(0)) // flags
		binary.Write(&b, le, uint64(0)) // addr
		binary.Write(&b, le, uint64(off))
		binary.Write(&b, le, uint64(size))
		binary.Write(&b, le, uint32(0))
		binary.Write(&b, le, uint32(0))
		binary.Write(&b, le, uint64(1))
		binary.Write(&b, le, uint64(0))
	}
	sh(0, 0, 0, 0)
	sh(1, 1, modOff, int64(len(modinfo))) // .modinfo, PROGBITS
	sh(10, 3, strOff, int64(len(shstr)))  // .shstrtab, STRTAB
	return b.Bytes()
}

// fakeBzImage returns a file with a Linux boot-protocol setup header whose
// version string is version.
func fakeBzImage(version string) []byte {
	b := make([]byte, 0x400)
	copy(b[0x202:], "HdrS")
	binary.LittleEndian.PutUint16(b[0x206:], 0x20f)
	binary.LittleEndian.PutUint16(b[0x20E:], 0x100) // string at 0x300
	copy(b[0x300:], version+"\x00")
	return append(b, bytes.Repeat([]byte{0x90}, 4096)...)
}

const testRelease = "6.1.0-99-amd64"

// fakeBootChain lays out a boot chain directory like fetch-bootchain.sh
// does, with small stand-in EFI binaries, a fake kernel and fake modules.
// Modules: a (depends b), b, c (softdep pre: d), d, vfat (depends fat), fat.
func fakeBootChain(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	vm := "vermagic=" + testRelease + " SMP preempt mod_unload modversions "
	files := map[string][]byte{
		"MANIFEST":                                          []byte("# test\nkernel_version=" + testRelease + "\n"),
		"usr/lib/shim/shimx64.efi.signed":                   bytes.Repeat([]byte("S"), 300_000),
		"usr/lib/shim/mmx64.efi.signed":                     bytes.Repeat([]byte("M"), 200_000),
		"usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed": bytes.Repeat([]byte("G"), 500_000),
		"boot/vmlinuz-" + testRelease:                       fakeBzImage(testRelease + " (test@example) #1 SMP"),
		"boot/config-" + testRelease:                        []byte("CONFIG_FONT_TER16x32=y\n"),
		"lib/modules/" + testRelease + "/modules.builtin":   []byte("kernel/drivers/base/builtin_one.ko\n"),
	}
	mods := map[string][]string{
		"drivers/a.ko":     {"name=a", "depends=b"},
		"drivers/b.ko":     {"name=b", "depends="},
		"drivers/c.ko":     {"name=c", "depends=", "softdep=pre: d post: nothere"},
		"drivers/d.ko":     {"name=d", "depends="},
		"fs/fat/vfat.ko":   {"name=vfat", "depends=fat"},
		"fs/fat/fat.ko":    {"name=fat", "depends="},
		"drivers/usb-x.ko": {"name=usb_x", "depends=b"},
	}
	for p, kv := range mods {
		files["lib/modules/"+testRelease+"/kernel/"+p] = fakeModule(append(kv, vm)...)
	}
	for p, data := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func regexpLine(text, re string) bool {
	return regexp.MustCompile("(?m)" + re).MatchString(text)
}
