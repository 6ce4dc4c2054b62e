package main

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/unbrick/unbrick/internal/testcorpus"
)

// testRoot is the command tree as run builds it, bound to a quiet env.
func testRoot() *cobra.Command {
	root := newRootCmd(&env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" }})
	root.InitDefaultHelpCmd()
	return root
}

// allCommands lists every command under root (root too), hidden ones
// included, without cobra's own help and __complete commands.
func allCommands(root *cobra.Command) []*cobra.Command {
	var out []*cobra.Command
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if strings.HasPrefix(c.Name(), "__") {
			return
		}
		out = append(out, c)
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
	return out
}

// pathArgs is the command line that names c: "ntfs", "rm".
func pathArgs(c *cobra.Command) []string {
	return strings.Fields(strings.TrimPrefix(c.CommandPath(), "unbrick"))
}

// singleDashLong finds a long flag written with one dash (-json), as the
// standard flag package allowed; help shows two (--json).
var singleDashLong = regexp.MustCompile(`(^|[\s\[(|])-[a-z][a-z-]+\b`)

// TestHelpEverywhere: every command's -h and --help exit 0 and print its
// description, a usage line, at least one example and its flags, with
// placeholders and the double dash.
func TestHelpEverywhere(t *testing.T) {
	for _, c := range allCommands(testRoot()) {
		path := pathArgs(c)
		if c.Example == "" {
			t.Errorf("%s: no example", c.CommandPath())
		}
		if c.Short == "" {
			t.Errorf("%s: no description", c.CommandPath())
		}
		for _, h := range []string{"--help", "-h"} {
			code, out, errs := runCLI(t, append(append([]string{}, path...), h)...)
			if code != 0 || errs != "" {
				t.Errorf("%s %s: exit %d, stderr %q", c.CommandPath(), h, code, errs)
				continue
			}
			for _, want := range []string{"Usage:\n  unbrick", "Examples:\n  ", "Flags:\n", "--help"} {
				if !strings.Contains(out, want) {
					t.Errorf("%s %s lacks %q:\n%s", c.CommandPath(), h, want, out)
				}
			}
			if m := singleDashLong.FindString(out); m != "" && !strings.Contains(c.CommandPath(), "completion") {
				t.Errorf("%s %s: a long flag with one dash %q:\n%s", c.CommandPath(), h, m, out)
			}
		}
	}
}

// TestFlagPlaceholders: every flag that takes a value names what it
// expects (FILE, DIR, N, NAME, PASSWORD...) instead of a type name.
func TestFlagPlaceholders(t *testing.T) {
	allowed := map[string]bool{"FILE": true, "DIR": true, "N": true, "NAME": true, "PASSWORD": true, "HEX": true,
		"POLICY": true, "CODE": true, "RECIPIENT": true, "MODE": true, "ACTION": true, "LIMIT": true,
		"URL": true, "ADDR": true, "DURATION": true}
	for _, c := range allCommands(testRoot()) {
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			name, _ := pflag.UnquoteUsage(f)
			if f.Value.Type() == "bool" {
				return
			}
			if !allowed[name] {
				t.Errorf("%s --%s: placeholder %q", c.CommandPath(), f.Name, name)
			}
		})
	}
}

// TestHelpCommand: `unbrick help fix` is fix's help; an unknown topic is
// a usage error.
func TestHelpCommand(t *testing.T) {
	code, viaHelp, _ := runCLI(t, "help", "fix")
	_, viaFlag, _ := runCLI(t, "fix", "--help")
	if code != 0 || viaHelp != viaFlag || !strings.Contains(viaHelp, "unbrick fix [key flags]") {
		t.Errorf("help fix: exit %d\n%s\nfix --help:\n%s", code, viaHelp, viaFlag)
	}
	if code, out, _ := runCLI(t, "help", "ntfs", "rm"); code != 0 || !strings.Contains(out, "unbrick ntfs rm") {
		t.Errorf("help ntfs rm: exit %d\n%s", code, out)
	}
	if code, _, errs := runCLI(t, "help", "frobnicate"); code != 2 || !strings.Contains(errs, "unknown help topic") {
		t.Errorf("help frobnicate: exit %d, %q", code, errs)
	}
	if code, out, _ := runCLI(t, "help"); code != 0 || !strings.Contains(out, "Commands:") {
		t.Errorf("help: exit %d\n%s", code, out)
	}
}

// TestUsageErrorHint: what cobra finds wrong on a command line (unknown
// flag, wrong number of arguments, unknown command) exits 2 with the error
// and a hint to run --help.
func TestUsageErrorHint(t *testing.T) {
	for _, c := range []struct {
		args       []string
		want, hint string
	}{
		{[]string{"fix", "--bogus"}, "unknown flag: --bogus", "unbrick fix --help"},
		{[]string{"ntfs", "ls", "img"}, "need TARGET and PATH", "unbrick ntfs ls --help"},
		{[]string{"bitlocker", "info"}, "need TARGET", "unbrick bitlocker info --help"},
		{[]string{"version", "x"}, "takes no arguments", "unbrick version --help"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`, "unbrick --help"},
		{[]string{"ntfs", "frob"}, `unknown subcommand "frob"`, "unbrick ntfs --help"},
		{[]string{"scan", "--parallel", "2"}, "unknown flag: --parallel", "unbrick scan --help"},
		{[]string{"fix", "--parallel", "two"}, "invalid argument", "unbrick fix --help"},
		{[]string{"keys", "seal", "k.csv"}, "need --out FILE", "unbrick keys seal --help"},
		{[]string{"fix", "--unclean=maybe", "x.img"}, "maybe", "unbrick fix --help"},
	} {
		code, out, errs := runCLI(t, c.args...)
		if code != 2 || !strings.Contains(errs, c.want) || !strings.Contains(errs, "Run '"+c.hint+"' for usage.") || out != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", c.args, code, out, errs)
		}
	}
}

// TestInterleavedFlags: flags may come before, between or after the
// positional arguments; "--" ends them.
func TestInterleavedFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		pos  []string
		json bool
		part int
	}{
		{[]string{"img", "path"}, []string{"img", "path"}, false, 0},
		{[]string{"--json", "img", "path"}, []string{"img", "path"}, true, 0},
		{[]string{"img", "--partition", "3", "path", "--json"}, []string{"img", "path"}, true, 3},
		{[]string{"img", "--partition=3", "--", "--json"}, []string{"img", "--json"}, false, 3},
	} {
		cmd, _, err := testRoot().Find([]string{"ntfs", "ls"})
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.ParseFlags(c.args); err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		j, _ := cmd.Flags().GetBool("json")
		p, _ := cmd.Flags().GetInt("partition")
		if got := cmd.Flags().Args(); strings.Join(got, "|") != strings.Join(c.pos, "|") || j != c.json || p != c.part {
			t.Errorf("%v: positional %q, json %v, partition %d", c.args, got, j, p)
		}
	}
}

// TestManPages: every command but the hidden ones has a man page, with
// its examples, generated from the same definitions as --help.
func TestManPages(t *testing.T) {
	dir := t.TempDir()
	if code, out, errs := runCLI(t, "man", "--dir", dir); code != 0 {
		t.Fatalf("man --dir: exit %d\n%s%s", code, out, errs)
	}
	for _, c := range allCommands(testRoot()) {
		if !c.IsAvailableCommand() && c.HasParent() {
			continue // hidden (man) and cobra's help
		}
		page := filepath.Join(dir, strings.ReplaceAll(c.CommandPath(), " ", "-")+".8")
		b, err := os.ReadFile(page)
		if err != nil {
			t.Errorf("%s: no man page: %v", c.CommandPath(), err)
			continue
		}
		for _, want := range []string{".SH NAME", ".SH SYNOPSIS", ".SH EXAMPLE", ".SH OPTIONS"} {
			if !strings.Contains(string(b), want) {
				t.Errorf("%s lacks %s", page, want)
			}
		}
	}
	if code, _, errs := runCLI(t, "man"); code != 2 || !strings.Contains(errs, "--dir") {
		t.Errorf("man without --dir: exit %d, %q", code, errs)
	}
}

// TestCompletion: `unbrick completion SHELL` prints cobra's script.
func TestCompletion(t *testing.T) {
	for shell, want := range map[string]string{"bash": "__start_unbrick", "zsh": "#compdef unbrick", "fish": "complete -c unbrick", "powershell": "Register-ArgumentCompleter"} {
		code, out, errs := runCLI(t, "completion", shell)
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("completion %s: exit %d, %q, stderr %q", shell, code, firstLine(out), errs)
		}
	}
	code, out, _ := runCLI(t, "__complete", "ntfs", "")
	if code != 0 || !strings.Contains(out, "journal") || !strings.Contains(out, "rm") {
		t.Errorf("__complete ntfs: exit %d\n%s", code, out)
	}
}

func firstLine(s string) string { l, _, _ := strings.Cut(s, "\n"); return l }

// TestVersionOf: the -X version wins; else the module version; else dev
// with the revision.
func TestVersionOf(t *testing.T) {
	bi := func(mainVersion string, settings ...string) *debug.BuildInfo {
		b := &debug.BuildInfo{Main: debug.Module{Path: "github.com/unbrick/unbrick", Version: mainVersion}}
		for i := 0; i+1 < len(settings); i += 2 {
			b.Settings = append(b.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
		}
		return b
	}
	const rev = "0123456789abcdef0123456789abcdef01234567"
	for _, c := range []struct {
		ldflag string
		bi     *debug.BuildInfo
		want   string
	}{
		{"v1.2.3-4-gabcdef", bi("v0.0.0-20260101120000-0123456789ab", "vcs.revision", rev), "v1.2.3-4-gabcdef"},
		{"dev", bi("v0.0.0-20260101120000-0123456789ab+dirty", "vcs.revision", rev, "vcs.modified", "true"), "v0.0.0-20260101120000-0123456789ab+dirty"},
		{"dev", bi("v1.4.0", "vcs.revision", rev), "v1.4.0"},
		{"dev", bi("(devel)", "vcs.revision", rev, "vcs.modified", "true"), "dev+0123456789ab+dirty"},
		{"dev", bi("(devel)"), "dev"},
		{"dev", nil, "dev"},
	} {
		v := versionOf(c.ldflag, c.bi)
		if v.String() != c.want {
			t.Errorf("versionOf(%q, %v) = %q, want %q", c.ldflag, c.bi, v, c.want)
		}
		if c.bi != nil && len(c.bi.Settings) > 0 && v.Revision != rev {
			t.Errorf("revision %q", v.Revision)
		}
	}
}

// TestVersionOfGitBuild: a binary built from a git checkout reports the
// commit it was built from. The go command stamps the revision only where
// it finds the repository (not in a git worktree, whose .git is a file):
// elsewhere the test is skipped.
func TestVersionOfGitBuild(t *testing.T) {
	bin := buildWizardBinary(t)
	info, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*build\s+vcs\.revision=([0-9a-f]+)$`).FindSubmatch(info)
	if m == nil {
		t.Skip("the go command recorded no VCS revision in the test binary (not a git checkout, or a git worktree)")
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	rev := string(m[1])
	if !strings.Contains(string(out), "revision "+rev) || strings.HasPrefix(string(out), "unbrick dev ") {
		t.Errorf("unbrick version of a build of %s: %q", rev, out)
	}
	if head, err := exec.Command("git", "rev-parse", "HEAD").Output(); err == nil && strings.TrimSpace(string(head)) != rev {
		t.Errorf("the binary names revision %s, git HEAD is %s", rev, head)
	}
}

// TestScanJSONLines: scan --json prints one JSON object per volume, one
// line each (as fix --json and report --json do).
func TestScanJSONLines(t *testing.T) {
	img := testcorpus.Disk(t, "win10-xts128-recoverypw")
	code, out, errs := runCLI(t, "scan", "--json", "--recovery-password", fixRecoveryPassword, img)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := jsonLines(t, out)
	windows := 0
	for _, l := range lines {
		var v struct {
			Target  string
			Kind    string
			Windows bool
		}
		if err := json.Unmarshal(l, &v); err != nil || v.Target != img || v.Kind == "" {
			t.Errorf("line %s: %v", l, err)
		}
		if v.Windows {
			windows++
		}
	}
	if len(lines) < 2 || windows != 1 {
		t.Errorf("%d lines, %d Windows volumes:\n%s", len(lines), windows, out)
	}
}

// TestMissingTargetNamedOnce: a TARGET that does not exist is named once
// in the message, with what to give instead.
func TestMissingTargetNamedOnce(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.img")
	for _, args := range [][]string{
		{"ntfs", "ls", missing, "/"},
		{"bitlocker", "info", missing},
		{"scan", missing},
	} {
		code, out, errs := runCLI(t, args...)
		msg := errs
		if args[0] == "scan" {
			_, msg, _ = strings.Cut(out, "status:")
		}
		if code != 1 || strings.Count(msg, missing) != 1 || !strings.Contains(msg, "no such file") || !strings.Contains(msg, "block device") {
			t.Errorf("%v: exit %d, message %q", args, code, msg)
		}
	}
}
