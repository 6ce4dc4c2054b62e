package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// newManCmd is the hidden `unbrick man --dir DIR`: one man page per
// command (section 8: unbrick is an administrator's tool), generated from
// the same command definitions as --help.
func newManCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:     "man --dir DIR [flags]",
		Short:   "write the man pages of every command",
		Long:    "Writes one man page (section 8) per command into DIR: unbrick.8, unbrick-fix.8, unbrick-ntfs-rm.8, ...",
		Example: "  unbrick man --dir /usr/local/share/man/man8",
		Hidden:  true,
		Args:    args(),
	}
	dir := c.Flags().String("dir", "", "write the pages into `DIR` (created if needed); required")
	c.RunE = func(c *cobra.Command, _ []string) error {
		if *dir == "" {
			return usagef("need --dir DIR")
		}
		if err := writeManPages(c.Root(), *dir); err != nil {
			fmt.Fprintf(e.Stderr, "unbrick man: %v\n", err)
			return exitStatus(1)
		}
		return nil
	}
	return c
}

// writeManPages writes the man pages of root and every command under it.
func writeManPages(root *cobra.Command, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	root.DisableAutoGenTag = true
	return doc.GenManTree(root, &doc.GenManHeader{
		Title:   "UNBRICK",
		Section: "8",
		Source:  "unbrick " + toolVersion(),
		Manual:  "unbrick manual",
	}, dir)
}
