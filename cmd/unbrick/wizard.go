package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/unbrick/unbrick/cmd/unbrick/internal/bootmode"

	"github.com/unbrick/unbrick/internal/exitcode"
	"github.com/unbrick/unbrick/internal/hostid"
	"github.com/unbrick/unbrick/internal/redact"
	"github.com/unbrick/unbrick/internal/wizard"
)

func newWizardCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "wizard [key flags] [flags] [TARGET...]",
		Short: "guided fix for the help desk: screens, key entry, preview, confirmation code",
		Long: `Guides a technician or end user through the fix: shows the machine, the disks and
Windows volumes, asks for BitLocker keys (key export matched automatically, typed
recovery password, BEK file or password), previews the files to delete, asks to
confirm, fixes, and shows the outcome with the fleet log confirmation code.
Without TARGETs: every local disk. Exit codes as for fix.`,
		Example: `  unbrick wizard
  unbrick wizard --keys BitLockerKeys.csv --log /mnt/usb/logs /dev/nvme0n1
  unbrick wizard --accessible disk.img`,
	}
	kf := addKeyFlags(c)
	rf := addRulesFlags(c)
	lf := addLogFlags(c)
	accessible := c.Flags().Bool("accessible", false, "plain line prompts instead of full screens (also $"+wizard.EnvAccessible+"=1 or "+wizard.CmdlineAccessible+" on the kernel command line)")
	technician := addTechnicianFlag(c)
	c.RunE = func(_ *cobra.Command, pos []string) error {
		return exit(runWizard(e, kf, rf, lf, *accessible, *technician, pos))
	}
	return c
}

// runWizard runs the guided, full-screen (or accessible line-by-line)
// front end over the scan/fix engine.
func runWizard(e *env, kf *keyFlags, rf *rulesFlags, lf *logFlags, accessible bool, technician string, pos []string) int {
	o, pack, err := engineOptions(e, kf, rf)
	if err == nil {
		err = checkActions(pack)
	}
	if err != nil {
		fmt.Fprintf(e.Stderr, "unbrick wizard: %v\n", err)
		return exitcode.Usage
	}
	o.Identity.Technician = technician
	o.Identity.RulePack = packRecord(pack) // the wizard's records name the pack too
	targets, err := resolveTargets(e, pos, &o)
	if err != nil {
		fmt.Fprintf(e.Stderr, "unbrick wizard: %v\n", err)
		return exitcode.Failure
	}
	if !o.Identity.OnHost && bootmode.FromStick() {
		// The stick's init names the host's disks as TARGETs; the machine
		// is still the one we run on.
		o.Identity.OnHost = true
		if s, err := hostid.ReadSMBIOS(""); err == nil {
			o.Identity.SMBIOS, o.Keys.Serial = s, s.Serial
		}
	}
	jdir := lf.journalDir()
	in, _ := e.Stdin.(*os.File)
	out, _ := redact.Unwrap(e.Stdout).(*os.File)
	cmdline, _ := os.ReadFile("/proc/cmdline")
	var ui wizard.UI
	if reason := wizard.ModeReason(accessible, e.Getenv, string(cmdline), in, out); reason != "" {
		fmt.Fprintf(e.Stdout, "unbrick wizard: accessible mode (%s)\n", reason)
		ui = wizard.NewLineUI(e.Stdin, e.Stdout)
	} else {
		ui = wizard.NewTUI(in, out)
	}
	return wizard.Run(context.Background(), wizard.Config{
		UI: ui, Out: e.Stdout, Version: toolVersion(), Targets: targets, Options: o,
		KeyFiles: kf.keyFiles, LogDir: lf.log, JournalDir: jdir,
	})
}
