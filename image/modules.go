package image

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// DefaultModules are the kernel modules the initramfs carries (their
// dependencies are added automatically): storage (NVMe, Intel VMD, AHCI and
// legacy SATA, USB sticks and UAS, SD/MMC, virtio), USB host controllers,
// keyboards (HID), FAT for the LOGS partition, efivarfs for the Secure Boot
// state, and wired network adapters (VMs: virtio, e1000, VMware, Hyper-V;
// Intel, Broadcom, Realtek and Mellanox ports of PCs and servers) for
// network boots and log shipping: what a boot stick needs to see the
// disks of laptops, desktops, servers and VMs, to read the keyboard and to
// reach its servers. No firmware files are carried: adapters that need
// them to pass traffic (some Broadcom tg3, Intel ice beyond safe mode)
// stay without network.
var DefaultModules = []string{
	"efivarfs",
	"sd_mod", "ahci", "ata_piix", "nvme", "vmd",
	"xhci_pci", "ehci_pci", "ohci_pci", "uhci_hcd", "usb_storage", "uas",
	"virtio_pci", "virtio_blk", "virtio_scsi",
	"mmc_block", "sdhci_pci", "sdhci_acpi",
	"hid_generic", "usbhid",
	"nls_cp437", "nls_iso8859_1", "nls_utf8", "nls_ascii", "vfat",
	"crct10dif_pclmul",
	"virtio_net", "e1000", "e1000e", "igb", "igc", "ixgbe", "i40e", "ice",
	"tg3", "bnxt_en", "r8169", "vmxnet3", "hv_netvsc", "mlx5_core",
}

// Module is one kernel module chosen for the initramfs.
type Module struct {
	Name string // kernel spelling, e.g. "usb_storage"
	Path string // file in the boot chain (.ko, .ko.xz, .ko.zst or .ko.gz)
	info *modInfo
}

// ModuleSet is the resolved, ordered list of modules to load at boot:
// every module comes after the modules it depends on.
type ModuleSet struct {
	Release  string   // kernel release the modules were built for
	Ordered  []Module // load order
	Builtin  []string // requested modules that are built into the kernel
	Missing  []string // requested modules that exist neither as file nor built in
	SoftSkip []string // soft dependencies not found (harmless)
}

// moduleSuffixes are the module file endings the builder understands; a
// compressed module is decompressed at build time so the kernel never needs
// its in-kernel decompressor (CONFIG_MODULE_DECOMPRESS).
var moduleSuffixes = []string{".ko", ".ko.xz", ".ko.zst", ".ko.gz"}

// indexModules maps module names to their files under modDir/kernel.
func indexModules(modDir string) (map[string]string, error) {
	idx := map[string]string{}
	root := filepath.Join(modDir, "kernel")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		for _, s := range moduleSuffixes {
			if strings.HasSuffix(d.Name(), s) {
				idx[normModName(strings.TrimSuffix(d.Name(), s))] = p
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("index kernel modules in %s: %w", root, err)
	}
	if len(idx) == 0 {
		return nil, fmt.Errorf("no kernel modules under %s", root)
	}
	return idx, nil
}

// readBuiltin reads modules.builtin (one path per line, e.g.
// "kernel/drivers/scsi/scsi_common.ko") into a set of module names.
func readBuiltin(modDir string) map[string]bool {
	set := map[string]bool{}
	f, err := os.Open(filepath.Join(modDir, "modules.builtin"))
	if err != nil {
		return set
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		base := filepath.Base(strings.TrimSpace(sc.Text()))
		set[normModName(strings.TrimSuffix(base, ".ko"))] = true
	}
	return set
}

// ResolveModules finds the requested modules and their dependencies
// (modinfo depends= and softdep=) in modDir (a /lib/modules/RELEASE
// directory) and orders them for loading. Every module's vermagic must name
// release: a module from another kernel build would be refused by the
// kernel (it is signed with that build's own key).
func ResolveModules(modDir, release string, want []string) (*ModuleSet, error) {
	idx, err := indexModules(modDir)
	if err != nil {
		return nil, err
	}
	builtin := readBuiltin(modDir)
	set := &ModuleSet{Release: release}
	state := map[string]int{} // 0 new, 1 visiting, 2 done
	var visit func(name string, soft bool, chain []string) error
	visit = func(name string, soft bool, chain []string) error {
		name = normModName(name)
		switch state[name] {
		case 1:
			return fmt.Errorf("module dependency cycle: %s -> %s", strings.Join(chain, " -> "), name)
		case 2:
			return nil
		}
		p, ok := idx[name]
		if !ok {
			state[name] = 2
			switch {
			case builtin[name]:
				set.Builtin = append(set.Builtin, name)
			case soft:
				set.SoftSkip = append(set.SoftSkip, name)
			case len(chain) > 0:
				return fmt.Errorf("module %s needs %s, which is not in %s: kernel and modules do not match", chain[len(chain)-1], name, modDir)
			default:
				set.Missing = append(set.Missing, name)
			}
			return nil
		}
		state[name] = 1
		info, err := readModInfoFile(p)
		if err != nil {
			return fmt.Errorf("module %s: %w", p, err)
		}
		if got := info.KernelRelease(); got != release {
			return fmt.Errorf("module %s was built for kernel %q, the kernel is %q: kernel and modules must come from the same linux-image package (run scripts/fetch-bootchain.sh again)", p, got, release)
		}
		chain = append(chain, name)
		for _, d := range info.SoftPre {
			if err := visit(d, true, chain); err != nil {
				return err
			}
		}
		for _, d := range info.Depends {
			if err := visit(d, false, chain); err != nil {
				return err
			}
		}
		state[name] = 2
		set.Ordered = append(set.Ordered, Module{Name: name, Path: p, info: info})
		for _, d := range info.SoftPost {
			if err := visit(d, true, chain); err != nil {
				return err
			}
		}
		return nil
	}
	for _, w := range want {
		if err := visit(w, false, nil); err != nil {
			return nil, err
		}
	}
	if len(set.Ordered) == 0 {
		return nil, fmt.Errorf("none of the requested modules (%s) exists in %s", strings.Join(want, " "), modDir)
	}
	sort.Strings(set.Builtin)
	return set, nil
}

// readModInfoFile parses the .modinfo of a module file, decompressing it
// first when needed.
func readModInfoFile(p string) (*modInfo, error) {
	data, err := ReadModule(p)
	if err != nil {
		return nil, err
	}
	return parseModInfo(bytes.NewReader(data))
}

// ReadModule returns the uncompressed ELF bytes of a module file.
func ReadModule(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	switch {
	case strings.HasSuffix(p, ".xz"):
		xr, err := xz.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("xz module %s: %w", p, err)
		}
		r = xr
	case strings.HasSuffix(p, ".zst"):
		zr, err := zstd.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("zstd module %s: %w", p, err)
		}
		defer zr.Close()
		r = zr
	case strings.HasSuffix(p, ".gz"):
		gr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("gzip module %s: %w", p, err)
		}
		r = gr
	}
	data, err := io.ReadAll(io.LimitReader(r, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("read module %s: %w", p, err)
	}
	return data, nil
}
