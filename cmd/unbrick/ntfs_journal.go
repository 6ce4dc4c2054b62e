package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/unbrick/unbrick/internal/exitcode"
	"github.com/unbrick/unbrick/ntfs"
	"github.com/unbrick/unbrick/ntfs/logfile"
	"github.com/unbrick/unbrick/ntfs/replay"
)

func newNTFSJournalCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "journal [key flags] [flags] TARGET",
		Short: "show $LogFile, dirty flag and hibernation state",
		Long: `Shows whether the NTFS volume on TARGET is safe to write: the $LogFile
journal (version 1.1 or 2.0, clean or not, its restart pages), the volume
dirty flag (chkdsk scheduled) and the hiberfil.sys header (a live "hibr" /
"HIBR" image means Windows is hibernated or shut down with Fast Startup).
It also analyses the log records for a replay: the checkpoint LSN, the
committed transactions a replay would redo, the operation types they use
and which of them unbrick can redo (JSON: field "analysis").
Read-only. A host that crashed in a boot loop usually shows an unclean
version 2.0 journal: 'fix' and 'ntfs rm' replay it first by default (what
they would redo is shown here); --unclean=reset empties it instead.`,
		Example: `  unbrick ntfs journal --partition 3 disk.img
  unbrick ntfs journal --keys BitLockerKeys.csv --json /dev/nvme0n1`,
		Args: args("TARGET"),
	}
	kf := addKeyFlags(c)
	partition := addPartitionFlag(c, "the only NTFS or BitLocker volume")
	asJSON := c.Flags().Bool("json", false, "print JSON (field \"clean\": true|false)")
	c.RunE = func(_ *cobra.Command, pos []string) error {
		return exit(runNTFSJournal(e, kf, *partition, *asJSON, pos[0]))
	}
	return c
}

func runNTFSJournal(e *env, kf *keyFlags, partition int, asJSON bool, target string) int {
	const prog = "unbrick ntfs journal"
	o, code, err := openNTFSRead(e, prog, target, partition, kf)
	if err != nil {
		fmt.Fprintf(e.Stderr, "%s: %v\n", prog, err)
		return code
	}
	defer o.Close()
	js, err := o.Vol.JournalState()
	if err != nil {
		fmt.Fprintf(e.Stderr, "%s: %s: %v\n", prog, o.Opened.Name(), err)
		return exitcode.Failure
	}
	// The replay analysis needs the whole log; an unreadable log is
	// reported next to the restart-page state, which stays usable.
	rep := journalReport{JournalState: js}
	if js.JournalVersion != "" {
		an, aerr := replay.AnalyzeJournal(o.Vol)
		if aerr != nil {
			rep.AnalysisError = aerr.Error()
		} else {
			rep.Analysis = an
		}
	}
	if asJSON {
		enc := json.NewEncoder(e.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return exitcode.Failure
		}
		return exitcode.OK
	}
	fmt.Fprintf(e.Stdout, "%s\n%s", o.Opened.Name(), js)
	switch {
	case rep.Analysis != nil:
		fmt.Fprint(e.Stdout, rep.Analysis)
	case rep.AnalysisError != "":
		fmt.Fprintf(e.Stdout, "journal replay analysis: unavailable: %s\n", rep.AnalysisError)
	}
	return exitcode.OK
}

// journalReport is the JSON of `ntfs journal`: the journal state's fields
// (including "clean") at the top level, the replay analysis under
// "analysis".
type journalReport struct {
	*ntfs.JournalState
	Analysis      *logfile.JournalAnalysis `json:"analysis,omitempty"`
	AnalysisError string                   `json:"analysis_error,omitempty"`
}
