package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/unbrick/unbrick/internal/exitcode"
)

func newNTFSCatCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "cat [key flags] [flags] TARGET PATH",
		Short: "copy a file of an NTFS volume to standard output",
		Long: `Copies the content (unnamed $DATA stream) of the file PATH on the NTFS
volume on TARGET (BitLocker is unlocked with the key flags) to standard
output, unchanged: it is the one output unbrick does not redact. Sparse and
compressed files are expanded. Read-only.`,
		Example: `  unbrick ntfs cat --partition 3 disk.img Windows/System32/drivers/etc/hosts
  unbrick ntfs cat --keys BitLockerKeys.csv /dev/sdb 'Windows\System32\config\SYSTEM' > SYSTEM`,
		Args: args("TARGET", "PATH"),
	}
	kf := addKeyFlags(c)
	partition := addPartitionFlag(c, "the only NTFS or BitLocker volume")
	c.RunE = func(_ *cobra.Command, pos []string) error { return exit(runNTFSCat(e, kf, *partition, pos)) }
	return c
}

func runNTFSCat(e *env, kf *keyFlags, partition int, pos []string) int {
	o, code, err := openNTFSRead(e, "unbrick ntfs cat", pos[0], partition, kf)
	if err != nil {
		fmt.Fprintf(e.Stderr, "unbrick ntfs cat: %v\n", err)
		return code
	}
	defer o.Close()
	r, err := o.Vol.Open(pos[1])
	if err != nil {
		fmt.Fprintf(e.Stderr, "unbrick ntfs cat: %s: %v\n", pos[1], err)
		return ntfsExitCode(err)
	}
	if _, err := io.Copy(e.Stdout, r); err != nil {
		fmt.Fprintf(e.Stderr, "unbrick ntfs cat: %s: %v\n", pos[1], err)
		return exitcode.Failure
	}
	return exitcode.OK
}
