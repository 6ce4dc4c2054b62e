package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/unbrick/unbrick/internal/rules"
)

// TestImageBuildRulesSignature: image build --rules PACK stores PACK.sig
// beside the pack on the LOGS partition (read back with mtools), refuses
// an unsigned pack or one changed after signing (exit 2, no image), and
// takes an unsigned pack with --allow-unsigned-rules, saying so.
func TestImageBuildRulesSignature(t *testing.T) {
	mtype := needImageTool(t, "mtype")
	f := newPackFixture(t, "ed25519")
	pack := f.pack(t, "cs.json", packMeta)
	build := func(out string, extra ...string) (int, string, string) {
		return runCLI(t, append([]string{"image", "build", "--format", "logs", "--out", out, "--rules", pack}, extra...)...)
	}
	read := func(img, name string) ([]byte, error) {
		return exec.Command(mtype, "-i", img+"@@1M", "::/rules/"+name).Output()
	}

	// Unsigned: refused, no image.
	img := filepath.Join(f.dir, "unsigned.img")
	code, out, errs := build(img)
	if code != 2 || !strings.Contains(errs, "the rules pack is not signed") || !strings.Contains(errs, "nothing was written") {
		t.Fatalf("unsigned: exit %d\n%s\n%s", code, out, errs)
	}
	if _, err := os.Stat(img); err == nil {
		t.Fatal("an image was written for a refused pack")
	}
	// Unsigned, allowed: the pack alone, with a warning.
	code, out, errs = build(img, "--allow-unsigned-rules")
	if code != 0 || !strings.Contains(errs, "WARNING: rules pack") || !strings.Contains(errs, "--allow-unsigned-rules") {
		t.Fatalf("unsigned allowed: exit %d\n%s\n%s", code, out, errs)
	}
	want, _ := os.ReadFile(pack)
	if got, err := read(img, "cs.json"); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("pack on the stick: %v %q", err, got)
	}
	if _, err := read(img, "cs.json.sig"); err == nil {
		t.Fatal("a .sig on the stick for an unsigned pack")
	}

	// Signed: the pack and its .sig, byte for byte.
	f.sign(t, f.key, rules.Namespace, pack)
	img = filepath.Join(f.dir, "signed.img")
	if code, out, errs = build(img); code != 0 || strings.Contains(errs, "WARNING") {
		t.Fatalf("signed: exit %d\n%s\n%s", code, out, errs)
	}
	sig, _ := os.ReadFile(pack + ".sig")
	if got, err := read(img, "cs.json.sig"); err != nil || !bytes.Equal(got, sig) {
		t.Fatalf("signature on the stick: %v %q", err, got)
	}
	if got, err := read(img, "cs.json"); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("pack on the stick: %v", err)
	}

	// Changed after signing: refused.
	os.WriteFile(pack, bytes.Replace(want, []byte(`"max_files": 4`), []byte(`"max_files": 5`), 1), 0o644)
	img = filepath.Join(f.dir, "changed.img")
	if code, out, errs = build(img); code != 2 || !strings.Contains(errs, "does not match its signature") {
		t.Fatalf("changed: exit %d\n%s\n%s", code, out, errs)
	}

	// --allow-unsigned-rules without --rules: a usage error before any
	// boot chain or /init is read, for every format.
	for _, format := range []string{"logs", "iso", "usb"} {
		out := filepath.Join(f.dir, "x."+format)
		if code, _, errs = runCLI(t, "image", "build", "--format", format, "--out", out, "--allow-unsigned-rules"); code != 2 || !strings.Contains(errs, "needs --rules") {
			t.Fatalf("--allow-unsigned-rules alone, --format %s: exit %d: %s", format, code, errs)
		}
		if _, err := os.Stat(out); err == nil {
			t.Fatalf("--format %s: written despite the usage error", format)
		}
	}
}
