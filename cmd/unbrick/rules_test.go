package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/unbrick/unbrick/internal/fleetlog"
	"github.com/unbrick/unbrick/internal/rules"
)

// packFixture is a signing setup made with the real ssh-keygen: a key
// pair, an allowed-signers file listing it, and the demo disk.
type packFixture struct {
	dir, key, signers, img string
}

func newPackFixture(t *testing.T, keyType string) *packFixture {
	t.Helper()
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		t.Skip("ssh-keygen (openssh-client) not installed")
	}
	f := &packFixture{dir: t.TempDir()}
	f.key = filepath.Join(f.dir, "id_"+keyType)
	args := []string{"-q", "-t", keyType, "-N", "", "-C", "rules-test", "-f", f.key}
	if keyType == "rsa" {
		args = append(args, "-b", "2048")
	}
	if out, err := exec.Command("ssh-keygen", args...).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	pub, err := os.ReadFile(f.key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	f.signers = filepath.Join(f.dir, "allowed_signers")
	os.WriteFile(f.signers, []byte(`rules@example.com namespaces="unbrick-rules" `+string(pub)), 0o644)
	f.img = filepath.Join(f.dir, "demo.img")
	gunzipTo(t, "../../testdata/demo-disk.img.gz", f.img)
	return f
}

// pack writes a pack: the built-in rule with metadata added.
func (f *packFixture) pack(t *testing.T, name, meta string) string {
	t.Helper()
	b := bytes.Replace(rules.BuiltinJSON(), []byte("{"), []byte("{"+meta), 1)
	p := filepath.Join(f.dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func (f *packFixture) sign(t *testing.T, key, ns, pack string) {
	t.Helper()
	os.Remove(pack + ".sig")
	if out, err := exec.Command("ssh-keygen", "-Y", "sign", "-q", "-n", ns, "-f", key, pack).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen -Y sign: %v\n%s", err, out)
	}
}

func fileSHA256(t *testing.T, p string) string {
	t.Helper()
	fh, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	h := sha256.New()
	io.Copy(h, fh)
	return hex.EncodeToString(h.Sum(nil))
}

// refused runs fix and wants exit 2 with msg on stderr, no disk written
// and no fleet log record.
func (f *packFixture) refused(t *testing.T, msg string, args ...string) {
	t.Helper()
	before := fileSHA256(t, f.img)
	logDir := filepath.Join(f.dir, "logs-refused")
	code, out, errs := runCLI(t, append(append([]string{"fix", "--log", logDir}, args...), f.img)...)
	if code != 2 || !strings.Contains(errs, msg) || !strings.Contains(errs, "nothing was done") {
		t.Fatalf("fix %v: exit %d, want 2 and %q\nstdout:\n%s\nstderr:\n%s", args, code, msg, out, errs)
	}
	if after := fileSHA256(t, f.img); after != before {
		t.Fatalf("fix %v: the disk image changed (%s -> %s) although the pack was refused", args, before, after)
	}
	if _, err := os.Stat(filepath.Join(logDir, fleetlog.JSONLName)); err == nil {
		t.Fatalf("fix %v: a fleet log record was written for a refused pack", args)
	}
}

// fixed runs fix and wants exit 0 and a record; it returns the record's
// rule_pack.
func (f *packFixture) fixed(t *testing.T, args ...string) *fleetlog.RulePack {
	t.Helper()
	logDir := filepath.Join(t.TempDir(), "logs")
	img := filepath.Join(t.TempDir(), "demo.img")
	gunzipTo(t, "../../testdata/demo-disk.img.gz", img)
	code, out, errs := runCLI(t, append(append([]string{"fix", "--log", logDir}, args...), img)...)
	if code != 0 {
		t.Fatalf("fix %v: exit %d\nstdout:\n%s\nstderr:\n%s", args, code, out, errs)
	}
	b, err := os.ReadFile(filepath.Join(logDir, fleetlog.JSONLName))
	if err != nil {
		t.Fatal(err)
	}
	var rec fleetlog.Record
	if err := json.Unmarshal(bytes.SplitN(b, []byte("\n"), 2)[0], &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Status != fleetlog.StatusRemediated || rec.RulePack == nil {
		t.Fatalf("record %+v", rec)
	}
	if !strings.Contains(out, "rules pack: cs-pack version 7") {
		t.Errorf("the report does not name the pack:\n%s", out)
	}
	return rec.RulePack
}

const packMeta = `"id": "cs-pack", "version": "7", "expires": "2099-12-31",`

func TestFixSignedPack(t *testing.T) {
	for _, typ := range []string{"ed25519", "rsa"} {
		t.Run(typ, func(t *testing.T) {
			f := newPackFixture(t, typ)
			pack := f.pack(t, "cs.json", packMeta)
			f.sign(t, f.key, rules.Namespace, pack)
			rp := f.fixed(t, "--rules", pack, "--rules-signers", f.signers)
			fp, _ := exec.Command("ssh-keygen", "-l", "-f", f.key+".pub").Output()
			if rp.ID != "cs-pack" || rp.Version != "7" || rp.SHA256 != fileSHA256(t, pack) || rp.Signer != "rules@example.com" ||
				rp.KeyFingerprint == "" || !strings.Contains(string(fp), rp.KeyFingerprint) || !strings.HasPrefix(rp.Signature, "signed by rules@example.com") {
				t.Fatalf("rule_pack %+v (ssh-keygen -l: %s)", rp, fp)
			}
		})
	}
}

func TestFixRefusesBadPacks(t *testing.T) {
	f := newPackFixture(t, "ed25519")
	pack := f.pack(t, "cs.json", packMeta)
	signers := []string{"--rules", pack, "--rules-signers", f.signers}

	// Unsigned, without and with the override.
	f.refused(t, "the rules pack is not signed", signers...)
	rp := f.fixed(t, append(signers, "--allow-unsigned-rules")...)
	if rp.Signature != "unsigned (allowed by --allow-unsigned-rules)" || rp.Signer != "" {
		t.Fatalf("unsigned override: %+v", rp)
	}

	// Changed after signing.
	f.sign(t, f.key, rules.Namespace, pack)
	good, _ := os.ReadFile(pack)
	os.WriteFile(pack, bytes.Replace(good, []byte(`"max_files": 4`), []byte(`"max_files": 5`), 1), 0o644)
	f.refused(t, "does not match its signature", signers...)
	os.WriteFile(pack, good, 0o644)

	// Signed by a key not in the allowed-signers file.
	other := newPackFixture(t, "ed25519")
	f.sign(t, other.key, rules.Namespace, pack)
	f.refused(t, "signed by a key that is not allowed", signers...)

	// Wrong namespace.
	f.sign(t, f.key, "file", pack)
	f.refused(t, `namespace "file", want "unbrick-rules"`, signers...)

	// Signed, but no allowed-signers file.
	f.sign(t, f.key, rules.Namespace, pack)
	f.refused(t, "pass --rules-signers FILE", "--rules", pack)

	// Expired, without and with the override.
	old := f.pack(t, "old.json", `"id": "cs-pack", "version": "7", "expires": "2024-12-31",`)
	f.sign(t, f.key, rules.Namespace, old)
	f.refused(t, "has expired", "--rules", old, "--rules-signers", f.signers)
	rp = f.fixed(t, "--rules", old, "--rules-signers", f.signers, "--allow-expired-rules")
	if !strings.Contains(rp.Expired, "allowed by --allow-expired-rules") || rp.Signer != "rules@example.com" {
		t.Fatalf("expired override: %+v", rp)
	}

	// disable-service is carried out now (TestFixDisableServiceCorpus):
	// the pack is accepted (no exit 2).
	svc := filepath.Join(f.dir, "svc.json")
	os.WriteFile(svc, bytes.Replace(good, []byte(`"rules": [`), []byte(`"rules": [{"id": "cs-svc", "action": "disable-service", "service": "CSAgent"},`), 1), 0o644)
	f.sign(t, f.key, rules.Namespace, svc)
	if err := checkActions(mustLoad(t, svc, f.signers)); err != nil {
		t.Fatalf("a disable-service pack is refused: %v", err)
	}
}

func mustLoad(t *testing.T, pack, signers string) *rules.Pack {
	t.Helper()
	p, err := (&rulesFlags{file: pack, signers: signers}).load()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFixMaxHostsPerRun(t *testing.T) {
	f := newPackFixture(t, "ed25519")
	pack := f.pack(t, "cs.json", `"max_hosts_per_run": 1,`)
	f.sign(t, f.key, rules.Namespace, pack)
	second := filepath.Join(f.dir, "second.img")
	gunzipTo(t, "../../testdata/demo-disk.img.gz", second)
	before := fileSHA256(t, second)
	f.refused(t, "at most 1 hosts per run (max_hosts_per_run) and 2 targets were given", "--rules", pack, "--rules-signers", f.signers, second)
	if fileSHA256(t, second) != before {
		t.Fatal("the second disk changed")
	}
	// The same target twice is one host.
	code, _, errs := runCLI(t, "fix", "--dry-run", "--log", filepath.Join(f.dir, "l1"), "--rules", pack, "--rules-signers", f.signers, f.img, f.img)
	if code != 0 {
		t.Fatalf("one target named twice: exit %d: %s", code, errs)
	}
	code, _, errs = runCLI(t, "fix", "--dry-run", "--log", filepath.Join(f.dir, "l2"), "--rules", pack, "--rules-signers", f.signers, "--exceed-rules-host-limit", f.img, second)
	if code != 0 {
		t.Fatalf("--exceed-rules-host-limit: exit %d: %s", code, errs)
	}
}

func TestRulesCheckAndTest(t *testing.T) {
	f := newPackFixture(t, "ed25519")
	pack := f.pack(t, "cs.json", packMeta)
	code, out, errs := runCLI(t, "rules", "check", "--rules-signers", f.signers, pack)
	if code != 2 || !strings.Contains(errs, "not signed") || !strings.Contains(out, "fix would refuse") || !strings.Contains(out, "id:         cs-pack") {
		t.Fatalf("unsigned check: exit %d\n%s\n%s", code, out, errs)
	}
	f.sign(t, f.key, rules.Namespace, pack)
	code, out, errs = runCLI(t, "rules", "check", "--rules-signers", f.signers, pack)
	if code != 0 || !strings.Contains(out, "signature:  signed by rules@example.com (ssh-ed25519 SHA256:") || !strings.Contains(out, "fix would use this pack") {
		t.Fatalf("signed check: exit %d\n%s\n%s", code, out, errs)
	}
	bad := f.pack(t, "bad.json", `"expires": "soon",`)
	if code, _, errs = runCLI(t, "rules", "check", bad); code != 2 || !strings.Contains(errs, "field expires") {
		t.Fatalf("syntax: exit %d: %s", code, errs)
	}

	before := fileSHA256(t, f.img)
	code, out, errs = runCLI(t, "rules", "test", "--rules-signers", f.signers, pack, f.img)
	if code != 0 || !strings.Contains(out, "DELETE Windows/System32/drivers/CrowdStrike/") ||
		!strings.Contains(out, "1 volume(s): 2 file(s) matched, 1 would be deleted, 1 kept, 0 need review") ||
		!strings.Contains(out, "rule crowdstrike-2024-07-19: 2 matched, 1 would delete, 1 would keep, 0 need review") {
		t.Fatalf("rules test: exit %d\n%s\n%s", code, out, errs)
	}
	if fileSHA256(t, f.img) != before {
		t.Fatal("rules test wrote to the disk")
	}
}
