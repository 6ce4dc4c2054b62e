package image

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/unbrick/unbrick/internal/logship"
)

// Kernel command line parameters the boot-time mode reads from
// /proc/cmdline. They contain a dot, so the kernel keeps them away from
// init's environment (it takes them for module parameters) and they stay
// only in /proc/cmdline.
const (
	CmdlineConfig = "unbrick.config" // URL of unbrick.conf
	CmdlineKeys   = "unbrick.keys"   // URL of a key export (overrides keys_url)
	CmdlineRules  = "unbrick.rules"  // URL of a rules file (overrides rules_url)
)

// Files of the network boot tree (paths relative to the TFTP root or
// the HTTP boot directory). The DHCP boot file names shim as
// bootx64.efi; shim loads grubx64.efi from the same directory over the
// same protocol; Debian's network grub (grubnetx64) has the built-in
// prefix /grub and reads grub/grub.cfg from the server it came from
// (its embedded config sources $prefix/grub.cfg), and loads the kernel
// and initramfs from there too. That is PXE over TFTP. For UEFI HTTP
// boot the DHCP boot file is a URL to unbrick.iso instead: Debian 12's
// signed grub 2.06 takes no network settings from an HTTP boot (no PXE
// DHCP packet is cached for it), finds no device for its prefix and stops
// at its prompt, so the firmware downloads the ISO into a RAM disk and
// boots it as a CD (UEFI specification 2.10, "HTTP Boot": a boot file
// ending in .iso, or Content-Type application/vnd.efi-iso, is mounted as
// a RAM disk; EDK2's HttpBootDxe checks the Content-Type, then the
// extension).
const (
	NetShim    = "bootx64.efi"
	NetGrub    = "grubx64.efi"
	NetMokMgr  = "mmx64.efi"
	NetGrubCfg = "grub/grub.cfg"
	NetKernel  = "unbrick/vmlinuz"
	NetInitrd  = "unbrick/initrd.gz"
	NetIPXE    = "unbrick.ipxe"
	NetISO     = "unbrick.iso"
	NetReadme  = "README.txt"
	NetSums    = "SHA256SUMS"
)

// MaxFetchURL bounds a URL given on the kernel command line.
const MaxFetchURL = 1024

// CheckFetchURL checks an address the boot-time mode fetches from: http
// or https with a host, at most MaxFetchURL bytes, and none of the
// characters that a kernel command line or grub.cfg would split or
// expand (space, quotes, backslash, $ and ;).
func CheckFetchURL(raw string) (*url.URL, error) {
	if len(raw) > MaxFetchURL {
		return nil, fmt.Errorf("URL is %d bytes long: at most %d", len(raw), MaxFetchURL)
	}
	if i := strings.IndexFunc(raw, func(r rune) bool { return r <= ' ' || r >= 0x7f || strings.ContainsRune(`'"\$;`+"`", r) }); i >= 0 {
		return nil, fmt.Errorf("URL %s has the character %q at byte %d, which a kernel command line cannot carry: percent-encode it", logship.RedactURL(raw), raw[i], i)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("URL %s: want http://host/path or https://host/path", logship.RedactURL(raw))
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			return nil, fmt.Errorf("URL %s carries a password: a kernel command line is readable by anyone at the machine; use a pinned CA (--ca) and an address without credentials", u.Redacted())
		}
	}
	return u, nil
}

// ParseCA parses PEM CA certificates (at least one, nothing else) into a
// pool. name is used in errors.
func ParseCA(name string, data []byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	n := 0
	for rest := data; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			if n > 0 && len(strings.TrimSpace(string(rest))) > 0 {
				return nil, fmt.Errorf("%s: text after the last certificate is not PEM", name)
			}
			break
		}
		if blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%s: PEM block %q: want CERTIFICATE (never a private key)", name, blk.Type)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: certificate %d: %w", name, n+1, err)
		}
		pool.AddCert(c)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("%s: no PEM certificate in it", name)
	}
	return pool, nil
}

// checkNetOptions checks the config URL and the CA of a build: an https
// settings address needs the CA that signed its server's certificate,
// because the initramfs trusts nothing else.
func checkNetOptions(configURL string, ca []byte) error {
	if len(ca) > 0 {
		if _, err := ParseCA("--ca", ca); err != nil {
			return err
		}
	}
	if configURL == "" {
		return nil
	}
	u, err := CheckFetchURL(configURL)
	if err != nil {
		return fmt.Errorf("--config-url: %w", err)
	}
	if u.Scheme == "https" && len(ca) == 0 {
		return fmt.Errorf("--config-url %s is https, but the initramfs trusts no CA: pass --ca FILE with the CA certificate (PEM) of that server", u.Redacted())
	}
	return nil
}

// ErrNetbootNoGrub means the boot chain lacks Debian's signed network grub.
var ErrNetbootNoGrub = errors.New("no signed network grub in the boot chain")

// BuildNetboot writes the network boot tree into the directory o.Out
// (which must not exist, or be empty): shim as bootx64.efi, Debian's
// signed network grub as grubx64.efi, MokManager, grub/grub.cfg, the
// kernel and initramfs under unbrick/, an iPXE script, README.txt with
// the DHCP settings, and SHA256SUMS. It writes OUT.partial and renames it
// at the end.
func BuildNetboot(o Options) (*Result, error) {
	b := &builder{o: o}
	b.start = time.Now()
	if o.Format != "" && o.Format != FormatUSB {
		return nil, fmt.Errorf("netboot: --format %s does not apply to a network boot tree", o.Format)
	}
	if o.BootChain == nil {
		return nil, fmt.Errorf("%w: no boot chain given", ErrNoBootChain)
	}
	if o.BootChain.GrubNet == "" {
		return nil, fmt.Errorf("%w: usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed is missing from %s: run scripts/fetch-bootchain.sh again", ErrNetbootNoGrub, o.BootChain.Dir)
	}
	if len(o.Keys) > 0 || o.Rules != nil {
		return nil, fmt.Errorf("a network boot tree carries no keys or rules: serve them over https and name them in unbrick.conf (keys_url, rules_url) or on the kernel command line")
	}
	if err := o.Config.Validate(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if o.Config.After == "shell" && o.BootChain.Busybox == "" {
		return nil, fmt.Errorf("--after shell needs busybox from busybox-static in the boot chain: run scripts/fetch-bootchain.sh again")
	}
	if err := checkNetOptions(o.ConfigURL, o.CA); err != nil {
		return nil, err
	}
	if ents, err := os.ReadDir(o.Out); err == nil && len(ents) > 0 {
		return nil, fmt.Errorf("%s is not empty: give a new or empty directory to --netboot", o.Out)
	} else if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("--netboot %s: %w", o.Out, err)
	}
	initrd, mods, err := b.initramfs()
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{
		NetGrubCfg: grubConfig("/"+NetKernel, "/"+NetInitrd, configCmdline(o.ConfigURL)),
		NetInitrd:  initrd,
		NetIPXE:    ipxeScript(o.ConfigURL),
		NetReadme:  netbootReadme(o.ConfigURL),
	}
	for name, src := range map[string]string{NetShim: o.BootChain.Shim, NetGrub: o.BootChain.GrubNet, NetMokMgr: o.BootChain.MokMgr, NetKernel: o.BootChain.Kernel} {
		d, err := os.ReadFile(src)
		if err != nil {
			return nil, fmt.Errorf("boot chain: %w", err)
		}
		files[name] = d
	}
	partial := filepath.Clean(o.Out) + ".partial"
	os.RemoveAll(partial)
	if err := os.MkdirAll(partial, 0o755); err != nil {
		return nil, fmt.Errorf("netboot: %w", err)
	}
	// The same chain as a hybrid ISO, with the same kernel command line
	// and the same initramfs, for UEFI HTTP boot (see NetISO).
	ib := &builder{o: o, start: b.start, initrd: initrd, mods: mods}
	ib.o.Format, ib.o.Out = FormatISO, filepath.Join(partial, NetISO)
	isoRes, err := ib.build()
	if err != nil {
		os.RemoveAll(partial)
		return nil, fmt.Errorf("netboot: %s for UEFI HTTP boot: %w", NetISO, err)
	}
	if err := writeTree(partial, files, NetISO); err != nil {
		os.RemoveAll(partial)
		return nil, err
	}
	os.Remove(o.Out) // an empty directory
	if err := os.Rename(partial, o.Out); err != nil {
		os.RemoveAll(partial)
		return nil, fmt.Errorf("netboot: %w", err)
	}
	total := isoRes.Size
	for _, d := range files {
		total += int64(len(d))
	}
	b.say("wrote %s (%d files, %.1f MiB)", o.Out, len(files)+2, float64(total)/float64(mib))
	return &Result{Format: "netboot", Size: total, InitrdSize: int64(len(initrd)), Modules: mods.Ordered, MissingModules: mods.Missing, Elapsed: time.Since(b.start)}, nil
}

// writeTree writes files (relative slash paths) under dir, each synced,
// and SHA256SUMS listing them and the files already there that present
// names, in sha256sum(1)'s format.
func writeTree(dir string, files map[string][]byte, present ...string) error {
	names := make([]string, 0, len(files)+len(present))
	for n := range files {
		names = append(names, n)
	}
	names = append(names, present...)
	sort.Strings(names)
	var sums strings.Builder
	for _, n := range names {
		p := filepath.Join(dir, filepath.FromSlash(n))
		h := sha256.New()
		if data, ok := files[n]; ok {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return fmt.Errorf("netboot: %w", err)
			}
			if err := writeFileSynced(p, data); err != nil {
				return fmt.Errorf("netboot: %w", err)
			}
			h.Write(data)
		} else if err := hashFile(h, p); err != nil {
			return fmt.Errorf("netboot: %w", err)
		}
		fmt.Fprintf(&sums, "%s  %s\n", hex.EncodeToString(h.Sum(nil)), n)
	}
	return writeFileSynced(filepath.Join(dir, NetSums), []byte(sums.String()))
}

// hashFile feeds the file at p into h.
func hashFile(h io.Writer, p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(h, f)
	return err
}

func writeFileSynced(p string, data []byte) error {
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ipxeScript chains the kernel and initramfs directly from the directory
// the script was loaded from. That is for iPXE without Secure Boot: an
// iPXE started through iPXE's own signed shim only loads iPXE's signed
// binaries, not Debian's kernel; with Secure Boot on, give bootx64.efi
// (shim) as the DHCP boot file instead of iPXE.
func ipxeScript(configURL string) []byte {
	cfg := ""
	if configURL != "" {
		cfg = " " + CmdlineConfig + "=" + configURL
	}
	return []byte(`#!ipxe
# unbrick network boot for sites that already chain iPXE.
# Secure Boot OFF only: iPXE's own signed shim starts only iPXE's signed
# binaries, so it cannot start Debian's signed kernel. With Secure Boot on,
# let DHCP hand out bootx64.efi (shim) from this directory instead.
# Serve this directory over http and chain this script:
#   chain http://SERVER/unbrick-netboot/unbrick.ipxe
kernel ${cwduri}` + NetKernel + ` initrd=initrd.gz ` + kernelCmdline + cfg + `
initrd --name initrd.gz ${cwduri}` + NetInitrd + `
boot
`)
}

// netbootReadme explains how to serve the tree.
func netbootReadme(configURL string) []byte {
	cfg := "(none: the kernel command line has no unbrick.config; build with --config-url URL)"
	if configURL != "" {
		cfg = logship.RedactURL(configURL)
	}
	return []byte(strings.ReplaceAll(`unbrick network boot tree
=========================

Settings URL (unbrick.config): `+cfg+`

Serve this directory as the TFTP root (PXE) and/or over HTTP (UEFI HTTP
boot).

PXE: with Secure Boot on, the chain is: firmware -> bootx64.efi (shim,
signed by Microsoft) -> grubx64.efi (Debian's signed network grub) ->
grub/grub.cfg -> unbrick/vmlinuz (Debian-signed kernel) + unbrick/initrd.gz,
all fetched from the same server over TFTP.

UEFI HTTP boot: the boot file is unbrick.iso, the same chain as an ISO. The
firmware downloads it into a RAM disk and boots it like a CD. (Pointing HTTP
boot at bootx64.efi does not work: shim loads, but Debian 12's signed grub
gets no network settings from an HTTP boot and stops at its grub> prompt.)
The firmware must support RAM disk boot (UEFI 2.6 and later; OVMF does).

DHCP, PXE over TFTP (UEFI x64, client architecture 7 or 9):
  dnsmasq:  dhcp-match=set:efi64,option:client-arch,7
            dhcp-match=set:efi64,option:client-arch,9
            dhcp-boot=tag:efi64,bootx64.efi
            enable-tftp
            tftp-root=/srv/unbrick-netboot
  ISC dhcpd: if option arch = 00:07 or option arch = 00:09 {
               next-server 192.0.2.10; filename "bootx64.efi"; }
  Kea:      "client-classes": [{ "name": "uefi64",
              "test": "option[93].hex == 0x0007 or option[93].hex == 0x0009",
              "next-server": "192.0.2.10", "boot-file-name": "bootx64.efi" }]

DHCP, UEFI HTTP boot (client architecture 16; the answer must carry the
vendor class "HTTPClient" and the URL of unbrick.iso as the boot file):
  dnsmasq:  dhcp-match=set:efihttp,option:client-arch,16
            dhcp-option-force=tag:efihttp,60,HTTPClient
            dhcp-boot=tag:efihttp,http://192.0.2.10/unbrick-netboot/unbrick.iso
  ISC dhcpd: if option arch = 00:10 {
               option vendor-class-identifier "HTTPClient";
               filename "http://192.0.2.10/unbrick-netboot/unbrick.iso"; }
  Kea:      "client-classes": [{ "name": "uefihttp",
              "test": "option[93].hex == 0x0010",
              "option-data": [{ "name": "vendor-class-identifier", "data": "HTTPClient" }],
              "boot-file-name": "http://192.0.2.10/unbrick-netboot/unbrick.iso" }]

iPXE (Secure Boot off only): chain unbrick.ipxe from this directory.

Tested by unbrick's CI with Secure Boot on (QEMU, OVMF with Microsoft
keys): PXE over TFTP, and UEFI HTTP boot of unbrick.iso with the dnsmasq
lines above. Other firmware differs: try one machine first.

SHA256SUMS lists every file. Nothing in this tree is secret: keys and
rules come from the addresses in unbrick.conf (keys_url, rules_url).
`, "\n", "\r\n"))
}
