package image

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestResolveModulesRealKernel resolves the default module list against a
// real Debian kernel: every module exists, dependencies come first.
func TestResolveModulesRealKernel(t *testing.T) {
	bc := realBootChain(t)
	set, err := ResolveModules(bc.ModDir, bc.Release, DefaultModules)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Missing) > 0 {
		t.Errorf("modules missing from %s: %v", bc.Release, set.Missing)
	}
	pos := map[string]int{}
	for i, m := range set.Ordered {
		pos[m.Name] = i
	}
	for _, m := range set.Ordered {
		for _, d := range m.info.Depends {
			if p, ok := pos[d]; ok && p > pos[m.Name] {
				t.Errorf("%s loads before its dependency %s", m.Name, d)
			}
		}
	}
	for _, want := range []string{"nvme", "vmd", "ahci", "usb_storage", "uas", "xhci_pci", "sd_mod", "virtio_blk", "usbhid", "hid_generic", "vfat", "nls_cp437", "efivarfs"} {
		if _, ok := pos[want]; !ok {
			t.Errorf("module %s not carried", want)
		}
	}
}

// TestBuildRealBootChain builds a full image from the real boot chain (a
// 7 MiB stand-in for /init) and checks it with sgdisk and fsck.fat.
func TestBuildRealBootChain(t *testing.T) {
	bc := realBootChain(t)
	out := filepath.Join(t.TempDir(), "usb.img")
	res, err := Build(Options{Out: out, BootChain: bc, Init: bytes.Repeat([]byte{0xC3, 1, 2, 3, 4, 5, 6, 7}, 7<<17),
		Config: DefaultConfig(), Plaintext: true, Keys: []File{{Name: "k.csv", Data: []byte("x")}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Size > 64<<20 {
		t.Errorf("image is %d MiB, target is at most 64", res.Size>>20)
	}
	t.Logf("image %d MiB, ESP %d MiB %s, initramfs %.1f MiB, %d modules, %s",
		res.Size>>20, res.ESPSize>>20, res.ESPType, float64(res.InitrdSize)/(1<<20), len(res.Modules), res.Elapsed)
	out2, err := exec.Command(needTool(t, "sgdisk"), "-v", out).CombinedOutput()
	if err != nil || !strings.Contains(string(out2), "No problems found") {
		t.Errorf("sgdisk -v: %v\n%s", err, out2)
	}
	part := filepath.Join(t.TempDir(), "esp")
	copyRange(t, out, part, 2048*512, res.ESPSize)
	if o, err := exec.Command(needTool(t, "fsck.fat"), "-n", part).CombinedOutput(); err != nil {
		t.Errorf("fsck.fat ESP: %v\n%s", err, o)
	}
	shim, _ := os.ReadFile(bc.Shim)
	img, _ := os.ReadFile(out)
	if !bytes.Contains(img, shim[:4096]) {
		t.Error("shim not found in the image")
	}
}

func BenchmarkBuildRealBootChain(b *testing.B) {
	dir := os.Getenv("UNBRICK_BOOTCHAIN")
	if dir == "" {
		h, _ := os.UserHomeDir()
		dir = filepath.Join(h, ".cache/unbrick/bootchain")
	}
	bc, err := LoadBootChain(dir)
	if err != nil {
		b.Skip(err)
	}
	init := bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7, 8}, 7<<17)
	for i := 0; i < b.N; i++ {
		out := filepath.Join(b.TempDir(), "usb.img")
		if _, err := Build(Options{Out: out, BootChain: bc, Init: init, Config: DefaultConfig()}); err != nil {
			b.Fatal(err)
		}
	}
}
