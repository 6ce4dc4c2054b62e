package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/unbrick/unbrick/internal/exitcode"
	"github.com/unbrick/unbrick/internal/remedy"
)

func newScanCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "scan [key flags] [flags] [TARGET...]",
		Short: "report Windows volumes, keys, journal state and faulty files (read-only)",
		Long: `Reports, for every volume on each TARGET (disk image or block device; none: the
host's disks), its partition, encryption, key protectors and which key opened it,
computer name, NTFS journal state and every file the rules match with the
verdict. Opens everything read-only. --json prints JSON Lines: one JSON object
per volume, one line each. Exit 0 unless a target cannot be read (1): a locked
volume is reported, not an error.`,
		Example: `  unbrick scan --keys BitLockerKeys.csv disk.img
  unbrick scan --recovery-password-file rp.txt --json /dev/sdb /dev/sdc
  unbrick scan --rules acme.json
  ls /vms/*/*.vhd | unbrick scan --keys BitLockerKeys.csv --targets-from -`,
	}
	kf := addKeyFlags(c)
	rf := addRulesFlags(c)
	asJSON := c.Flags().Bool("json", false, "print JSON Lines: one JSON object per volume")
	targetsFrom := addTargetsFromFlag(c)
	c.RunE = func(_ *cobra.Command, pos []string) error {
		targets, err := gatherTargets(e, pos, *targetsFrom, kf)
		if err != nil {
			return usageError{err}
		}
		return exit(runScan(e, kf, rf, *asJSON, targets))
	}
	return c
}

// runScan reports every volume and what fix would do. Never writes.
func runScan(e *env, kf *keyFlags, rf *rulesFlags, asJSON bool, pos []string) int {
	o, pack, err := engineOptions(e, kf, rf)
	if err != nil {
		fmt.Fprintf(e.Stderr, "unbrick scan: %v\n", err)
		return exitcode.Usage
	}
	if !asJSON {
		printPack(e.Stdout, pack)
	} else if pack != nil && (!pack.Info.Signed || pack.Info.ExpiryNote != "") {
		printPack(e.Stderr, pack)
	}
	targets, err := resolveTargets(e, pos, &o)
	if err != nil {
		fmt.Fprintf(e.Stderr, "unbrick scan: %v\n", err)
		return exitcode.Failure
	}
	vols := remedy.Scan(context.Background(), targets, o)
	if asJSON {
		enc := json.NewEncoder(e.Stdout)
		for _, v := range vols {
			enc.Encode(v)
		}
	} else {
		for _, v := range vols {
			printVolume(e.Stdout, v)
		}
	}
	return remedy.ExitCode(vols, true)
}
