package image

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// BootChain is an unpacked boot chain as scripts/fetch-bootchain.sh leaves
// it: the Debian packages' files under one root, plus a MANIFEST.
type BootChain struct {
	Dir       string
	Release   string            // kernel release, e.g. "6.1.0-56-amd64"
	Shim      string            // Microsoft-signed shim -> \EFI\BOOT\BOOTX64.EFI
	MokMgr    string            // MokManager -> \EFI\BOOT\mmx64.efi
	Grub      string            // signed grub -> \EFI\BOOT\grubx64.efi
	GrubNet   string            // signed network grub (grubnetx64) -> netboot tree's grubx64.efi; "" when absent
	Kernel    string            // signed vmlinuz
	Config    string            // kernel config (may be absent)
	ModDir    string            // lib/modules/RELEASE
	Busybox   string            // static busybox ("" when absent)
	Manifest  map[string]string // MANIFEST key=value pairs
	KernelVer string            // version string from the bzImage header
}

// ErrNoBootChain means the boot chain directory is missing or incomplete.
var ErrNoBootChain = errors.New("boot chain not found")

// LoadBootChain checks a boot chain directory: every file the image needs
// is present, and the kernel and its modules come from one kernel build
// (the bzImage version string and the modules' vermagic name the same
// release as the MANIFEST).
func LoadBootChain(dir string) (*BootChain, error) {
	hint := "run scripts/fetch-bootchain.sh " + dir + " first"
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() {
		return nil, fmt.Errorf("%w: %s is not a directory (%s)", ErrNoBootChain, dir, hint)
	}
	man, err := readManifest(filepath.Join(dir, "MANIFEST"))
	if err != nil {
		return nil, fmt.Errorf("%w: %v (%s)", ErrNoBootChain, err, hint)
	}
	rel := man["kernel_version"]
	if rel == "" || strings.ContainsAny(rel, "/ ") {
		return nil, fmt.Errorf("%w: MANIFEST in %s has no valid kernel_version (%s)", ErrNoBootChain, dir, hint)
	}
	bc := &BootChain{
		Dir:      dir,
		Release:  rel,
		Shim:     filepath.Join(dir, "usr/lib/shim/shimx64.efi.signed"),
		MokMgr:   filepath.Join(dir, "usr/lib/shim/mmx64.efi.signed"),
		Grub:     filepath.Join(dir, "usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed"),
		Kernel:   filepath.Join(dir, "boot", "vmlinuz-"+rel),
		Config:   filepath.Join(dir, "boot", "config-"+rel),
		ModDir:   filepath.Join(dir, "lib/modules", rel),
		Manifest: man,
	}
	for _, f := range []struct{ what, path string }{
		{"shim", bc.Shim}, {"MokManager", bc.MokMgr}, {"grub", bc.Grub}, {"kernel", bc.Kernel},
	} {
		if st, err := os.Stat(f.path); err != nil || !st.Mode().IsRegular() {
			return nil, fmt.Errorf("%w: %s %s is missing (%s)", ErrNoBootChain, f.what, f.path, hint)
		}
	}
	if st, err := os.Stat(bc.ModDir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("kernel %s has no modules directory %s: kernel and modules do not match (%s)", rel, bc.ModDir, hint)
	}
	kv, err := kernelVersionFile(bc.Kernel)
	if err != nil {
		return nil, fmt.Errorf("kernel %s: %w", bc.Kernel, err)
	}
	if first := strings.Fields(kv); len(first) == 0 || first[0] != rel {
		return nil, fmt.Errorf("kernel %s reports version %q but its modules are for %q: kernel and modules must come from the same linux-image package (%s)", bc.Kernel, kv, rel, hint)
	}
	bc.KernelVer = kv
	if _, err := os.Stat(bc.Config); err != nil {
		bc.Config = ""
	}
	if p := filepath.Join(dir, "usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed"); fileExists(p) {
		bc.GrubNet = p
	}
	if p := filepath.Join(dir, "bin/busybox"); fileExists(p) {
		bc.Busybox = p
	}
	return bc, nil
}

// KernelConfig reports whether the kernel config sets opt (e.g.
// "CONFIG_FONT_TER16x32") to y. Unknown (no config file) counts as false.
func (bc *BootChain) KernelConfig(opt string) bool {
	if bc.Config == "" {
		return false
	}
	f, err := os.Open(bc.Config)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if sc.Text() == opt+"=y" {
			return true
		}
	}
	return false
}

func readManifest(p string) (map[string]string, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("no MANIFEST: %w", err)
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read MANIFEST: %w", err)
	}
	return m, nil
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}
