package image

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"strings"
)

// modInfo is what the image builder needs from a kernel module's .modinfo
// section: the NUL-separated key=value strings modpost writes there
// (linux/scripts/mod/modpost.c, include/linux/moduleparam.h MODULE_INFO).
type modInfo struct {
	Name     string   // "name=" (the module name the kernel uses, '_' spelled)
	Depends  []string // "depends=": modules that must be loaded first
	SoftPre  []string // "softdep=pre: ...": load before, failures tolerated
	SoftPost []string // "softdep=post: ...": load after, failures tolerated
	Vermagic string   // "vermagic=": "6.1.0-56-amd64 SMP preempt mod_unload modversions "
}

// KernelRelease returns the first word of vermagic: the kernel release the
// module was built for (the name of its /lib/modules directory).
func (m *modInfo) KernelRelease() string {
	f := strings.Fields(m.Vermagic)
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// parseModInfo reads the .modinfo section of a kernel module (an ELF
// relocatable object). It never panics on malformed input.
func parseModInfo(r io.ReaderAt) (*modInfo, error) {
	f, err := elf.NewFile(r)
	if err != nil {
		return nil, fmt.Errorf("not an ELF kernel module: %w", err)
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, fmt.Errorf("no .modinfo section: not a kernel module")
	}
	if sec.Size > 1<<20 {
		return nil, fmt.Errorf(".modinfo section is %d bytes: implausibly large", sec.Size)
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("read .modinfo: %w", err)
	}
	mi := &modInfo{}
	for _, kv := range bytes.Split(data, []byte{0}) {
		k, v, ok := strings.Cut(string(kv), "=")
		if !ok {
			continue
		}
		switch k {
		case "name":
			mi.Name = normModName(v)
		case "depends":
			for _, d := range strings.Split(v, ",") {
				if d = strings.TrimSpace(d); d != "" {
					mi.Depends = append(mi.Depends, normModName(d))
				}
			}
		case "softdep":
			pre, post := parseSoftdep(v)
			mi.SoftPre = append(mi.SoftPre, pre...)
			mi.SoftPost = append(mi.SoftPost, post...)
		case "vermagic":
			mi.Vermagic = v
		}
	}
	return mi, nil
}

// parseSoftdep splits "pre: a b post: c" (modprobe.d(5) softdep syntax as
// MODULE_SOFTDEP stores it) into its pre and post module lists.
func parseSoftdep(v string) (pre, post []string) {
	var cur *[]string
	for _, w := range strings.Fields(v) {
		switch w {
		case "pre:":
			cur = &pre
		case "post:":
			cur = &post
		default:
			if cur != nil {
				*cur = append(*cur, normModName(w))
			}
		}
	}
	return pre, post
}

// normModName spells a module name the way the kernel does internally:
// dashes become underscores ("usb-storage" and "usb_storage" are one module).
func normModName(s string) string {
	return strings.ReplaceAll(strings.TrimSpace(s), "-", "_")
}
