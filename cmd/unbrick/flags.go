package main

import (
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/unbrick/unbrick/internal/keys"
	"github.com/unbrick/unbrick/ntfs"
)

// The flags several subcommands share are defined here once. Flags of one
// group carry the flag-group annotation, so that help shows them under a
// heading of their own (see helpText).
const flagGroupAnnotation = "unbrick_flag_group"

// Flag groups, in the order help shows them after the command's own flags.
const (
	groupKeys    = "Key flags (BitLocker; secrets are never printed, only key protector IDs)"
	groupUnclean = "Unclean NTFS journal flags"
)

var flagGroups = []string{groupKeys, groupUnclean}

// inGroup puts the flags named into a help group.
func inGroup(fs *pflag.FlagSet, group string, names ...string) {
	for _, n := range names {
		if err := fs.SetAnnotation(n, flagGroupAnnotation, []string{group}); err != nil {
			panic(err) // a flag name misspelt here
		}
	}
}

// addKeyFlags registers the BitLocker key flags on c: every subcommand
// that opens volumes takes them. The repeatable ones are string arrays,
// not slices: a password or file name may hold a comma.
func addKeyFlags(c *cobra.Command) *keyFlags {
	k := &keyFlags{}
	fs := c.Flags()
	fs.StringArrayVar(&k.recoveryPasswords, "recovery-password", nil, "BitLocker recovery `PASSWORD` (48 digits, dashes or spaces optional); repeatable; also $"+envRecoveryPassword)
	fs.StringVar(&k.recoveryPasswordFile, "recovery-password-file", "", "read recovery passwords from `FILE`, one per line ('-' = standard input)")
	fs.StringArrayVar(&k.passwords, "password", nil, "BitLocker user `PASSWORD`; repeatable; also $"+envPassword)
	fs.StringArrayVar(&k.beks, "bek", nil, "BitLocker startup or recovery key `FILE` ({GUID}.BEK); repeatable")
	fs.StringArrayVar(&k.fveks, "fvek", nil, "full volume encryption key as `HEX`, as its FVE metadata entry stores it; repeatable")
	fs.StringArrayVar(&k.keyFiles, "keys", nil, "key export `FILE` (AD, Entra/Intune, MBAM, CrowdStrike or any CSV; an age-sealed bundle too), matched by key protector ID; repeatable")
	fs.StringVar(&k.passphraseFile, "passphrase-file", "", "passphrase of an age-sealed --keys bundle: the first line of `FILE` (else $"+keys.PassphraseEnv+", else a prompt)")
	inGroup(fs, groupKeys, "recovery-password", "recovery-password-file", "password", "bek", "fvek", "keys", "passphrase-file")
	return k
}

// uncleanFlags are --unclean and --unclean-fallback: what fix and ntfs rm
// do with an unclean NTFS journal (a host that crashed).
type uncleanFlags struct {
	unclean, fallback string
}

func addUncleanFlags(c *cobra.Command) *uncleanFlags {
	u := &uncleanFlags{}
	fs := c.Flags()
	fs.StringVar(&u.unclean, "unclean", string(ntfs.UncleanReplay), "unclean NTFS journal `POLICY`: replay (redo its committed transactions as Windows does at mount, then delete), refuse (write nothing, exit 4) or reset (empty it as ntfsfix does; chkdsk runs at next boot)")
	fs.StringVar(&u.fallback, "unclean-fallback", string(ntfs.UncleanRefuse), "with --unclean=replay, the `POLICY` for a journal unbrick cannot replay: refuse (exit 4) or reset")
	inGroup(fs, groupUnclean, "unclean", "unclean-fallback")
	return u
}

// policies parses the two flags.
func (u *uncleanFlags) policies() (ntfs.UncleanPolicy, ntfs.UncleanPolicy, error) {
	return parseUncleanFlags(u.unclean, u.fallback)
}

// addTargetsFromFlag is --targets-from FILE: TARGETs listed in a file,
// for scan and fix over many VM disks or devices (readTargetList).
func addTargetsFromFlag(c *cobra.Command) *string {
	return c.Flags().String("targets-from", "", "also work on the TARGETs listed in `FILE`, one per line ('#' comments; '-' = standard input)")
}

// logFlags are --log DIR and --journal DIR: where fix and the wizard
// keep the fleet log and the undo journals.
type logFlags struct {
	log, journal string
}

func addLogFlags(c *cobra.Command) *logFlags {
	l := &logFlags{}
	c.Flags().StringVar(&l.log, "log", defaultLogDir, "fleet log `DIR` (unbrick.jsonl, unbrick.csv)")
	c.Flags().StringVar(&l.journal, "journal", "", "undo journal `DIR` (default: the fleet log DIR's journal/)")
	return l
}

// journalDir is --journal, else LOGDIR/journal.
func (l *logFlags) journalDir() string {
	if l.journal != "" {
		return l.journal
	}
	return filepath.Join(l.log, "journal")
}

// addTechnicianFlag registers --technician NAME (fix, wizard, undo).
func addTechnicianFlag(c *cobra.Command) *string {
	return c.Flags().String("technician", "", "technician `NAME` for the fleet log")
}

// addPartitionFlag registers --partition N; which is what is picked when
// it is not given.
func addPartitionFlag(c *cobra.Command, which string) *int {
	return c.Flags().Int("partition", 0, "partition `N` of TARGET, as Linux numbers it (default: "+which+")")
}
