package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/unbrick/unbrick/image"
	"github.com/unbrick/unbrick/internal/exitcode"
	"github.com/unbrick/unbrick/internal/hostid"
	"github.com/unbrick/unbrick/internal/redact"
	"github.com/unbrick/unbrick/internal/wizard"
)

// runWizard implements `unbrick wizard`: the guided, full-screen (or
// accessible line-by-line) front end over the scan/fix engine.
func runWizard(e *env, args []string) int {
	fs := flag.NewFlagSet("wizard", flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	kf := addKeyFlags(fs)
	rulesFile := fs.String("rules", "", "rules `FILE` (default: the built-in crowdstrike-2024-07-19 rule)")
	logDir := fs.String("log", defaultLogDir, "fleet log `DIR` (unbrick.jsonl, unbrick.csv)")
	journalDir := fs.String("journal", "", "undo journal `DIR` (default: LOGDIR/journal)")
	accessible := fs.Bool("accessible", false, "plain line prompts instead of full screens (also $"+wizard.EnvAccessible+"=1 or "+wizard.CmdlineAccessible+" on the kernel command line)")
	technician := fs.String("technician", "", "technician `NAME` for the fleet log")
	fs.Usage = func() {
		fmt.Fprintf(e.Stderr, "usage: unbrick wizard [key flags] [--rules F] [--log DIR] [--journal DIR] [--accessible] [TARGET...]\n\n"+
			"Guides a technician or end user through the fix: shows the machine, the disks and\n"+
			"Windows volumes, asks for BitLocker keys (key export matched automatically, typed\n"+
			"recovery password, BEK file or password), previews the files to delete, asks to\n"+
			"confirm, fixes, and shows the outcome with the fleet log confirmation code.\n"+
			"Without TARGETs: every local disk. Exit codes as for fix.\n\n")
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitcode.OK
		}
		return exitcode.Usage
	}
	o, err := engineOptions(e, kf, *rulesFile)
	if err != nil {
		fmt.Fprintf(e.Stderr, "unbrick wizard: %v\n", err)
		return exitcode.Usage
	}
	o.Identity.Technician = *technician
	targets, err := resolveTargets(e, pos, &o)
	if err != nil {
		fmt.Fprintf(e.Stderr, "unbrick wizard: %v\n", err)
		return exitcode.Failure
	}
	if !o.Identity.OnHost && bootedFromStick() {
		// The stick's init names the host's disks as TARGETs; the machine
		// is still the one we run on.
		o.Identity.OnHost = true
		if s, err := hostid.ReadSMBIOS(""); err == nil {
			o.Identity.SMBIOS, o.Keys.Serial = s, s.Serial
		}
	}
	jdir := *journalDir
	if jdir == "" {
		jdir = filepath.Join(*logDir, "journal")
	}
	in, _ := e.Stdin.(*os.File)
	out, _ := redact.Unwrap(e.Stdout).(*os.File)
	cmdline, _ := os.ReadFile("/proc/cmdline")
	var ui wizard.UI
	if reason := wizard.ModeReason(*accessible, e.Getenv, string(cmdline), in, out); reason != "" {
		fmt.Fprintf(e.Stdout, "unbrick wizard: accessible mode (%s)\n", reason)
		ui = wizard.NewLineUI(e.Stdin, e.Stdout)
	} else {
		ui = wizard.NewTUI(in, out)
	}
	return wizard.Run(context.Background(), wizard.Config{
		UI: ui, Out: e.Stdout, Version: toolVersion(), Targets: targets, Options: o,
		KeyFiles: kf.keyFiles, LogDir: *logDir, JournalDir: jdir,
	})
}

// bootedFromStick reports whether unbrick runs as the unbrick stick's init
// (process 1, or inside its initramfs, which carries the build facts file).
func bootedFromStick() bool {
	if os.Getpid() == 1 {
		return true
	}
	_, err := os.Stat(image.InitrdBuildInfo)
	return err == nil
}
