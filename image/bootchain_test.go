package image

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadBootChain(t *testing.T) {
	bc, err := LoadBootChain(fakeBootChain(t))
	if err != nil {
		t.Fatal(err)
	}
	if bc.Release != testRelease || !bc.KernelConfig("CONFIG_FONT_TER16x32") || bc.KernelConfig("CONFIG_NOPE") || bc.Busybox != "" {
		t.Fatalf("%+v", bc)
	}
}

func TestLoadBootChainErrors(t *testing.T) {
	if _, err := LoadBootChain(filepath.Join(t.TempDir(), "nothing")); !errors.Is(err, ErrNoBootChain) || !strings.Contains(err.Error(), "fetch-bootchain.sh") {
		t.Errorf("missing dir: %v", err)
	}
	cases := map[string]struct {
		mutate func(dir string)
		want   string
	}{
		"no manifest":  {func(d string) { os.Remove(filepath.Join(d, "MANIFEST")) }, "no MANIFEST"},
		"no kernel":    {func(d string) { os.Remove(filepath.Join(d, "boot/vmlinuz-"+testRelease)) }, "kernel"},
		"no shim":      {func(d string) { os.Remove(filepath.Join(d, "usr/lib/shim/shimx64.efi.signed")) }, "shim"},
		"no modules":   {func(d string) { os.RemoveAll(filepath.Join(d, "lib/modules", testRelease)) }, "no modules directory"},
		"bad release":  {func(d string) { os.WriteFile(filepath.Join(d, "MANIFEST"), []byte("kernel_version=../x\n"), 0o644) }, "kernel_version"},
		"not a kernel": {func(d string) { os.WriteFile(filepath.Join(d, "boot/vmlinuz-"+testRelease), []byte("junk"), 0o644) }, "vmlinuz"},
		"kernel differs": {func(d string) {
			os.WriteFile(filepath.Join(d, "boot/vmlinuz-"+testRelease), fakeBzImage("6.1.0-98-amd64 (x)"), 0o644)
		}, "kernel and modules must come from the same linux-image package"},
	}
	for name, c := range cases {
		dir := fakeBootChain(t)
		c.mutate(dir)
		_, err := LoadBootChain(dir)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to mention %q", name, err, c.want)
		}
	}
}
