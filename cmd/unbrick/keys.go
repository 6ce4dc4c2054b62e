package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/unbrick/unbrick/internal/durable"
	"github.com/unbrick/unbrick/internal/exitcode"
	"github.com/unbrick/unbrick/internal/keys"
)

func newKeysCmd(e *env) *cobra.Command {
	return newGroupCmd(e, "keys", "check key exports; seal them into an encrypted bundle",
		`Checks BitLocker recovery key exports (AD DS, Entra/Intune, MBAM, CrowdStrike,
Get-BitLockerVolume, manage-bde or any CSV with a recovery password column)
and seals them into one age-encrypted bundle that --keys opens.`,
		`  unbrick keys check BitLockerKeys.csv
  unbrick keys seal --out keys.age --passphrase-file pass.txt BitLockerKeys.csv`,
		newKeysCheckCmd(e), newKeysSealCmd(e))
}

// keysPassphrase builds the passphrase source for opening sealed bundles:
// --passphrase-file, then UNBRICK_KEYS_PASSPHRASE, then the terminal.
func keysPassphrase(e *env, file string) keys.PassphraseFunc {
	return keys.PassphraseSource(file, e.Getenv, func(bundle string) (string, error) {
		pw, err := readSecret(e, "Passphrase for "+bundle+": ")
		if err != nil {
			return "", fmt.Errorf("%v; set %s or pass --passphrase-file", err, keys.PassphraseEnv)
		}
		return pw, nil
	})
}

func readIdentities(files []string) ([]keys.Identity, error) {
	var ids []keys.Identity
	for _, f := range files {
		got, err := keys.ReadIdentityFile(f)
		if err != nil {
			return nil, err
		}
		ids = append(ids, got...)
	}
	return ids, nil
}

// keysSealFlags are the flags of `keys seal`.
type keysSealFlags struct {
	out, pwFile           string
	recips, recipFiles    []string
	armor, force, skipBad bool
	workFactor            int
}

func newKeysSealCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "seal --out FILE [--passphrase-file FILE | -r RECIPIENT... | -R FILE...] [flags] FILE...",
		Short: "seal key exports into one age-encrypted bundle",
		Long: `Reads key exports (any format 'unbrick keys check' accepts), checks every row, and
writes them as one age-encrypted bundle for --keys (mode 0600, written to a
temporary name, synced and renamed). With neither a passphrase file nor
recipients, the passphrase comes from ` + keys.PassphraseEnv + ` or is asked twice.
Delete the plaintext exports afterwards.`,
		Example: `  unbrick keys seal --out keys.age --passphrase-file pass.txt BitLockerKeys.csv
  unbrick keys seal --out keys.age -r age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p export.csv
  unbrick keys seal --out keys.age -R ~/.ssh/id_ed25519.pub --armor export.csv`,
		Args: minArgs("key export FILE"),
	}
	var f keysSealFlags
	fs := c.Flags()
	fs.StringVar(&f.out, "out", "", "write the sealed bundle to `FILE` (e.g. keys.age); required")
	fs.StringVar(&f.pwFile, "passphrase-file", "", "seal with the passphrase on the first line of `FILE`")
	fs.StringArrayVarP(&f.recips, "recipient", "r", nil, "seal to `RECIPIENT` (age1... or an SSH public key line); repeatable")
	fs.StringArrayVarP(&f.recipFiles, "recipients-file", "R", nil, "seal to every recipient listed in `FILE`; repeatable")
	fs.BoolVar(&f.armor, "armor", false, "write ASCII armor instead of binary")
	fs.BoolVar(&f.force, "force", false, "overwrite --out if it exists")
	fs.BoolVar(&f.skipBad, "skip-bad", false, "seal the good rows even when some rows have problems")
	fs.IntVar(&f.workFactor, "work-factor", 0, "scrypt work factor `N` (log2) for a passphrase (default: age's 18)")
	c.RunE = func(_ *cobra.Command, files []string) error {
		if f.out == "" {
			return usagef("need --out FILE")
		}
		if f.pwFile != "" && len(f.recips)+len(f.recipFiles) > 0 {
			return usagef("give --passphrase-file or -r/-R recipients, not both (age cannot mix them)")
		}
		return exit(runKeysSeal(e, &f, files))
	}
	return c
}

func runKeysSeal(e *env, f *keysSealFlags, files []string) int {
	fail := func(format string, a ...any) int {
		fmt.Fprintf(e.Stderr, "unbrick keys seal: "+format+"\n", a...)
		return exitcode.Failure
	}
	if !f.force {
		if _, err := os.Stat(f.out); err == nil {
			return fail("%s exists; pass --force to replace it", f.out)
		}
	}

	opts := keys.SealOptions{Armor: f.armor, WorkFactor: f.workFactor}
	for _, r := range f.recips {
		rc, err := keys.ParseRecipient(r)
		if err != nil {
			return fail("%v", err)
		}
		opts.Recipients = append(opts.Recipients, rc)
	}
	for _, f := range f.recipFiles {
		rs, err := keys.ReadRecipientsFile(f)
		if err != nil {
			return fail("%v", err)
		}
		opts.Recipients = append(opts.Recipients, rs...)
	}

	// Read and check every file before asking for a passphrase.
	var all []keys.Entry
	bad := 0
	loadOpts := keys.LoadOptions{Passphrase: keysPassphrase(e, "")}
	for _, f := range files {
		res, err := keys.ParseFile(f, loadOpts)
		if err != nil {
			return fail("%v", err)
		}
		for _, p := range res.Problems {
			fmt.Fprintf(e.Stderr, "%v\n", p)
		}
		bad += len(res.Problems)
		all = append(all, res.Entries...)
	}
	if bad > 0 && !f.skipBad {
		return fail("%d row(s) with problems (listed above); fix them or pass --skip-bad", bad)
	}
	if len(all) == 0 {
		return fail("no usable keys in %s", strings.Join(files, ", "))
	}

	if len(opts.Recipients) == 0 {
		var err error
		switch {
		case f.pwFile != "":
			opts.Passphrase, err = keys.ReadPassphraseFile(f.pwFile)
		case e.Getenv(keys.PassphraseEnv) != "":
			opts.Passphrase = e.Getenv(keys.PassphraseEnv)
		default:
			opts.Passphrase, err = askNewPassphrase(e)
		}
		if err != nil {
			return fail("%v", err)
		}
	}

	if err := writeSealed(f.out, all, opts); err != nil {
		return fail("%v", err)
	}
	how := "passphrase (scrypt)"
	if len(opts.Recipients) > 0 {
		how = fmt.Sprintf("%d recipient(s)", len(opts.Recipients))
	}
	fmt.Fprintf(e.Stdout, "sealed %d key(s) from %d file(s) into %s for %s\n", len(all), len(files), f.out, how)
	fmt.Fprintln(e.Stdout, "the plaintext exports are still on disk: delete them once the bundle is tested (unbrick keys check "+f.out+")")
	return exitcode.OK
}

func askNewPassphrase(e *env) (string, error) {
	p1, err := readSecret(e, "Passphrase to seal the keys: ")
	if err != nil {
		return "", fmt.Errorf("%v (or pass --passphrase-file, or set %s)", err, keys.PassphraseEnv)
	}
	if len(p1) < keys.MinPassphraseLen {
		return "", fmt.Errorf("passphrase shorter than %d characters", keys.MinPassphraseLen)
	}
	p2, err := readSecret(e, "Same passphrase again: ")
	if err != nil {
		return "", err
	}
	if p1 != p2 {
		return "", errors.New("the two passphrases differ")
	}
	return p1, nil
}

// writeSealed writes the bundle next to out, syncs it and renames it into
// place, so a crash never leaves a half-written bundle under the real name.
func writeSealed(out string, entries []keys.Entry, opts keys.SealOptions) error {
	tmp, err := os.CreateTemp(filepath.Dir(out), ".unbrick-seal-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err := keys.Seal(tmp, entries, opts); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return durable.Rename(tmp.Name(), out)
}

func newKeysCheckCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "check [flags] FILE...",
		Short: "check every row of key exports (checksums, IDs, duplicates)",
		Long: `Checks every row of the key exports: recovery-password checksums, key-ID syntax,
duplicates and conflicts across all files, rows without a key ID. Prints problems
with file and line, never a password. Exit 0 clean, 1 problems, 2 usage.`,
		Example: `  unbrick keys check BitLockerKeys.csv
  unbrick keys check --passphrase-file pass.txt keys.age
  unbrick keys check -i ~/.ssh/id_ed25519 --strict keys.age export2.csv`,
		Args: minArgs("key export FILE"),
	}
	pwFile := c.Flags().String("passphrase-file", "", "passphrase for sealed bundles: the first line of `FILE`")
	idFiles := c.Flags().StringArrayP("identity", "i", nil, "age or SSH identity `FILE` for recipient-sealed bundles; repeatable")
	strict := c.Flags().Bool("strict", false, "count notes (exact duplicates, rows without a key ID) as problems")
	c.RunE = func(_ *cobra.Command, files []string) error {
		return exit(runKeysCheck(e, *pwFile, *idFiles, *strict, files))
	}
	return c
}

func runKeysCheck(e *env, pwFile string, idFiles []string, strict bool, files []string) int {
	ids, err := readIdentities(idFiles)
	if err != nil {
		fmt.Fprintf(e.Stderr, "unbrick keys check: %v\n", err)
		return exitcode.Usage
	}
	opts := keys.LoadOptions{Passphrase: keysPassphrase(e, pwFile), Identities: ids}
	problems, notes := 0, 0
	var all []keys.Entry
	for _, f := range files {
		res, err := keys.ParseFile(f, opts)
		if err != nil {
			fmt.Fprintf(e.Stdout, "%v\n", err)
			problems++
			continue
		}
		withID, withName, withSerial := 0, 0, 0
		for _, en := range res.Entries {
			if en.KeyID != "" {
				withID++
			}
			if en.ComputerName != "" {
				withName++
			}
			if en.Serial != "" {
				withSerial++
			}
		}
		fmt.Fprintf(e.Stdout, "%s: %s, %d key(s): %d with key ID, %d with computer name, %d with serial; %d problem row(s)\n",
			f, res.Format, len(res.Entries), withID, withName, withSerial, len(res.Problems))
		for _, p := range res.Problems {
			fmt.Fprintf(e.Stdout, "  problem: %v\n", p)
		}
		problems += len(res.Problems)
		all = append(all, res.Entries...)
	}
	p, n := checkDuplicates(e, all)
	problems += p
	notes += n
	if strict {
		problems += notes
	}
	fmt.Fprintf(e.Stdout, "%d key(s) in %d file(s): %d problem(s), %d note(s)\n", len(all), len(files), problems, notes)
	if problems > 0 {
		return exitcode.Failure
	}
	return exitcode.OK
}

// checkDuplicates reports, across all files: a key ID listed with two
// different passwords (a problem: one of them is wrong or stale), the same
// password under two key IDs (a problem: a copy-paste error), exact
// duplicates and rows without a key ID (notes).
func checkDuplicates(e *env, all []keys.Entry) (problems, notes int) {
	where := func(en keys.Entry) string { return fmt.Sprintf("%s:%d", en.Source, en.Line) }
	byID := map[string][]keys.Entry{}
	byPW := map[string][]keys.Entry{}
	for _, en := range all {
		if en.KeyID == "" {
			fmt.Fprintf(e.Stdout, "  note: %s: no key ID; matched only by computer name or serial (%s)\n", where(en), nameOrSerial(en))
			notes++
		} else {
			byID[en.KeyID] = append(byID[en.KeyID], en)
		}
		byPW[en.RecoveryPassword] = append(byPW[en.RecoveryPassword], en)
	}
	ids := make([]string, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		es := byID[id]
		for _, en := range es[1:] {
			if en.RecoveryPassword == es[0].RecoveryPassword {
				fmt.Fprintf(e.Stdout, "  note: %s: duplicate of %s (key {%s})\n", where(en), where(es[0]), id)
				notes++
			} else {
				fmt.Fprintf(e.Stdout, "  problem: %s: key {%s} has a different recovery password than at %s\n", where(en), id, where(es[0]))
				problems++
			}
		}
	}
	for _, es := range byPW {
		seen := map[string]bool{}
		for _, en := range es {
			if en.KeyID != "" {
				seen[en.KeyID] = true
			}
		}
		if len(seen) > 1 {
			var list []string
			for _, en := range es {
				list = append(list, fmt.Sprintf("%s {%s}", where(en), en.KeyID))
			}
			sort.Strings(list)
			fmt.Fprintf(e.Stdout, "  problem: one recovery password is listed under %d key IDs: %s\n", len(seen), strings.Join(list, ", "))
			problems++
		}
	}
	return problems, notes
}

func nameOrSerial(en keys.Entry) string {
	switch {
	case en.ComputerName != "" && en.Serial != "":
		return en.ComputerName + ", serial " + en.Serial
	case en.ComputerName != "":
		return en.ComputerName
	}
	return "serial " + en.Serial
}
