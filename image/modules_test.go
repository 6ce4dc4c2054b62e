package image

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseModInfo(t *testing.T) {
	mi, err := parseModInfo(bytes.NewReader(fakeModule("name=usb_storage", "depends=usbcore,scsi-mod", "softdep=pre: ehci-pci post: x", "vermagic=6.1.0-56-amd64 SMP ")))
	if err != nil {
		t.Fatal(err)
	}
	if mi.Name != "usb_storage" || strings.Join(mi.Depends, ",") != "usbcore,scsi_mod" ||
		strings.Join(mi.SoftPre, ",") != "ehci_pci" || strings.Join(mi.SoftPost, ",") != "x" ||
		mi.KernelRelease() != "6.1.0-56-amd64" {
		t.Fatalf("parsed %+v", mi)
	}
}

func TestParseModInfoBadInput(t *testing.T) {
	for name, data := range map[string][]byte{
		"empty":     nil,
		"not ELF":   []byte("hello world, this is not an ELF file at all........................................"),
		"truncated": fakeModule("name=x")[:70],
	} {
		if _, err := parseModInfo(bytes.NewReader(data)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func FuzzParseModInfo(f *testing.F) {
	f.Add(fakeModule("name=a", "depends=b", "vermagic=1 SMP"))
	f.Add([]byte("\x7fELF"))
	f.Fuzz(func(t *testing.T, data []byte) {
		parseModInfo(bytes.NewReader(data)) // must not panic
	})
}

func TestResolveModulesOrder(t *testing.T) {
	bc := fakeBootChain(t)
	set, err := ResolveModules(filepath.Join(bc, "lib/modules", testRelease), testRelease,
		[]string{"a", "c", "vfat", "usb-x", "builtin_one", "not_a_module"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range set.Ordered {
		names = append(names, m.Name)
	}
	if got, want := strings.Join(names, " "), "b a d c fat vfat usb_x"; got != want {
		t.Errorf("order %q, want %q", got, want)
	}
	if strings.Join(set.Builtin, ",") != "builtin_one" || strings.Join(set.Missing, ",") != "not_a_module" ||
		strings.Join(set.SoftSkip, ",") != "nothere" {
		t.Errorf("builtin %v missing %v softskip %v", set.Builtin, set.Missing, set.SoftSkip)
	}
}

func TestResolveModulesMismatch(t *testing.T) {
	bc := fakeBootChain(t)
	modDir := filepath.Join(bc, "lib/modules", testRelease)
	// A module from another kernel build.
	other := fakeModule("name=b", "depends=", "vermagic=6.1.0-55-amd64 SMP ")
	if err := os.WriteFile(filepath.Join(modDir, "kernel/drivers/b.ko"), other, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ResolveModules(modDir, testRelease, []string{"a"})
	if err == nil || !strings.Contains(err.Error(), "kernel and modules must come from the same linux-image package") {
		t.Fatalf("err = %v", err)
	}
	// A dependency that is missing.
	os.Remove(filepath.Join(modDir, "kernel/drivers/b.ko"))
	_, err = ResolveModules(modDir, testRelease, []string{"a"})
	if err == nil || !strings.Contains(err.Error(), "needs b") {
		t.Fatalf("err = %v", err)
	}
}

func TestResolveModulesCycle(t *testing.T) {
	bc := fakeBootChain(t)
	modDir := filepath.Join(bc, "lib/modules", testRelease)
	vm := "vermagic=" + testRelease + " SMP"
	os.WriteFile(filepath.Join(modDir, "kernel/drivers/b.ko"), fakeModule("name=b", "depends=a", vm), 0o644)
	if _, err := ResolveModules(modDir, testRelease, []string{"a"}); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Fatalf("err = %v", err)
	}
}

func TestReadModuleCompressed(t *testing.T) {
	dir := t.TempDir()
	raw := fakeModule("name=z", "vermagic=x")
	var gz bytes.Buffer
	w := newGzipForTest(&gz)
	w.Write(raw)
	w.Close()
	p := filepath.Join(dir, "z.ko.gz")
	os.WriteFile(p, gz.Bytes(), 0o644)
	got, err := ReadModule(p)
	if err != nil || !bytes.Equal(got, raw) {
		t.Fatalf("ReadModule(.ko.gz): %v", err)
	}
}
