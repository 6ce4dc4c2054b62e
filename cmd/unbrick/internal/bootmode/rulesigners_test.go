package bootmode

import (
	"reflect"
	"testing"

	"github.com/unbrick/unbrick/image"
)

// The stick passes packs as --rules, never their .sig or the
// allowed-signers file, and adds --rules-signers from unbrick.conf.
func TestRulesSignersOnStick(t *testing.T) {
	cfg := image.DefaultConfig()
	cfg.RulesSigners = "rules/allowed_signers"
	files := []string{"/stick/rules/acme.json", "/stick/rules/acme.json.sig", "/stick/rules/allowed_signers", "/stick/rules/OTHER.SIG"}
	if got := packsOnly(files, cfg); !reflect.DeepEqual(got, []string{"/stick/rules/acme.json"}) {
		t.Fatalf("packsOnly: %v", got)
	}
	args := withSigners([]string{"fix", "--rules", "/stick/rules/acme.json", "/dev/sda"}, rulesSignersPath(cfg, true, "/stick", true))
	want := []string{"fix", "--rules-signers", "/stick/rules/allowed_signers", "--rules", "/stick/rules/acme.json", "/dev/sda"}
	if !reflect.DeepEqual(args, want) {
		t.Fatalf("withSigners: %v", args)
	}
	if args := withSigners([]string{"fix"}, rulesSignersPath(image.DefaultConfig(), true, "/stick", false)); len(args) != 1 {
		t.Fatalf("no rules_signers: %v", args)
	}
}

// A network boot: the signers built into the initramfs, never a
// rules_signers named by fetched settings.
func TestRulesSignersNetworkBoot(t *testing.T) {
	cfg := image.DefaultConfig()
	cfg.RulesSigners = "allowed_signers"
	if got := rulesSignersPath(cfg, false, "/stick", true); got != image.InitrdRulesSigners {
		t.Fatalf("network boot with built-in signers: %q", got)
	}
	if got := rulesSignersPath(cfg, false, "/stick", false); got != "" {
		t.Fatalf("network boot without built-in signers: %q", got)
	}
	if got := rulesSignersPath(image.DefaultConfig(), true, "/stick", true); got != image.InitrdRulesSigners {
		t.Fatalf("stick without rules_signers, built-in signers: %q", got)
	}
}
