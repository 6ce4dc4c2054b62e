package main

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/unbrick/unbrick/image"

	"github.com/unbrick/unbrick/internal/exitcode"
	"github.com/unbrick/unbrick/internal/inputfile"
	"github.com/unbrick/unbrick/internal/keys"
	"github.com/unbrick/unbrick/internal/rules"
)

func newImageCmd(e *env) *cobra.Command {
	return newGroupCmd(e, "image", "build the bootable USB stick image (or ISO); read its logs",
		`Builds the bootable USB stick image (UEFI Secure Boot on: Microsoft-signed
shim, Debian-signed grub and kernel, this static unbrick as /init), or a
bootable ISO with a separate LOGS disk image, and reads the logs the stick
keeps on its LOGS partition.`,
		`  unbrick image build --out usb.img --keys BitLockerKeys.csv
  unbrick image build --format iso --out unbrick.iso
  unbrick image build --format logs --out logs.img --keys BitLockerKeys.csv
  unbrick image logs /dev/sdb --cat`,
		newImageBuildCmd(e), newImageLogsCmd(e))
}

func defaultBootChainDir(e *env) string {
	if d := e.Getenv("UNBRICK_BOOTCHAIN"); d != "" {
		return d
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".cache", "unbrick", "bootchain")
	}
	return ".bootchain"
}

// imageBuildFlags are the flags of `image build`.
type imageBuildFlags struct {
	out, format, bootchain, rules, passFile, mode, after, configFile, initBin string
	netboot, configURL, ca, rulesSigners                                      string
	keys                                                                      []string
	plaintext, force, espFat32, allowUnsignedRules                            bool
	logsSize, workFactor                                                      int
}

func newImageBuildCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "build [--format usb|iso|logs] --out FILE [flags] | --netboot DIR [--config-url URL] [--ca FILE]",
		Short: "build the bootable USB stick image, a bootable ISO, a LOGS disk or a network boot tree",
		Long: `Builds a bootable USB image (about 45 MiB, a few seconds, no root, no loop
devices) that boots with UEFI Secure Boot on. Partition 1 is the EFI system
partition; partition 2, named LOGS (FAT, drive label UNBRICK), holds
unbrick.conf, keys/, rules/, logs/ and journal/ and opens on any PC. The
recovery keys are sealed with a passphrase (asked at boot) unless
--plaintext-keys. The boot chain comes from scripts/fetch-bootchain.sh; /init
is this program when it is statically linked (scripts/build-static.sh).

--format iso writes a hybrid image: a UEFI-bootable ISO 9660 image (El
Torito UEFI entry, Secure Boot on) for a CD/DVD, a VM's virtual CD or a
server's remote console, which is also a stick image when written whole to
a USB stick (dd, Rufus in DD Image mode): a GPT in the ISO's system area
names its EFI boot image and a LOGS partition appended to the file, which
gets --keys, --rules, --mode, --config and --logs-size as on a stick. A CD
drive cannot show that partition: as a CD, settings, keys, rules, logs and
journals come from a LOGS disk, --format logs (only the stick's LOGS
partition, on a disk image of its own), attached beside it as a second disk
or written to a stick, or from the network (--config-url).

--netboot DIR writes the same signed chain as a TFTP/HTTP tree for PXE and
UEFI HTTP boot: bootx64.efi (shim, the PXE boot file), grubx64.efi
(Debian's signed network grub), grub/grub.cfg, unbrick/vmlinuz and
unbrick/initrd.gz, unbrick.iso (the HTTP boot file: the firmware boots it
from a RAM disk), an iPXE script and README.txt with the DHCP settings for
dnsmasq, ISC dhcpd and Kea. A network-booted machine has no LOGS
partition: --config-url URL puts unbrick.config=URL on the kernel command
line, and the settings there name the keys (keys_url), rules (rules_url)
and log receiver (log_url, which also receives the undo journals).
--ca FILE pins the CA certificate (PEM) that https and tls:// servers must
chain to; the initramfs trusts nothing else. --config-url and --ca also
work for the USB image and the ISO.`,
		Example: `  unbrick image build --out usb.img --keys BitLockerKeys.csv
  unbrick image build --out usb.img --keys keys.csv --passphrase-file pass.txt --mode wizard --after reboot
  dd if=usb.img of=/dev/sdX bs=4M conv=fsync
  unbrick image build --format iso --out unbrick.iso
  unbrick image build --format logs --out logs.img --keys keys.csv --passphrase-file pass.txt
  unbrick image build --netboot /srv/tftp/unbrick --config-url https://deploy.example.com/unbrick.conf --ca ca.pem`,
		Args: args(),
	}
	var f imageBuildFlags
	fs := c.Flags()
	fs.StringVar(&f.out, "out", "", "image `FILE` to write (required), e.g. usb.img")
	fs.StringVar(&f.format, "format", string(image.FormatUSB), "image format `NAME`: usb (stick image), iso (bootable ISO, also a stick image when written to USB) or logs (the LOGS disk to attach beside the ISO as a CD)")
	fs.StringVar(&f.bootchain, "bootchain", defaultBootChainDir(e), "boot chain `DIR` from scripts/fetch-bootchain.sh (also $UNBRICK_BOOTCHAIN)")
	fs.StringArrayVar(&f.keys, "keys", nil, "recovery key export `FILE` to put on the stick; repeatable")
	fs.StringVar(&f.rules, "rules", "", "rules pack `FILE` to put on the stick, with FILE.sig beside it (ssh-keygen -Y sign -n unbrick-rules)")
	fs.BoolVar(&f.allowUnsignedRules, "allow-unsigned-rules", false, "put a --rules pack on the stick that has no FILE.sig or whose signature does not check (fix on the stick then needs --allow-unsigned-rules too)")
	fs.BoolVar(&f.plaintext, "plaintext-keys", false, "store the keys UNSEALED (anyone holding the stick can read them)")
	fs.StringVar(&f.passFile, "passphrase-file", "", "seal the keys with the passphrase on the first line of `FILE` (default: asked twice on the terminal)")
	fs.IntVar(&f.logsSize, "logs-size", image.MinLogsMiB, "size of the LOGS partition: `N` MiB (at least 16)")
	fs.StringVar(&f.mode, "mode", "", "what the stick does at boot, `MODE` auto or wizard (default auto)")
	fs.StringVar(&f.after, "after", "", "after an auto run, `ACTION` poweroff, reboot or shell (default poweroff; shell adds busybox)")
	fs.StringVar(&f.configFile, "config", "", "unbrick.conf `FILE` to start from (--mode and --after override it)")
	fs.StringVar(&f.initBin, "init", "", "static unbrick binary `FILE` to use as /init (default: this program, when it is static)")
	fs.IntVar(&f.workFactor, "kdf-work-factor", image.DefaultWorkFactor, "age scrypt work factor `N` (log2) for sealing; lower it only for tests")
	fs.BoolVar(&f.force, "force", false, "replace --out if it exists")
	fs.BoolVar(&f.espFat32, "esp-fat32", false, "make the EFI system partition FAT32 (40 MiB) instead of FAT16, for firmware that only reads FAT32")
	fs.StringVar(&f.netboot, "netboot", "", "write the network boot tree (TFTP root / HTTP boot directory) into `DIR` instead of an image")
	fs.StringVar(&f.configURL, "config-url", "", "fetch unbrick.conf at boot from `URL` (unbrick.config= on the kernel command line)")
	fs.StringVar(&f.ca, "ca", "", "trust only the CA certificates in PEM `FILE` for https and tls:// servers at boot (put into the initramfs)")
	fs.StringVar(&f.rulesSigners, "rules-signers", "", "allowed-signers `FILE` (ssh-keygen format) that rule packs fetched at boot (rules_url, unbrick.rules=) must be signed by (put into the initramfs)")
	c.RunE = func(c *cobra.Command, _ []string) error {
		if f.netboot != "" {
			if err := checkNetbootFlags(c); err != nil {
				return err
			}
			return exit(runImageBuild(e, &f))
		}
		if f.out == "" {
			return usagef("--out FILE is required (or --netboot DIR)")
		}
		if err := checkFormatFlags(c, f.format); err != nil {
			return err
		}
		if f.allowUnsignedRules && f.rules == "" {
			return usagef("--allow-unsigned-rules needs --rules PACK; nothing was written")
		}
		return exit(runImageBuild(e, &f))
	}
	return c
}

// checkFormatFlags refuses flags that have no effect with the chosen
// --format: the LOGS disk carries no boot files. (The ISO takes them
// all: it is hybrid, with a LOGS partition for its USB view.)
func checkFormatFlags(c *cobra.Command, format string) error {
	fmtv, err := image.ParseFormat(format)
	if err != nil {
		return usagef("--format: %v", err)
	}
	var unused []string
	var why string
	switch fmtv {
	case image.FormatLogs:
		unused = []string{"bootchain", "init", "esp-fat32", "config-url", "ca", "rules-signers"}
		why = "the LOGS disk holds no boot files; pass it when you build the ISO (--format iso)"
	}
	for _, name := range unused {
		if c.Flags().Changed(name) {
			return usagef("--%s has no effect with --format %s: %s", name, fmtv, why)
		}
	}
	return nil
}

// checkNetbootFlags refuses flags that a network boot tree has no place
// for: it has no LOGS partition, and its settings come from --config-url.
func checkNetbootFlags(c *cobra.Command) error {
	for _, name := range []string{"out", "format", "keys", "rules", "allow-unsigned-rules", "plaintext-keys", "passphrase-file", "logs-size", "kdf-work-factor", "esp-fat32", "mode", "after", "config"} {
		if c.Flags().Changed(name) {
			return usagef("--%s has no effect with --netboot: the tree has no LOGS partition; its settings (mode, after, keys_url, rules_url, log_url) come from the unbrick.conf at --config-url", name)
		}
	}
	return nil
}

func runImageBuild(e *env, f *imageBuildFlags) int {
	fail := func(format string, a ...any) int {
		fmt.Fprintf(e.Stderr, "unbrick image build: "+format+"\n", a...)
		return exitcode.Failure
	}
	cfg := image.DefaultConfig()
	if f.configFile != "" {
		var err error
		if cfg, err = image.ReadConfigFile(f.configFile); err != nil {
			return fail("--config: %v", err)
		}
	}
	if f.mode != "" {
		cfg.Mode = f.mode
	}
	if f.after != "" {
		cfg.After = f.after
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(e.Stderr, "unbrick image build: %v\n", err)
		return exitcode.Usage
	}
	format, _ := image.ParseFormat(f.format) // checked by checkFormatFlags
	var caPEM []byte
	if f.ca != "" {
		var err error
		if caPEM, err = inputfile.Read(f.ca, "CA certificate file", inputfile.MaxConfig); err != nil {
			return fail("--ca: %v", err)
		}
		if _, err := image.ParseCA(f.ca, caPEM); err != nil {
			fmt.Fprintf(e.Stderr, "unbrick image build: --ca: %v\n", err)
			return exitcode.Usage
		}
	}
	var signers []byte
	if f.rulesSigners != "" {
		var err error
		if signers, err = inputfile.Read(f.rulesSigners, "allowed-signers file", inputfile.MaxConfig); err != nil {
			return fail("--rules-signers: %v", err)
		}
		if _, err := rules.ParseAllowedSigners(f.rulesSigners, signers); err != nil {
			fmt.Fprintf(e.Stderr, "unbrick image build: --rules-signers: %v\n", err)
			return exitcode.Usage
		}
	}
	if f.configURL != "" {
		if _, err := image.CheckFetchURL(f.configURL); err != nil {
			fmt.Fprintf(e.Stderr, "unbrick image build: --config-url: %v\n", err)
			return exitcode.Usage
		}
	}
	var bc *image.BootChain
	var initData []byte
	if format != image.FormatLogs {
		var err error
		if bc, err = image.LoadBootChain(f.bootchain); err != nil {
			return fail("%v", err)
		}
		// Secure Boot: signatures, SBAT generations and revocations of shim
		// and grub; a revoked or unsigned chain stops here, before any write.
		chk := bc
		if f.netboot != "" && bc.GrubNet != "" {
			// The tree carries the network grub: that is the one shim starts.
			c := *bc
			c.Grub = bc.GrubNet
			chk = &c
		}
		sb, err := image.CheckBootChain(chk)
		if sb != nil {
			for _, l := range sb.Lines() {
				if strings.HasPrefix(l, "WARNING: ") {
					fmt.Fprintln(e.Stderr, l)
				} else {
					fmt.Fprintln(e.Stdout, "boot chain: "+l)
				}
			}
		}
		if errors.Is(err, image.ErrBootChainRefused) {
			fail("Secure Boot check: %v", err)
			return exitcode.Refused
		} else if err != nil {
			return fail("Secure Boot check: %v", err)
		}
		initPath := f.initBin
		if initPath == "" {
			if initPath, err = os.Executable(); err != nil {
				return fail("cannot find this program to use as /init: %v (pass --init)", err)
			}
		}
		if initData, err = readStaticInit(initPath); err != nil {
			return fail("%v", err)
		}
	}
	var keyFiles []image.File
	for _, k := range f.keys {
		data, err := inputfile.Read(k, "key file", inputfile.MaxKeyExport)
		if err != nil {
			return fail("%v", err)
		}
		keyFiles = append(keyFiles, image.File{Name: filepath.Base(k), Data: data})
	}
	var rulesFile *image.File
	var rulesSig []byte
	if f.rules != "" {
		data, err := inputfile.Read(f.rules, "rules file", inputfile.MaxRules)
		if err != nil {
			return fail("%v", err)
		}
		sig, warn, err := stickRulesSignature(f.rules, f.allowUnsignedRules)
		if err != nil {
			fmt.Fprintf(e.Stderr, "unbrick image build: --rules: %v; nothing was written\n", err)
			return exitcode.Usage
		}
		if warn != "" {
			fmt.Fprintf(e.Stderr, "WARNING: rules pack %s: %s\n", f.rules, warn)
		}
		rulesFile, rulesSig = &image.File{Name: filepath.Base(f.rules), Data: data}, sig
	}
	pass := ""
	if len(keyFiles) > 0 && !f.plaintext {
		var err error
		if pass, err = buildPassphrase(e, f.passFile); err != nil {
			return fail("%v", err)
		}
	}
	if f.plaintext && len(keyFiles) > 0 {
		fmt.Fprintln(e.Stderr, "WARNING: --plaintext-keys: the recovery keys are stored UNSEALED on the stick")
	}
	if f.netboot != "" {
		if f.force {
			os.RemoveAll(f.netboot)
		}
		res, err := image.BuildNetboot(image.Options{
			Out: f.netboot, BootChain: bc, Init: initData, Config: cfg, Version: toolVersion(),
			Progress: e.Stderr, ConfigURL: f.configURL, CA: caPEM, RulesSigners: signers,
		})
		if err != nil {
			return fail("%v", err)
		}
		fmt.Fprintf(e.Stdout, "%s: network boot tree %.1f MiB (initramfs %.1f MiB, %d modules), built in %.1fs\n",
			f.netboot, float64(res.Size)/(1<<20), float64(res.InitrdSize)/(1<<20), len(res.Modules), res.Elapsed.Seconds())
		fmt.Fprintf(e.Stdout, "serve it as the TFTP root (DHCP boot file bootx64.efi) or over HTTP (UEFI HTTP boot: http://SERVER/PATH/unbrick.iso); DHCP settings in %s\n", filepath.Join(f.netboot, image.NetReadme))
		if f.configURL == "" {
			fmt.Fprintf(e.Stdout, "no --config-url: a machine booted from this tree takes its settings and keys from a LOGS disk attached to it (image build --format logs); rebuild with --config-url URL to fetch them over the network instead\n")
		}
		return exitcode.OK
	}
	if f.force {
		os.Remove(f.out)
	}
	res, err := image.Build(image.Options{
		Out: f.out, Format: format, BootChain: bc, Init: initData, Keys: keyFiles, Rules: rulesFile, RulesSig: rulesSig,
		Plaintext: f.plaintext, Passphrase: pass, WorkFactor: f.workFactor, LogsMiB: f.logsSize,
		Config: cfg, Version: toolVersion(), Progress: e.Stderr, ESPFat32: f.espFat32,
		ConfigURL: f.configURL, CA: caPEM, RulesSigners: signers,
	})
	if err != nil {
		return fail("%v", err)
	}
	switch format {
	case image.FormatISO:
		fmt.Fprintf(e.Stdout, "%s: hybrid ISO %d MiB (ISO 9660 %d MiB, EFI boot image %d MiB %s; LOGS %d MiB %s, mode %s, after %s), initramfs %.1f MiB, %d modules, built in %.1fs\n",
			f.out, res.Size>>20, res.ISOVolumeSize>>20, res.ESPSize>>20, res.ESPType, res.LogsSize>>20, res.LogsType, cfg.Mode, cfg.After,
			float64(res.InitrdSize)/(1<<20), len(res.Modules), res.Elapsed.Seconds())
		net := ""
		if f.configURL != "" {
			net = ", or let it fetch its settings from --config-url"
		}
		fmt.Fprintf(e.Stdout, "as a CD/DVD or virtual media (UEFI) it cannot show its LOGS partition: attach a LOGS disk beside it (unbrick image build --format logs --out logs.img --keys ...)%s\n", net)
		fmt.Fprintf(e.Stdout, "or write it to a stick, where its own LOGS partition serves: dd if=%s of=/dev/sdX bs=4M conv=fsync (Rufus: DD Image mode)\n", f.out)
	case image.FormatLogs:
		fmt.Fprintf(e.Stdout, "%s: LOGS disk %d MiB (LOGS %d MiB %s), mode %s, after %s, built in %.1fs\n",
			f.out, res.Size>>20, res.LogsSize>>20, res.LogsType, cfg.Mode, cfg.After, res.Elapsed.Seconds())
		fmt.Fprintf(e.Stdout, "attach it beside the ISO (--format iso) as a second disk, or write it to a stick: dd if=%s of=/dev/sdX bs=4M conv=fsync\n", f.out)
	default:
		fmt.Fprintf(e.Stdout, "%s: %d MiB (ESP %d MiB %s, LOGS %d MiB %s), initramfs %.1f MiB, %d modules, mode %s, after %s, built in %.1fs\n",
			f.out, res.Size>>20, res.ESPSize>>20, res.ESPType, res.LogsSize>>20, res.LogsType,
			float64(res.InitrdSize)/(1<<20), len(res.Modules), cfg.Mode, cfg.After, res.Elapsed.Seconds())
		fmt.Fprintf(e.Stdout, "write it to a stick: dd if=%s of=/dev/sdX bs=4M conv=fsync (see README: Rufus DD mode, Etcher)\n", f.out)
	}
	return exitcode.OK
}

// readStaticInit reads the binary that becomes /init and checks it is a
// statically linked x86-64 Linux ELF (no PT_INTERP): the initramfs has no
// dynamic loader and no libc.
func readStaticInit(p string) ([]byte, error) {
	data, err := inputfile.Read(p, "/init binary", inputfile.MaxProgram)
	if err != nil {
		return nil, err
	}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("/init binary %s: not a Linux ELF program (%v); build a static one with scripts/build-static.sh and pass --init", p, err)
	}
	if f.Machine != elf.EM_X86_64 || f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return nil, fmt.Errorf("/init binary %s is not an x86-64 executable", p)
	}
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return nil, fmt.Errorf("/init binary %s is dynamically linked; build a static one with scripts/build-static.sh and run that (or pass --init STATIC_BINARY)", p)
		}
	}
	return data, nil
}

// buildPassphrase reads the sealing passphrase from a file (first line) or
// asks twice on the terminal.
func buildPassphrase(e *env, file string) (string, error) {
	if file != "" {
		line, err := keys.ReadPassphraseFile(file)
		if err != nil {
			return "", fmt.Errorf("--passphrase-file: %w", err)
		}
		if len(line) < image.MinPassphraseLen {
			return "", fmt.Errorf("passphrase in %s is shorter than %d characters", file, image.MinPassphraseLen)
		}
		return line, nil
	}
	p1, err := readSecret(e, "Passphrase to seal the keys on the stick: ")
	if err != nil {
		return "", fmt.Errorf("%v (or pass --passphrase-file, or --plaintext-keys)", err)
	}
	if len(p1) < image.MinPassphraseLen {
		return "", fmt.Errorf("passphrase shorter than %d characters", image.MinPassphraseLen)
	}
	p2, err := readSecret(e, "Same passphrase again: ")
	if err != nil {
		return "", err
	}
	if p1 != p2 {
		return "", fmt.Errorf("the two passphrases differ")
	}
	return p1, nil
}

func newImageLogsCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "logs [flags] IMAGE|DEVICE",
		Short: "list, print or copy the logs and undo journals on a stick",
		Long: `Lists the files under logs/ and journal/ on the LOGS partition of an unbrick
stick or image (read with go-diskfs: no mount, no root for an image file);
--cat prints every file under logs/, --extract copies both directories.`,
		Example: `  unbrick image logs /dev/sdb --cat
  unbrick image logs usb.img --extract ./stick`,
		Args: args("IMAGE|DEVICE"),
	}
	cat := c.Flags().Bool("cat", false, "print the content of every file under logs/")
	extract := c.Flags().String("extract", "", "copy logs/ and journal/ into `DIR`")
	c.RunE = func(_ *cobra.Command, pos []string) error { return exit(runImageLogs(e, *cat, *extract, pos[0])) }
	return c
}

func runImageLogs(e *env, cat bool, extract, path string) int {
	st, err := image.OpenStick(path)
	if err != nil {
		fmt.Fprintf(e.Stderr, "unbrick image logs: %v\n", err)
		return exitcode.Failure
	}
	defer st.Close()
	code := exitcode.OK
	for _, dir := range []string{"/logs", "/journal"} {
		files, err := st.List(dir)
		if err != nil {
			fmt.Fprintf(e.Stderr, "unbrick image logs: %v\n", err)
			code = exitcode.Failure
			continue
		}
		for _, f := range files {
			fmt.Fprintf(e.Stdout, "%10d %s\n", f.Size, f.Path)
			if (cat && dir == "/logs") || extract != "" {
				data, err := st.ReadFile(f.Path)
				if err != nil {
					fmt.Fprintf(e.Stderr, "unbrick image logs: %v\n", err)
					code = exitcode.Failure
					continue
				}
				if cat && dir == "/logs" {
					e.Stdout.Write(data)
					if len(data) > 0 && data[len(data)-1] != '\n' {
						io.WriteString(e.Stdout, "\n")
					}
				}
				if extract != "" {
					dst := filepath.Join(extract, filepath.FromSlash(strings.TrimPrefix(f.Path, "/")))
					if err := os.MkdirAll(filepath.Dir(dst), 0o755); err == nil {
						err = os.WriteFile(dst, data, 0o644)
					}
					if err != nil {
						fmt.Fprintf(e.Stderr, "unbrick image logs: extract %s: %v\n", f.Path, err)
						code = exitcode.Failure
					}
				}
			}
		}
	}
	return code
}

// stickRulesSignature checks the pack given to image build --rules and
// returns its PACK.sig to store beside it. The pack must parse, and its
// signature must be an unbrick-rules sshsig that verifies over it; who
// signed it is checked at boot against the stick's allowed-signers file
// (rules_signers), as for fix. Unsigned, or a signature that does not
// check, is refused unless allowUnsigned (then the .sig, if any, is stored
// as it is and warn says so).
func stickRulesSignature(pack string, allowUnsigned bool) (sig []byte, warn string, err error) {
	if _, err := rules.LoadPack(pack, rules.LoadOptions{AllowUnsigned: true, AllowExpired: true}); err != nil {
		return nil, "", err
	}
	_, verr := rules.LoadPack(pack, rules.LoadOptions{AllowExpired: true})
	switch {
	case verr == nil || errors.Is(verr, rules.ErrNoSigners):
		// Verified over the pack by the key it names (no allowed-signers
		// list here: the stick's fix checks the signer).
	case allowUnsigned:
		warn = "put on the stick although " + verr.Error() + " (allowed by --allow-unsigned-rules; fix on the stick refuses it unless it runs with --allow-unsigned-rules)"
	default:
		return nil, "", verr
	}
	sig, err = os.ReadFile(rules.SignaturePath(pack))
	if errors.Is(err, os.ErrNotExist) {
		return nil, warn, nil
	}
	if err != nil {
		return nil, "", err
	}
	return sig, warn, nil
}
