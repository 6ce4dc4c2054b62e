package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"

	"github.com/unbrick/unbrick/internal/exitcode"
	"github.com/unbrick/unbrick/internal/remedy"
)

// runScan implements `unbrick scan [key flags] [--rules F] [--json]
// [TARGET...]`: report every volume and what fix would do. Never writes.
func runScan(e *env, args []string) int {
	fs := flag.NewFlagSet("scan", flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	kf := addKeyFlags(fs)
	rulesFile := fs.String("rules", "", "rules `FILE` (default: the built-in crowdstrike-2024-07-19 rule)")
	asJSON := fs.Bool("json", false, "print the volume reports as JSON")
	fs.Usage = func() {
		fmt.Fprintf(e.Stderr, "usage: unbrick scan [key flags] [--rules F] [--json] [TARGET...]\n\n"+
			"Reports, for every volume on each TARGET (disk image or block device; none: the\n"+
			"host's disks), its partition, encryption, key protectors and which key opened it,\n"+
			"computer name, NTFS journal state and every file the rules match with the\n"+
			"verdict. Opens everything read-only. Exit 0 unless a target cannot be read (1).\n\n")
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
		fmt.Fprintf(e.Stderr, "unbrick scan: %v\n", err)
		return exitcode.Usage
	}
	targets, err := resolveTargets(e, pos, &o)
	if err != nil {
		fmt.Fprintf(e.Stderr, "unbrick scan: %v\n", err)
		return exitcode.Failure
	}
	vols := remedy.Scan(context.Background(), targets, o)
	if *asJSON {
		enc := json.NewEncoder(e.Stdout)
		enc.SetIndent("", "  ")
		if vols == nil {
			vols = []*remedy.Volume{}
		}
		enc.Encode(vols)
	} else {
		for _, v := range vols {
			printVolume(e.Stdout, v)
		}
	}
	return remedy.ExitCode(vols, true)
}
