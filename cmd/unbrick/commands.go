package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/unbrick/unbrick/internal/exitcode"
)

// newRootCmd builds the whole command tree, bound to e: every subcommand
// reads and writes e's streams. Each subcommand lives in a file of its own
// (newVersionCmd in version.go, ...); add one by adding its constructor here.
func newRootCmd(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "unbrick",
		Short: "bring back Windows hosts that a bad vendor update left in a boot loop",
		Long: `unbrick finds every Windows system volume on a disk image, a block device or
the host it runs on, unlocks BitLocker with the recovery keys you supply,
deletes exactly the faulty files a rule names and writes a fleet log record
per host. The USB stick it builds runs it at boot.

Exit codes (every command): 0 ok, 1 failure, 2 usage, 3 locked (no usable
key), 4 refused (unsafe state or policy), 5 needs review.`,
		Example: `  unbrick scan --keys BitLockerKeys.csv disk.img
  unbrick fix --keys BitLockerKeys.csv --log /mnt/usb/logs /dev/nvme0n1
  unbrick help fix`,
		Version: toolVersion(),
		// No Args: cobra's Find then reports an unknown command.
		SilenceErrors: true, // run() reports errors: exit codes and hints are ours
		SilenceUsage:  true,
		RunE:          groupRunE(e),
		Annotations:   map[string]string{groupAnnotation: "yes"},
	}
	// Before the completion command is made: it keeps the output it finds.
	root.SetIn(e.Stdin)
	root.SetOut(e.Stdout)
	root.SetErr(e.Stderr)
	root.SetVersionTemplate(versionLine() + "\n")
	root.SetHelpFunc(func(c *cobra.Command, _ []string) { io.WriteString(c.OutOrStdout(), helpText(c)) })
	root.SetUsageFunc(func(c *cobra.Command) error { _, err := io.WriteString(c.OutOrStderr(), helpText(c)); return err })
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{err} })
	root.SetHelpCommand(newHelpCmd())
	root.AddCommand(
		newVersionCmd(e),
		newBitLockerCmd(e),
		newNTFSCmd(e),
		newImageCmd(e),
		newScanCmd(e),
		newFixCmd(e),
		newWizardCmd(e),
		newUndoCmd(e),
		newKeysCmd(e),
		newReportCmd(e),
		newRulesCmd(e),
		newShipCmd(e),
		newManCmd(e),
	)
	root.InitDefaultCompletionCmd()
	decorateCompletionCmd(root)
	return root
}

// newGroupCmd is a command that only holds subcommands (bitlocker, ntfs,
// image, keys): alone it prints its help on standard error and exits 2;
// an unknown subcommand is a usage error naming the known ones.
func newGroupCmd(e *env, use, short, long, example string, subs ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{
		Use:     use,
		Short:   short,
		Long:    long,
		Example: example,
		Args:    groupArgs,
		RunE:    groupRunE(e),

		Annotations: map[string]string{groupAnnotation: "yes"},
	}
	c.AddCommand(subs...)
	return c
}

// groupArgs refuses any argument of a group command: the first one was
// not one of its subcommands.
func groupArgs(c *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	var names []string
	for _, s := range c.Commands() {
		if s.IsAvailableCommand() {
			names = append(names, s.Name())
		}
	}
	return fmt.Errorf("unknown subcommand %q (%s)", args[0], strings.Join(names, ", "))
}

// groupRunE runs a group command (or the root) named alone: its help goes
// to standard error and the exit code is 2, as for any usage error.
func groupRunE(e *env) func(*cobra.Command, []string) error {
	return func(c *cobra.Command, _ []string) error {
		io.WriteString(e.Stderr, helpText(c))
		return exitStatus(exitcode.Usage)
	}
}

// newHelpCmd is `unbrick help [COMMAND...]`: cobra's, except that an
// unknown topic is a usage error (exit 2), not help for the root.
func newHelpCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "help [COMMAND...]",
		Short: "show the help of any command",
		Long:  "Shows the help of the command named, as COMMAND --help does.",
		Example: `  unbrick help fix
  unbrick help ntfs rm`,
		ValidArgsFunction: func(c *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			cmd, _, err := c.Root().Find(args)
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var out []cobra.Completion
			for _, s := range cmd.Commands() {
				if s.IsAvailableCommand() && strings.HasPrefix(s.Name(), toComplete) {
					out = append(out, cobra.CompletionWithDesc(s.Name(), s.Short))
				}
			}
			return out, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(c *cobra.Command, args []string) error {
			cmd, rest, err := c.Root().Find(args)
			if err != nil || cmd == nil || len(rest) > 0 {
				return usageError{fmt.Errorf("unknown help topic %q", strings.Join(args, " "))}
			}
			cmd.InitDefaultHelpFlag() // as COMMAND --help shows it
			return cmd.Help()
		},
	}
}

// decorateCompletionCmd gives cobra's completion command and its shell
// subcommands examples, for help and the man pages.
func decorateCompletionCmd(root *cobra.Command) {
	for _, c := range root.Commands() {
		if c.Name() != "completion" {
			continue
		}
		c.Short = "print the shell completion script for bash, zsh, fish or powershell"
		c.Example = `  source <(unbrick completion bash)
  unbrick completion zsh > "${fpath[1]}/_unbrick"`
		for _, s := range c.Commands() {
			switch s.Name() {
			case "bash":
				s.Example = "  unbrick completion bash > /etc/bash_completion.d/unbrick"
			case "zsh":
				s.Example = `  unbrick completion zsh > "${fpath[1]}/_unbrick"`
			case "fish":
				s.Example = "  unbrick completion fish > ~/.config/fish/completions/unbrick.fish"
			case "powershell":
				s.Example = "  unbrick completion powershell | Out-String | Invoke-Expression"
			}
		}
	}
}

// exitStatus ends a command that has already said what went wrong: run
// exits with it and prints nothing more.
type exitStatus int

func (s exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(s)) }

// exit turns a subcommand's exit code into RunE's error.
func exit(code int) error {
	if code == exitcode.OK {
		return nil
	}
	return exitStatus(code)
}

// usageError is a mistake in the command line (exit 2): run prints it
// with a hint to run --help. Errors cobra returns (an unknown command or
// flag, a wrong number of arguments) are usage errors too.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

// usagef returns a usageError.
func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// exitCode is the process exit code for what root.ExecuteC returned, and
// prints the message of a usage error with its hint.
func exitCode(w io.Writer, c *cobra.Command, err error) int {
	var st exitStatus
	switch {
	case err == nil:
		return exitcode.OK
	case errors.As(err, &st):
		return int(st)
	}
	path := "unbrick"
	if c != nil {
		path = c.CommandPath()
	}
	fmt.Fprintf(w, "%s: %v\nRun '%s --help' for usage.\n", path, err, path)
	return exitcode.Usage
}

// args returns an argument validator for a command that takes exactly the
// arguments named ("TARGET", "PATH"); the error names them.
func args(names ...string) cobra.PositionalArgs {
	return func(_ *cobra.Command, got []string) error {
		if len(got) == len(names) {
			return nil
		}
		if len(names) == 0 {
			return fmt.Errorf("takes no arguments (got %q)", got)
		}
		return fmt.Errorf("need %s (got %d argument(s))", joinNames(names), len(got))
	}
}

// minArgs returns a validator for at least one argument of the kind named.
func minArgs(name string) cobra.PositionalArgs {
	return func(_ *cobra.Command, got []string) error {
		if len(got) > 0 {
			return nil
		}
		return fmt.Errorf("name at least one %s", name)
	}
}

func joinNames(names []string) string {
	switch len(names) {
	case 0:
		return "no arguments"
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// helpText is a command's help: its description, usage line,
// subcommands, examples and flags, the shared flag groups under headings
// of their own.
func helpText(c *cobra.Command) string {
	var b strings.Builder
	desc := c.Long
	if desc == "" {
		desc = c.Short
	}
	if desc != "" {
		b.WriteString(strings.TrimSpace(desc) + "\n\n")
	}
	b.WriteString("Usage:\n")
	if c.Runnable() && !isGroup(c) {
		fmt.Fprintf(&b, "  %s\n", c.UseLine())
	}
	if c.HasAvailableSubCommands() {
		fmt.Fprintf(&b, "  %s COMMAND [flags] [arguments]\n\nCommands:\n", c.CommandPath())
		width := 0
		for _, s := range c.Commands() {
			if s.IsAvailableCommand() || s.Name() == "help" {
				width = max(width, len(s.Name()))
			}
		}
		for _, s := range c.Commands() {
			if s.IsAvailableCommand() || s.Name() == "help" {
				fmt.Fprintf(&b, "  %-*s  %s\n", width, s.Name(), s.Short)
			}
		}
	}
	if c.Example != "" {
		fmt.Fprintf(&b, "\nExamples:\n%s\n", strings.TrimRight(c.Example, "\n"))
	}
	groups := map[string]*pflag.FlagSet{}
	own := pflag.NewFlagSet(c.Name(), pflag.ContinueOnError)
	c.LocalFlags().VisitAll(func(f *pflag.Flag) {
		g := f.Annotations[flagGroupAnnotation]
		if len(g) == 0 {
			own.AddFlag(f)
			return
		}
		if groups[g[0]] == nil {
			groups[g[0]] = pflag.NewFlagSet(g[0], pflag.ContinueOnError)
		}
		groups[g[0]].AddFlag(f)
	})
	if own.HasAvailableFlags() {
		fmt.Fprintf(&b, "\nFlags:\n%s", own.FlagUsagesWrapped(100))
	}
	for _, g := range flagGroups {
		if fs := groups[g]; fs != nil {
			fmt.Fprintf(&b, "\n%s:\n%s", g, fs.FlagUsagesWrapped(100))
		}
	}
	if c.HasAvailableSubCommands() {
		fmt.Fprintf(&b, "\nRun '%s COMMAND --help' for a command's flags.\n", c.CommandPath())
	}
	return b.String()
}

// groupAnnotation marks the commands that only hold subcommands.
const groupAnnotation = "unbrick_group"

// isGroup reports whether c only holds subcommands (the root too).
func isGroup(c *cobra.Command) bool { return c.Annotations[groupAnnotation] != "" }
