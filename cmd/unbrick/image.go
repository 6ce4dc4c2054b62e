package main

import (
	"bytes"
	"debug/elf"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/unbrick/unbrick/image"
	"github.com/unbrick/unbrick/internal/exitcode"
	"github.com/unbrick/unbrick/internal/inputfile"
	"github.com/unbrick/unbrick/internal/keys"
)

// runImage is `unbrick image`: build the bootable USB image, read its logs.
func runImage(e *env, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(e.Stderr, `usage: unbrick image build --out usb.img [flags]   build the bootable USB stick image
       unbrick image logs IMAGE|DEVICE [--cat] [--extract DIR]   list/read the stick's logs
Run 'unbrick image build -h' for the build flags.
`)
		if len(args) == 0 {
			return exitcode.Usage
		}
		return exitcode.OK
	}
	switch args[0] {
	case "build":
		return runImageBuild(e, args[1:])
	case "logs":
		return runImageLogs(e, args[1:])
	}
	fmt.Fprintf(e.Stderr, "unbrick image: unknown subcommand %q (build, logs)\n", args[0])
	return exitcode.Usage
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func defaultBootChainDir(e *env) string {
	if d := e.Getenv("UNBRICK_BOOTCHAIN"); d != "" {
		return d
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".cache", "unbrick", "bootchain")
	}
	return ".bootchain"
}

func runImageBuild(e *env, args []string) int {
	fs := flag.NewFlagSet("image build", flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	out := fs.String("out", "", "image file to write (required), e.g. usb.img")
	bootchain := fs.String("bootchain", defaultBootChainDir(e), "boot chain directory from scripts/fetch-bootchain.sh")
	var keys stringList
	fs.Var(&keys, "keys", "recovery key export to put on the stick (repeatable)")
	rules := fs.String("rules", "", "rules file to put on the stick")
	plaintext := fs.Bool("plaintext-keys", false, "store the keys UNSEALED (anyone holding the stick can read them)")
	passFile := fs.String("passphrase-file", "", "file whose first line is the passphrase that seals the keys (default: asked on the terminal)")
	logsSize := fs.Int("logs-size", image.MinLogsMiB, "size of the LOGS partition in MiB (at least 16)")
	mode := fs.String("mode", "", "what the stick does at boot: auto or wizard (default auto)")
	after := fs.String("after", "", "after an auto run: poweroff, reboot or shell (default poweroff; shell adds busybox)")
	configFile := fs.String("config", "", "unbrick.conf to start from (flags --mode/--after override it)")
	initBin := fs.String("init", "", "static unbrick binary to use as /init (default: this program, when it is static)")
	workFactor := fs.Int("kdf-work-factor", image.DefaultWorkFactor, "age scrypt work factor (log2 N) for sealing; lower it only for tests")
	force := fs.Bool("force", false, "replace --out if it exists")
	espFat32 := fs.Bool("esp-fat32", false, "make the EFI system partition FAT32 (40 MiB) instead of FAT16, for firmware that only reads FAT32")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitcode.OK
		}
		return exitcode.Usage
	}
	if len(pos) > 0 || *out == "" {
		fmt.Fprintln(e.Stderr, "unbrick image build: --out FILE is required and no positional arguments are taken")
		return exitcode.Usage
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(e.Stderr, "unbrick image build: "+format+"\n", a...)
		return exitcode.Failure
	}
	cfg := image.DefaultConfig()
	if *configFile != "" {
		var err error
		if cfg, err = image.ReadConfigFile(*configFile); err != nil {
			return fail("--config: %v", err)
		}
	}
	if *mode != "" {
		cfg.Mode = *mode
	}
	if *after != "" {
		cfg.After = *after
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(e.Stderr, "unbrick image build: %v\n", err)
		return exitcode.Usage
	}
	bc, err := image.LoadBootChain(*bootchain)
	if err != nil {
		return fail("%v", err)
	}
	initPath := *initBin
	if initPath == "" {
		if initPath, err = os.Executable(); err != nil {
			return fail("cannot find this program to use as /init: %v (pass --init)", err)
		}
	}
	initData, err := readStaticInit(initPath)
	if err != nil {
		return fail("%v", err)
	}
	var keyFiles []image.File
	for _, k := range keys {
		data, err := inputfile.Read(k, "key file", inputfile.MaxKeyExport)
		if err != nil {
			return fail("%v", err)
		}
		keyFiles = append(keyFiles, image.File{Name: filepath.Base(k), Data: data})
	}
	var rulesFile *image.File
	if *rules != "" {
		data, err := inputfile.Read(*rules, "rules file", inputfile.MaxRules)
		if err != nil {
			return fail("%v", err)
		}
		rulesFile = &image.File{Name: filepath.Base(*rules), Data: data}
	}
	pass := ""
	if len(keyFiles) > 0 && !*plaintext {
		if pass, err = buildPassphrase(e, *passFile); err != nil {
			return fail("%v", err)
		}
	}
	if *plaintext && len(keyFiles) > 0 {
		fmt.Fprintln(e.Stderr, "WARNING: --plaintext-keys: the recovery keys are stored UNSEALED on the stick")
	}
	if *force {
		os.Remove(*out)
	}
	res, err := image.Build(image.Options{
		Out: *out, BootChain: bc, Init: initData, Keys: keyFiles, Rules: rulesFile,
		Plaintext: *plaintext, Passphrase: pass, WorkFactor: *workFactor, LogsMiB: *logsSize,
		Config: cfg, Version: toolVersion(), Progress: e.Stderr, ESPFat32: *espFat32,
	})
	if err != nil {
		return fail("%v", err)
	}
	fmt.Fprintf(e.Stdout, "%s: %d MiB (ESP %d MiB %s, LOGS %d MiB %s), initramfs %.1f MiB, %d modules, mode %s, after %s, built in %.1fs\n",
		*out, res.Size>>20, res.ESPSize>>20, res.ESPType, res.LogsSize>>20, res.LogsType,
		float64(res.InitrdSize)/(1<<20), len(res.Modules), cfg.Mode, cfg.After, res.Elapsed.Seconds())
	fmt.Fprintf(e.Stdout, "write it to a stick: dd if=%s of=/dev/sdX bs=4M conv=fsync (see README: Rufus DD mode, Etcher)\n", *out)
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

func runImageLogs(e *env, args []string) int {
	fs := flag.NewFlagSet("image logs", flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	cat := fs.Bool("cat", false, "print the content of every file under logs/")
	extract := fs.String("extract", "", "copy logs/ and journal/ into this directory")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitcode.OK
		}
		return exitcode.Usage
	}
	if len(pos) != 1 {
		fmt.Fprintln(e.Stderr, "usage: unbrick image logs IMAGE|DEVICE [--cat] [--extract DIR]")
		return exitcode.Usage
	}
	st, err := image.OpenStick(pos[0])
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
			if (*cat && dir == "/logs") || *extract != "" {
				data, err := st.ReadFile(f.Path)
				if err != nil {
					fmt.Fprintf(e.Stderr, "unbrick image logs: %v\n", err)
					code = exitcode.Failure
					continue
				}
				if *cat && dir == "/logs" {
					e.Stdout.Write(data)
					if len(data) > 0 && data[len(data)-1] != '\n' {
						io.WriteString(e.Stdout, "\n")
					}
				}
				if *extract != "" {
					dst := filepath.Join(*extract, filepath.FromSlash(strings.TrimPrefix(f.Path, "/")))
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
