package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/unbrick/unbrick/internal/exitcode"
	"github.com/unbrick/unbrick/internal/fleetlog"
	"github.com/unbrick/unbrick/internal/remedy"
	"github.com/unbrick/unbrick/internal/rules"
)

// engineActions are the rule actions besides deleting files that this
// build's engine carries out. A pack with any other action is refused by
// fix and the wizard (checkActions).
var engineActions = []rules.RuleAction{rules.ActionDisableService}

// rulesFlags are --rules PACK and how the pack is checked (scan, fix,
// wizard, rules test).
type rulesFlags struct {
	file, signers               string
	allowUnsigned, allowExpired bool
}

// addRulesFlags registers --rules, --rules-signers, --allow-unsigned-rules
// and --allow-expired-rules.
func addRulesFlags(c *cobra.Command) *rulesFlags {
	rf := &rulesFlags{}
	fs := c.Flags()
	fs.StringVar(&rf.file, "rules", "", "rules pack `FILE`, signed (FILE.sig beside it, ssh-keygen -Y sign -n unbrick-rules) by a key in --rules-signers (default: the built-in crowdstrike-2024-07-19 rule)")
	addRulesCheckFlags(c, rf)
	return rf
}

// addRulesCheckFlags registers the flags that say how a pack is checked.
func addRulesCheckFlags(c *cobra.Command, rf *rulesFlags) {
	fs := c.Flags()
	fs.StringVar(&rf.signers, "rules-signers", "", "allowed-signers `FILE` (ssh-keygen(1) ALLOWED SIGNERS format) the rules pack's signature is checked against")
	fs.BoolVar(&rf.allowUnsigned, "allow-unsigned-rules", false, "use a rules pack that is unsigned or whose signature does not check (the fleet record says so)")
	fs.BoolVar(&rf.allowExpired, "allow-expired-rules", false, "use a rules pack past its expires date (the fleet record says so)")
}

// load reads and checks the pack named by --rules; nil without --rules.
// Every refusal says what to do next; callers exit 2 before any disk is
// opened.
func (rf *rulesFlags) load() (*rules.Pack, error) {
	if rf == nil || rf.file == "" {
		if rf != nil && (rf.signers != "" || rf.allowUnsigned || rf.allowExpired) {
			return nil, errors.New("--rules-signers, --allow-unsigned-rules and --allow-expired-rules need --rules PACK (the built-in rule is not signed and needs no signature)")
		}
		return nil, nil
	}
	lo := rules.LoadOptions{AllowUnsigned: rf.allowUnsigned, AllowExpired: rf.allowExpired}
	if rf.signers != "" {
		s, err := rules.ParseAllowedSignersFile(rf.signers)
		if err != nil {
			return nil, fmt.Errorf("--rules-signers: %w", err)
		}
		lo.Signers = s
	}
	p, err := rules.LoadPack(rf.file, lo)
	if err != nil {
		return nil, fmt.Errorf("--rules: %w; nothing was done", err)
	}
	return p, nil
}

// checkActions refuses a pack with a rule this build cannot carry out.
func checkActions(p *rules.Pack) error {
	if p == nil {
		return nil
	}
	u := p.Set.Unsupported(engineActions...)
	if len(u) == 0 {
		return nil
	}
	var names []string
	for _, r := range u {
		names = append(names, fmt.Sprintf("%s (%s %s)", r.ID, r.Action, r.Service))
	}
	return fmt.Errorf("--rules %s: rule(s) %s: this build of unbrick cannot carry out that action yet, so it does not use the pack at all (half a pack could leave the host still broken); "+
		"use a build that supports it, or a pack without those rules; nothing was done", p.Info.Path, strings.Join(names, ", "))
}

// checkHostLimit refuses a run over more targets than the pack's
// max_hosts_per_run, unless exceed (--exceed-rules-host-limit). Targets
// are counted once however often they are named; no TARGET (the host's
// own disks) is one host.
func checkHostLimit(p *rules.Pack, targets []string, exceed bool) error {
	if p == nil || p.Set.MaxHostsPerRun == 0 || exceed {
		return nil
	}
	seen := map[string]bool{}
	for _, t := range targets {
		seen[t] = true
	}
	n := max(len(seen), 1)
	if n <= p.Set.MaxHostsPerRun {
		return nil
	}
	return fmt.Errorf("--rules %s allows at most %d hosts per run (max_hosts_per_run) and %d targets were given: run it on fewer targets (a canary wave first), or pass --exceed-rules-host-limit if the pack's issuer agreed; nothing was done",
		p.Info.Path, p.Set.MaxHostsPerRun, n)
}

// packRecord is what a fleet record carries about the pack; nil for the
// built-in rule.
func packRecord(p *rules.Pack) *fleetlog.RulePack {
	if p == nil {
		return nil
	}
	i := p.Info
	return &fleetlog.RulePack{ID: i.ID, Version: i.Version, SHA256: i.SHA256, Signer: i.Principal, KeyFingerprint: i.Fingerprint, Signature: i.Signature, Expired: i.ExpiryNote}
}

// printPack writes one line about the pack in use, and a warning line
// when a check was overridden.
func printPack(w io.Writer, p *rules.Pack) {
	if p == nil {
		return
	}
	fmt.Fprintf(w, "rules pack: %s\n", p.Info.String())
	if !p.Info.Signed {
		fmt.Fprintf(w, "WARNING: rules pack %s: %s\n", p.Info.Path, p.Info.Signature)
	}
	if p.Info.ExpiryNote != "" {
		fmt.Fprintf(w, "WARNING: rules pack %s: %s\n", p.Info.Path, p.Info.ExpiryNote)
	}
}

func newRulesCmd(e *env) *cobra.Command {
	return newGroupCmd(e, "rules", "check a rules pack, or try it on disks without writing",
		`Rules packs (--rules PACK) say which files fix deletes. A pack is used only
with a detached signature PACK.sig (ssh-keygen -Y sign -n unbrick-rules) by a key
in an allowed-signers file (--rules-signers); see docs/rules.md.`,
		`  unbrick rules check --rules-signers allowed_signers acme.json
  unbrick rules test --rules-signers allowed_signers --keys keys.csv acme.json disk1.img disk2.img`,
		newRulesCheckCmd(e), newRulesTestCmd(e))
}

func newRulesCheckCmd(e *env) *cobra.Command {
	rf := &rulesFlags{}
	c := &cobra.Command{
		Use:   "check [--rules-signers FILE] PACK",
		Short: "check a rules pack: syntax, signature, allowed signer, expiry, actions",
		Long: `Reads PACK and PACK.sig and prints what it found: the pack's id, version,
expiry and limits, each rule, and who signed it. Exit 0 when fix would use the
pack as it is; 2 when it would refuse it (a syntax error, no or a bad signature,
a signer not in --rules-signers, an expired pack, or an action this build
cannot carry out), with the reason.`,
		Example: `  unbrick rules check --rules-signers allowed_signers acme.json
  ssh-keygen -Y sign -n unbrick-rules -f rules-key acme.json && unbrick rules check --rules-signers allowed_signers acme.json`,
		Args: cobra.ExactArgs(1),
	}
	c.Flags().StringVar(&rf.signers, "rules-signers", "", "allowed-signers `FILE` (ssh-keygen(1) ALLOWED SIGNERS format)")
	c.RunE = func(_ *cobra.Command, pos []string) error {
		rf.file = pos[0]
		return exit(runRulesCheck(e, rf))
	}
	return c
}

// runRulesCheck prints the pack and whether fix would take it.
func runRulesCheck(e *env, rf *rulesFlags) int {
	w := e.Stdout
	set, err := rules.ParseFile(rf.file, rules.Options{})
	if err != nil {
		fmt.Fprintf(e.Stderr, "unbrick rules check: %v\n", err)
		return exitcode.Usage
	}
	fmt.Fprintf(w, "pack:       %s (format %s)\n", rf.file, rules.FormatID)
	describeSet(w, set)
	code := exitcode.OK
	p, err := rf.load()
	if err != nil {
		fmt.Fprintf(w, "signature:  REFUSED\n")
		fmt.Fprintf(e.Stderr, "unbrick rules check: %v\n", err)
		code = exitcode.Usage
	} else {
		fmt.Fprintf(w, "sha256:     %s\n", p.Info.SHA256)
		fmt.Fprintf(w, "signature:  %s\n", p.Info.Signature)
		if err := checkActions(p); err != nil {
			fmt.Fprintf(e.Stderr, "unbrick rules check: %v\n", err)
			code = exitcode.Usage
		}
	}
	if code == exitcode.OK {
		fmt.Fprintf(w, "result:     fix would use this pack\n")
	} else {
		fmt.Fprintf(w, "result:     fix would refuse this pack (exit 2)\n")
	}
	return code
}

// describeSet prints a pack's metadata and rules.
func describeSet(w io.Writer, s *rules.Set) {
	opt := func(v string) string {
		if v == "" {
			return "(none)"
		}
		return v
	}
	fmt.Fprintf(w, "id:         %s\nversion:    %s\n", opt(s.ID), opt(s.Version))
	if s.Expires.IsZero() {
		fmt.Fprintf(w, "expires:    never\n")
	} else {
		state := "good until then"
		if !time.Now().Before(s.Expires) {
			state = "EXPIRED"
		}
		fmt.Fprintf(w, "expires:    %s (%s)\n", s.Expires.Format(time.RFC3339), state)
	}
	hosts := "no limit"
	if s.MaxHostsPerRun > 0 {
		hosts = fmt.Sprint(s.MaxHostsPerRun)
	}
	fmt.Fprintf(w, "limits:     max_hosts_per_run %s, max_files_per_host %d\n", hosts, s.HostCap())
	for _, r := range s.Rules {
		if r.DeletesFiles() {
			fmt.Fprintf(w, "rule:       %s: delete %s/%s (max_files %d, %d faulty_when, %d good_when)\n", r.ID, r.Directory, r.Name, r.MaxFiles, len(r.FaultyWhen), len(r.GoodWhen))
		} else {
			fmt.Fprintf(w, "rule:       %s: %s %s\n", r.ID, r.Action, r.Service)
		}
	}
}

func newRulesTestCmd(e *env) *cobra.Command {
	rf := &rulesFlags{}
	c := &cobra.Command{
		Use:   "test [key flags] [--rules-signers FILE] PACK TARGET...",
		Short: "dry run of a rules pack over disks: what each rule would do, and why; never writes",
		Long: `Runs the scan over each TARGET with the rules of PACK and prints, per volume,
each file a rule matches with its verdict and the reason, then a summary across
the targets: files matched, would delete, would keep, needs review. Nothing is
ever written. The pack's signature and expiry are checked and reported, but a
pack under test may be unsigned or expired (to try it before signing); fix
refuses such a pack. Exit 0, or 1 when a target could not be read, 2 usage, 3
when a volume stayed locked.`,
		Example: `  unbrick rules test acme.json disk.img
  unbrick rules test --rules-signers allowed_signers --keys BitLockerKeys.csv acme.json vm-disks/*.img`,
		Args: cobra.MinimumNArgs(2),
	}
	kf := addKeyFlags(c)
	c.Flags().StringVar(&rf.signers, "rules-signers", "", "allowed-signers `FILE` (ssh-keygen(1) ALLOWED SIGNERS format)")
	c.RunE = func(_ *cobra.Command, pos []string) error {
		rf.file = pos[0]
		return exit(runRulesTest(e, kf, rf, pos[1:]))
	}
	return c
}

// ruleTally counts a rule's verdicts.
type ruleTally struct{ matched, del, keep, review int }

// runRulesTest scans the targets with the pack's rules and reports.
func runRulesTest(e *env, kf *keyFlags, rf *rulesFlags, targets []string) int {
	w := e.Stdout
	p, strictErr := rf.load()
	if strictErr != nil {
		// Try it anyway (nothing is written), and say what fix would say.
		lrf := *rf
		lrf.allowUnsigned, lrf.allowExpired = true, true
		var err error
		if p, err = lrf.load(); err != nil {
			fmt.Fprintf(e.Stderr, "unbrick rules test: %v\n", err)
			return exitcode.Usage
		}
		fmt.Fprintf(w, "rules pack: %s version %q, sha256 %s\nnote: fix would refuse this pack as it is: %v\n", p.Info.ID, p.Info.Version, p.Info.SHA256, strictErr)
	} else {
		printPack(w, p)
	}
	o, _, err := engineOptions(e, kf, nil)
	if err != nil {
		fmt.Fprintf(e.Stderr, "unbrick rules test: %v\n", err)
		return exitcode.Usage
	}
	o.Rules = p.Set
	for _, r := range p.Set.Unsupported(engineActions...) {
		fmt.Fprintf(w, "rule %s: %s %s: not tried (this build cannot carry it out; fix refuses the pack)\n", r.ID, r.Action, r.Service)
	}
	vols := remedy.Scan(context.Background(), targets, o)
	total := map[string]*ruleTally{}
	var all ruleTally
	for _, v := range vols {
		printVolume(w, v)
		per := map[string]*ruleTally{}
		for _, f := range v.Files {
			for _, m := range []map[string]*ruleTally{per, total} {
				if m[f.Rule] == nil {
					m[f.Rule] = &ruleTally{}
				}
			}
			for _, t := range []*ruleTally{per[f.Rule], total[f.Rule], &all} {
				t.add(f.Verdict)
			}
			fmt.Fprintf(w, "  would:         %s %s (rule %s): %s\n", wouldText(f.Verdict), f.Path, f.Rule, f.Reason)
		}
		for _, sv := range v.Services {
			switch sv.Verdict {
			case remedy.VerdictServiceEnabled:
				fmt.Fprintf(w, "  would:         DISABLE service %s (rule %s): %s\n", sv.Service, sv.Rule, sv.String())
			case remedy.VerdictServiceDisabled:
				fmt.Fprintf(w, "  would:         keep service %s (rule %s): already disabled: %s\n", sv.Service, sv.Rule, sv.String())
			case remedy.VerdictServiceAbsent:
				fmt.Fprintf(w, "  would:         nothing for service %s (rule %s): not installed (no selected control set has its key)\n", sv.Service, sv.Rule)
			default:
				fmt.Fprintf(w, "  would:         REFUSE the volume: %s\n", sv.Reason)
			}
		}
		for _, id := range sortedKeys(per) {
			fmt.Fprintf(w, "  rule %s: %s\n", id, per[id])
		}
	}
	fmt.Fprintf(w, "summary over %d target(s), %d volume(s): %d file(s) matched, %d would be deleted, %d kept, %d need review\n",
		len(targets), len(vols), all.matched, all.del, all.keep, all.review)
	for _, id := range sortedKeys(total) {
		fmt.Fprintf(w, "  rule %s: %s\n", id, total[id])
	}
	fmt.Fprintln(w, "nothing was written (rules test never writes)")
	return remedy.ExitCode(vols, true)
}

func (t *ruleTally) add(verdict string) {
	t.matched++
	switch verdict {
	case remedy.VerdictFaulty:
		t.del++
	case remedy.VerdictGood:
		t.keep++
	default:
		t.review++
	}
}

func (t *ruleTally) String() string {
	return fmt.Sprintf("%d matched, %d would delete, %d would keep, %d need review", t.matched, t.del, t.keep, t.review)
}

func wouldText(verdict string) string {
	switch verdict {
	case remedy.VerdictFaulty:
		return "DELETE"
	case remedy.VerdictGood:
		return "keep"
	}
	return "REVIEW"
}

func sortedKeys(m map[string]*ruleTally) []string {
	var k []string
	for id := range m {
		k = append(k, id)
	}
	sort.Strings(k)
	return k
}
