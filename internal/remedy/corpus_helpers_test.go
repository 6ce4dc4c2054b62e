package remedy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/unbrick/unbrick/bitlocker"
	"github.com/unbrick/unbrick/internal/testcorpus"
)

// variant is one corpus disk and what its manifest says.
type variant struct {
	name string
	m    map[string]any
}

func (v variant) osVolume() map[string]any { return v.m["os_volume"].(map[string]any) }
func (v variant) osPartition() int         { return int(v.m["os_partition_index"].(float64)) }
func (v variant) hostName() string         { return v.m["host_name"].(string) }
func (v variant) encrypted() bool          { return v.osVolume()["encryption"] != "none" }
func (v variant) sha256() string           { return v.m["sha256"].(string) }

// unlock returns the variant's unlock method and secret ("" for none).
func (v variant) unlock() (method, secret string) {
	u := v.osVolume()["unlock"].(map[string]any)
	method = u["method"].(string)
	if s, ok := u["secret"].(string); ok {
		secret = s
	}
	if f, ok := u["bek_file"].(string); ok {
		secret = f
	}
	return
}

// crowdstrike291 returns the manifest's 291 files: name -> role.
func (v variant) crowdstrike291() map[string]string {
	out := map[string]string{}
	for _, f := range v.m["crowdstrike"].(map[string]any)["files"].([]any) {
		fm := f.(map[string]any)
		if n := fm["name"].(string); strings.HasPrefix(n, "C-00000291") {
			out[n] = fm["role"].(string)
		}
	}
	return out
}

func (v variant) gone() []string {
	var out []string
	for _, g := range v.m["expected_after_fix"].(map[string]any)["gone"].([]any) {
		out = append(out, g.(string))
	}
	return out
}

func (v variant) protectorIDs() []string {
	bl, ok := v.osVolume()["bitlocker"].(map[string]any)
	if !ok {
		return nil
	}
	var out []string
	for _, p := range bl["key_protectors"].([]any) {
		out = append(out, p.(map[string]any)["id"].(string))
	}
	return out
}

func corpusVariants(t testing.TB) []variant {
	m := testcorpus.LoadManifest(t)
	var out []variant
	for _, n := range m.VariantNames() {
		out = append(out, variant{n, m.Variant(t, n)})
	}
	return out
}

func oneVariant(t testing.TB, name string) variant {
	m := testcorpus.LoadManifest(t)
	return variant{name, m.Variant(t, name)}
}

// typedKeys turns the variant's unlock secret into the key a technician
// would type; it also returns the secrets, for the leak checks.
func typedKeys(t testing.TB, v variant) ([]TypedKey, []string) {
	method, secret := v.unlock()
	switch method {
	case "recovery_password":
		return []TypedKey{{Key: bitlocker.RecoveryPassword(secret), Source: "--recovery-password"}}, []string{secret}
	case "password":
		return []TypedKey{{Key: bitlocker.Password(secret), Source: "--password"}}, []string{secret}
	case "bek":
		b, err := os.ReadFile(testcorpus.Path(t, secret))
		if err != nil {
			t.Fatal(err)
		}
		return []TypedKey{{Key: bitlocker.BEK(b), Source: "--bek " + filepath.Base(secret)}}, nil
	}
	return nil, nil
}

func fileSHA256(t testing.TB, p string) string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// runVerify runs the corpus's independent checker (dislocker, ntfs-3g,
// sleuthkit, libfsntfs, tools/ntfs-check) on an image.
//
// verify takes 10-20 s per image, so go test runs it on the variants in
// verifyInGoTest only; UNBRICK_VERIFY=all runs it on every variant, and
// scripts/ci-remedy.sh checks the whole corpus through the CLI.
func runVerify(t *testing.T, img, name string, args ...string) {
	t.Helper()
	if !verifyInGoTest[name] && os.Getenv("UNBRICK_VERIFY") != "all" {
		t.Logf("independent verify of %s left to scripts/ci-remedy.sh (UNBRICK_VERIFY=all runs it here)", name)
		return
	}
	mustVerify(t, img, name, args...)
}

// mustVerify runs the corpus verify script whatever verifyInGoTest says.
func mustVerify(t *testing.T, img, name string, args ...string) {
	t.Helper()
	script := testcorpus.Path(t, "verify")
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("corpus verify needs root")
		}
		t.Skip("corpus verify needs root")
	}
	cmd := exec.Command(script, append([]string{img, name}, args...)...)
	out, err := cmd.CombinedOutput()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	last := lines[len(lines)-1]
	if err != nil || !strings.HasPrefix(last, "verify: PASS") {
		t.Fatalf("verify %s %s %v: %v\n%s", filepath.Base(img), name, args, err, out)
	}
}

// verifyInGoTest are the variants go test checks with the corpus verify
// script: the BitLocker disk with a faulty and a good file (the unclean
// journal test verifies a plain disk).
var verifyInGoTest = map[string]bool{"win10-xts128-both": true}

// volumeOf returns the report of the variant's OS partition.
func volumeOf(t testing.TB, vols []*Volume, v variant) *Volume {
	t.Helper()
	for _, vol := range vols {
		if vol.Partition == v.osPartition() {
			return vol
		}
	}
	t.Fatalf("%s: no report for partition %d; got %d volumes", v.name, v.osPartition(), len(vols))
	return nil
}

func fixOpts(t *testing.T, v variant) (Options, []string) {
	keys, secrets := typedKeys(t, v)
	return Options{Keys: KeyOptions{Typed: keys}, Fix: FixOptions{JournalDir: filepath.Join(t.TempDir(), "journal")}, Parallel: 1}, secrets
}

func fix(t *testing.T, img string, o Options) []*Volume {
	t.Helper()
	return Fix(context.Background(), []string{img}, o)
}
