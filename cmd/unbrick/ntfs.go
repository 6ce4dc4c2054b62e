package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/unbrick/unbrick/internal/exitcode"
	"github.com/unbrick/unbrick/internal/remedy"
	"github.com/unbrick/unbrick/ntfs"
)

func newNTFSCmd(e *env) *cobra.Command {
	return newGroupCmd(e, "ntfs", "low-level NTFS tools: ls, cat, rm, journal",
		`Low-level tools for experts. TARGET is a disk image, a block device or one
volume; --partition N picks a partition when the target has several NTFS or
BitLocker volumes (BitLocker is unlocked with the key flags). PATH uses / or \
and is case-insensitive; 8.3 names work too.`,
		`  unbrick ntfs ls --partition 3 disk.img Windows/System32/drivers/CrowdStrike
  unbrick ntfs journal --partition 3 disk.img`,
		newNTFSLsCmd(e), newNTFSCatCmd(e), newNTFSRmCmd(e), newNTFSJournalCmd(e))
}

// openedNTFS is a read-only NTFS volume opened from a TARGET.
type openedNTFS struct {
	Vol    *ntfs.Volume
	Opened *remedy.Opened
}

// Close releases the target.
func (o *openedNTFS) Close() { o.Opened.Close() }

// openNTFSRead opens TARGET read-only through the engine (--partition N,
// else the only NTFS or BitLocker volume; BitLocker is unlocked with the
// key flags) and opens its NTFS. It returns the exit code to use with an
// error.
func openNTFSRead(e *env, prog, target string, partition int, kf *keyFlags) (*openedNTFS, int, error) {
	o, code, err := openTarget(e, prog, kf, remedy.OpenRequest{Target: target, Partition: partition})
	if err != nil {
		return nil, code, err
	}
	v, err := o.NTFS()
	if err != nil {
		o.Close()
		return nil, exitcode.Failure, fmt.Errorf("%s: %w", o.Name(), err)
	}
	return &openedNTFS{Vol: v, Opened: o}, exitcode.OK, nil
}

// ntfsExitCode maps an ntfs error to an exit code.
func ntfsExitCode(err error) int {
	_ = err // every read-side ntfs error is a failure (1)
	return exitcode.Failure
}
