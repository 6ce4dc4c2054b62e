package image

import (
	"bytes"
	"fmt"
	"github.com/klauspost/compress/gzip"
	"io"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/u-root/u-root/pkg/cpio"
)

// Paths inside the initramfs, shared with the boot-time code in cmd/unbrick.
const (
	InitrdModulesList = "/etc/unbrick/modules"    // one module file path per line, in load order
	InitrdBuildInfo   = "/etc/unbrick/build.conf" // key=value facts about the build
	InitrdBusybox     = "/bin/busybox"
	InitrdCA          = "/etc/unbrick/ca.pem" // CA certificates pinned at build time (image build --ca)
	// InitrdRulesSigners is the allowed-signers file of rule packs built
	// in with image build --rules-signers: the trust for packs a network
	// boot fetches (rules_url), as the CA is for the servers.
	InitrdRulesSigners = "/etc/unbrick/allowed_signers"
)

// InitramfsSpec is what goes into the initramfs.
type InitramfsSpec struct {
	Init      []byte     // static unbrick binary, becomes /init
	Modules   *ModuleSet // loaded in order at boot
	Busybox   string     // path of a static busybox to add as /bin/sh, or ""
	BuildInfo map[string]string
	CA        []byte // PEM, written to InitrdCA when not empty
	Signers   []byte // allowed signers of rule packs, written to InitrdRulesSigners when not empty
}

// WriteInitramfs writes a gzip-compressed newc cpio archive (the format the
// kernel unpacks into its rootfs; Documentation/driver-api/early-userspace/
// buffer-format.rst). Everything is owned by root with fixed times so two
// builds of the same inputs are identical. /dev/console is included so the
// kernel can open a console before /init runs.
func WriteInitramfs(w io.Writer, spec InitramfsSpec) error {
	if len(spec.Init) == 0 {
		return fmt.Errorf("initramfs: no /init binary")
	}
	zw, err := gzip.NewWriterLevel(w, gzip.DefaultCompression)
	if err != nil {
		return err
	}
	cw := cpio.Newc.Writer(zw)
	dirs := map[string]bool{}
	var recs []cpio.Record
	addDir := func(p string) {
		for d := p; d != "/" && d != "." && !dirs[d]; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	addFile := func(name string, data []byte, perm uint64) {
		addDir(path.Dir(name))
		recs = append(recs, cpio.StaticRecord(data, cpio.Info{
			Ino: uint64(100 + len(recs)), Name: strings.TrimPrefix(name, "/"), Mode: cpio.S_IFREG | perm, NLink: 1,
			FileSize: uint64(len(data)),
		}))
	}
	for _, d := range []string{"/dev", "/proc", "/sys", "/run", "/tmp", "/stick", "/bin"} {
		addDir(d)
	}
	addFile("/init", spec.Init, 0o755)
	var list bytes.Buffer
	if spec.Modules != nil {
		for _, m := range spec.Modules.Ordered {
			data, err := ReadModule(m.Path)
			if err != nil {
				return err
			}
			p := path.Join("/lib/modules", spec.Modules.Release, m.Name+".ko")
			addFile(p, data, 0o644)
			fmt.Fprintln(&list, p)
		}
	}
	addFile(InitrdModulesList, list.Bytes(), 0o644)
	var info bytes.Buffer
	keys := make([]string, 0, len(spec.BuildInfo))
	for k := range spec.BuildInfo {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&info, "%s=%s\n", k, spec.BuildInfo[k])
	}
	addFile(InitrdBuildInfo, info.Bytes(), 0o644)
	if len(spec.CA) > 0 {
		addFile(InitrdCA, spec.CA, 0o644)
	}
	if len(spec.Signers) > 0 {
		addFile(InitrdRulesSigners, spec.Signers, 0o644)
	}
	if spec.Busybox != "" {
		bb, err := os.ReadFile(spec.Busybox)
		if err != nil {
			return fmt.Errorf("initramfs: busybox: %w", err)
		}
		addFile(InitrdBusybox, bb, 0o755)
	}
	// Directories first, parents before children, each listed explicitly
	// with mode 0755 (cpio.WriteRecordsAndDirs would invent them 0777).
	dl := make([]string, 0, len(dirs))
	for d := range dirs {
		dl = append(dl, d)
	}
	sort.Strings(dl)
	all := []cpio.Record{cpio.Directory(".", 0o755)}
	for _, d := range dl {
		all = append(all, cpio.Directory(strings.TrimPrefix(d, "/"), 0o755))
	}
	all = append(all, cpio.CharDev("dev/console", 0o600, 5, 1))
	if spec.Busybox != "" {
		all = append(all, cpio.Symlink("bin/sh", "busybox"))
	}
	all = append(all, recs...)
	cpio.MakeAllReproducible(all)
	if err := cpio.WriteRecords(cw, all); err != nil {
		return fmt.Errorf("initramfs: write cpio: %w", err)
	}
	if err := cpio.WriteTrailer(cw); err != nil {
		return fmt.Errorf("initramfs: write cpio trailer: %w", err)
	}
	return zw.Close()
}
