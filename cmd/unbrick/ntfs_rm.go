package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/unbrick/unbrick/internal/exitcode"
	"github.com/unbrick/unbrick/internal/remedy"
	"github.com/unbrick/unbrick/ntfs"
	"github.com/unbrick/unbrick/ntfs/edit"
)

// ntfsRmResult is the JSON output of `unbrick ntfs rm --json`.
type ntfsRmResult struct {
	Target  string             `json:"target"`
	Path    string             `json:"path"`
	DryRun  bool               `json:"dry_run"`
	Applied bool               `json:"applied"`
	Deleted []edit.DeletedFile `json:"deleted,omitempty"`
	Writes  []ntfsRmWrite      `json:"writes,omitempty"`
	Notes   []string           `json:"notes,omitempty"`
	// JournalFile is the undo journal of the delete ('unbrick undo').
	JournalFile string `json:"journal_file,omitempty"`
	Error       string `json:"error,omitempty"`
}

type ntfsRmWrite struct {
	Offset  int64  `json:"offset"`
	Sectors int    `json:"sectors"`
	Changed int    `json:"changed_bytes"`
	What    string `json:"what"`
}

func newNTFSRmCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "rm [key flags] [unclean journal flags] [flags] TARGET PATH",
		Short: "delete a file safely (--dry-run prints the write plan)",
		Long: `Deletes the file PATH from the NTFS volume on TARGET (BitLocker is unlocked
with the key flags), the way Windows would: both directory entries (long
and 8.3 name) leave the parent's index, the MFT record is freed (sequence
number advanced), and its record and clusters are marked free. Writes are
planned first (--dry-run prints the plan), checked against the disk, made
in an order that a power cut cannot turn into corruption, and read back.
A file with an object ID also leaves the $ObjId:$O index.
Refused (exit 4), writing nothing: directories, hard links, reparse points,
a hibernated Windows (unless --hibernated=discard), an
unclean journal unbrick cannot replay (unless --unclean-fallback=reset or
--unclean=reset), a stale $MFTMirr. An unclean journal is replayed first
by default, as Windows does when it mounts the volume.
It writes through the same path as fix: the undo journal (--journal DIR)
first, then the writes, each flushed, then the volume is re-opened and
checked; 'unbrick undo --journal FILE TARGET' puts the disk back.
Low-level tool: 'unbrick fix' adds rules and a fleet log.`,
		Example: `  unbrick ntfs rm --dry-run --partition 3 disk.img 'Windows\System32\drivers\CrowdStrike\C-00000291-00000000-00000032.sys'
  unbrick ntfs rm --keys BitLockerKeys.csv --unclean=reset /dev/sdb Windows/Temp/stuck.sys`,
		Args: args("TARGET", "PATH"),
	}
	fs := c.Flags()
	kf := addKeyFlags(c)
	partition := addPartitionFlag(c, "the only NTFS or BitLocker volume")
	dryRun := fs.Bool("dry-run", false, "print the write plan (sectors, bytes changed, structure) and write nothing")
	uf := addUncleanFlags(c)
	hibernated := fs.String("hibernated", string(ntfs.HibernatedRefuse), "live hibernation file `POLICY`: refuse, or discard (invalidate it: the hibernated session is lost)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	journalDir := fs.String("journal", filepath.Join(defaultLogDir, "journal"), "undo journal `DIR`")
	c.RunE = func(_ *cobra.Command, pos []string) error {
		up, fb, err := uf.policies()
		if err != nil {
			return usageError{err}
		}
		hp, err := ntfs.ParseHibernatedPolicy(*hibernated)
		if err != nil {
			return usageError{err}
		}
		return exit(runNTFSRm(e, kf, *partition, *dryRun, up, fb, hp, *asJSON, *journalDir, pos))
	}
	return c
}

func runNTFSRm(e *env, kf *keyFlags, partition int, dryRun bool, up, fb ntfs.UncleanPolicy, hp ntfs.HibernatedPolicy, asJSON bool, journalDir string, pos []string) int {
	const prog = "unbrick ntfs rm"
	res := &ntfsRmResult{Target: pos[0], Path: pos[1], DryRun: dryRun}
	fail := func(code int, err error) int {
		res.Error = err.Error()
		if asJSON {
			writeRmJSON(e, res)
		}
		fmt.Fprintf(e.Stderr, "%s: %v\n", prog, err)
		return code
	}
	o, code, err := openTarget(e, prog, kf, remedy.OpenRequest{Target: pos[0], Partition: partition, Writable: !dryRun, Stage: true})
	if err != nil {
		return fail(code, err)
	}
	defer o.Close()
	if !dryRun {
		// The check fix makes: never plan a write to a volume the image
		// does not hold whole.
		if err := o.CheckWhole(); err != nil {
			return fail(exitcode.Refused, fmt.Errorf("%s: %w", o.Name(), err))
		}
	}
	v, err := o.NTFS()
	if err != nil {
		return fail(exitcode.Failure, fmt.Errorf("%s: %w", o.Name(), err))
	}
	v, replay, up, code, err := rmReplay(o, v, up, fb, hp)
	if err != nil {
		return fail(code, err)
	}
	plan, err := edit.PlanDelete(v, pos[1], edit.DeleteOptions{Unclean: up, Hibernated: hp})
	if err != nil {
		return fail(ntfsWriteExitCode(err), err)
	}
	// Staged after the replay, on the volume as the replay leaves it:
	// Commit writes both, in this order, through one undo journal.
	if err := o.Stage(plan); err != nil {
		return fail(ntfsWriteExitCode(err), fmt.Errorf("stage the deletion (nothing was written): %w", err))
	}
	if replay != nil {
		all := &edit.Plan{}
		if err := all.Append(replay.Plan); err != nil {
			return fail(exitcode.Failure, err)
		}
		if err := all.Append(plan); err != nil {
			return fail(exitcode.Failure, err)
		}
		plan = all
		plan.Notes = append(plan.Notes, replay.Summary())
	}
	res.Deleted, res.Notes = plan.Deleted, plan.Notes
	for i := range plan.Writes {
		w := &plan.Writes[i]
		res.Writes = append(res.Writes, ntfsRmWrite{Offset: w.Offset, Sectors: w.Len() / plan.SectorSize, Changed: w.ChangedBytes(), What: w.What})
	}
	if !asJSON {
		fmt.Fprint(e.Stdout, plan.String())
	}
	if dryRun {
		if asJSON {
			writeRmJSON(e, res)
		} else {
			fmt.Fprintln(e.Stdout, "dry run: nothing was written")
		}
		return exitcode.OK
	}
	// The write path fix uses: undo journal, commit (before-images
	// checked, one sync barrier after each write), re-open and verify.
	c, err := o.Commit(remedy.JournalOptions{Dir: journalDir, RunID: remedy.NewRunID(time.Now())})
	if c != nil {
		res.JournalFile = c.JournalFile
		if c.Warning != "" {
			res.Notes = append(res.Notes, c.Warning)
			fmt.Fprintf(e.Stderr, "%s: %s\n", prog, c.Warning)
		}
	}
	if err != nil {
		return fail(openExitCode(err), err)
	}
	if err := remedy.VerifyDeleted(o, plan.Deleted); err != nil {
		return fail(exitcode.Failure, fmt.Errorf("%w; run 'unbrick undo --journal %s %s' to put the disk back", err, c.JournalFile, pos[0]))
	}
	res.Applied = true
	if asJSON {
		writeRmJSON(e, res)
	} else {
		fmt.Fprintf(e.Stdout, "deleted %s (%d writes); undo journal %s\n", pos[1], len(plan.Writes), c.JournalFile)
	}
	return exitcode.OK
}

func writeRmJSON(e *env, res *ntfsRmResult) {
	enc := json.NewEncoder(e.Stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(res)
}

// ntfsWriteExitCode maps write-side errors: refusals (unsafe state,
// unsupported file, disk changed since planning) are 4, the rest 1.
func ntfsWriteExitCode(err error) int {
	var dc *edit.DiskChangedError
	switch {
	case errors.Is(err, ntfs.ErrRefused), errors.As(err, &dc):
		return exitcode.Refused
	case errors.Is(err, os.ErrPermission):
		return exitcode.Failure
	}
	return exitcode.Failure
}
