package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/unbrick/unbrick/internal/testcorpus"
)

// Secrets fed through every flag, path and environment variable by
// TestSecretsNeverEchoed. secretRP opens the corpus disk
// win10-xts128-recoverypw; secretPW is a user password, secretPP a sealed
// bundle passphrase whose characters JSON escapes.
const (
	secretRP = "284867-596541-514998-422114-660297-261613-215424-199408"
	secretPW = "S3cret!pw"
	secretPP = "p4ss&phrase<x>"
)

// rpGroups are secretRP's 6-digit groups.
var rpGroups = strings.Split(secretRP, "-")

// secretNeedles are the byte strings no output may hold: secretRP as 2 to
// 8 consecutive groups joined by '-', ' ', nothing or an en dash (so a
// password cut short or re-punctuated is found too); secretPW; secretPP
// and its JSON-escaped form; and each of these in UTF-16LE.
func secretNeedles() map[string][]byte {
	n := map[string][]byte{}
	for k := 2; k <= len(rpGroups); k++ {
		for i := 0; i+k <= len(rpGroups); i++ {
			for _, sep := range []string{"-", " ", "", "\u2013"} {
				s := strings.Join(rpGroups[i:i+k], sep)
				n[s] = []byte(s)
			}
		}
	}
	n[secretPW] = []byte(secretPW)
	n[secretPP] = []byte(secretPP)
	j, _ := json.Marshal(secretPP)
	n[string(j[1:len(j)-1])] = j[1 : len(j)-1]
	for k, v := range n {
		n["UTF-16LE "+k] = utf16LE(string(v))
	}
	return n
}

func utf16LE(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		b[2*i], b[2*i+1] = byte(c), byte(c>>8)
	}
	return b
}

// compactTime is a UTC time as run IDs and boot logs name it
// (20240719T215424Z): a group of secretRP may be a time of day there.
var compactTime = regexp.MustCompile(`\d{8}T\d{6}Z`)

// leaks lists what of the secrets b holds: any needle, or a single 6-digit
// group of secretRP (in UTF-8 or UTF-16LE) outside a compact time stamp.
func leaks(b []byte) []string {
	var out []string
	for name, n := range secretNeedles() {
		if bytes.Contains(b, n) {
			out = append(out, fmt.Sprintf("%q", name))
		}
	}
	masked := compactTime.ReplaceAllFunc(b, func(m []byte) []byte { return bytes.Repeat([]byte("t"), len(m)) })
	for _, g := range rpGroups {
		if bytes.Contains(masked, []byte(g)) {
			out = append(out, "group "+g)
		}
		if bytes.Contains(b, utf16LE(g)) {
			out = append(out, "UTF-16LE group "+g)
		}
	}
	return out
}

// TestSecretLeakDetector checks the checker: each way a secret can be
// echoed is seen.
func TestSecretLeakDetector(t *testing.T) {
	for _, s := range []string{
		secretRP, strings.ReplaceAll(secretRP, "-", ""), strings.ReplaceAll(secretRP, "-", " "),
		strings.ReplaceAll(secretRP, "-", "\u2013"), "open " + secretRP[7:] + ": no such file", "group 215424",
		secretPW, `"technician":"p4ss\u0026phrase\u003cx\u003e"`, string(utf16LE("x" + secretPW)),
		string(utf16LE(secretRP)),
	} {
		if len(leaks([]byte(s))) == 0 {
			t.Errorf("leak not seen in %q", s)
		}
	}
	for _, s := range []string{"run 20240719T215424Z-0a1b2c3d", "[redacted]", "{3C116B76-C67B-484E-B439-CE2ED68B561E}"} {
		if l := leaks([]byte(s)); len(l) != 0 {
			t.Errorf("%q: false alarm %v", s, l)
		}
	}
}

// TestSecretsNeverEchoed feeds a recovery password, a user password and a
// bundle passphrase through every key flag, --technician, TARGET, the
// paths of --rules, --keys, --bek, --journal, --log, --passphrase-file,
// --recovery-password-file, an ntfs PATH, report's LOGDIR and --code, the
// command name and the environment, with scan, fix, undo, ntfs, bitlocker,
// keys, report, image and wizard, and checks that neither standard output,
// standard error nor any file unbrick wrote (fleet log JSONL/CSV, undo
// journals, report CSV, sealed bundle) holds them, in UTF-8 or UTF-16LE.
func TestSecretsNeverEchoed(t *testing.T) {
	img := testcorpus.Disk(t, "win10-xts128-recoverypw")
	in := t.TempDir()  // inputs, which hold secrets: not checked
	out := t.TempDir() // everything unbrick writes: checked
	logDir := filepath.Join(out, "logs")
	journalDir := filepath.Join(out, "journal")

	nodash := strings.ReplaceAll(secretRP, "-", "")
	spaced := strings.ReplaceAll(secretRP, "-", " ")
	endash := strings.ReplaceAll(secretRP, "-", "\u2013")
	// A typo: the last digit missing. Not recovery-password shaped: only
	// registering what was typed redacts it.
	typo := secretRP[:len(secretRP)-1]
	missing := func(name string) string { return filepath.Join(in, name) } // never created
	write := func(name, content string) string {
		p := filepath.Join(in, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	keysCSV := write("keys.csv", "KeyID,RecoveryKey\n{3C116B76-C67B-484E-B439-CE2ED68B561E},"+secretRP+"\n")
	badCSV := write("bad.csv", "KeyID,RecoveryKey\n{3C116B76-C67B-484E-B439-CE2ED68B561E},"+secretRP[:len(secretRP)-1]+"9\n")
	rpFile := write("rp.txt", secretRP+"\n")
	ppFile := write("pp.txt", secretPP+"\n")
	sealed := filepath.Join(out, "keys.age")
	allEnv := map[string]string{envRecoveryPassword: secretRP, envPassword: secretPW, "UNBRICK_KEYS_PASSPHRASE": secretPP}
	pwEnv := map[string]string{envPassword: secretPW, "UNBRICK_KEYS_PASSPHRASE": secretPP}

	type step struct {
		env  map[string]string
		args []string
	}
	key := []string{"--recovery-password", secretRP}
	logs := []string{"--log", logDir, "--journal", journalDir}
	steps := []step{
		// The command name itself.
		{nil, []string{secretRP}},
		{pwEnv, []string{secretPW}},

		// fix: a real run (the journal and the fleet log are written), the
		// secrets as technician (text and JSON records), key flags in
		// every syntax, and as TARGET and every path.
		{nil, concat([]string{"fix", "--technician", secretRP}, key, logs, []string{img})},
		{nil, concat([]string{"fix", "--json", "--technician", nodash, "--recovery-password=" + spaced}, logs, []string{img})},
		{allEnv, concat([]string{"fix", "--technician", endash}, logs, []string{img})},
		{nil, concat([]string{"fix", "--json", "--dry-run", "-password", secretPW, "--technician", secretPW}, key, logs, []string{img})},
		{pwEnv, concat([]string{"fix", "--technician", secretPP}, key, logs, []string{img})},
		{pwEnv, concat([]string{"fix", "--json", "--technician", secretPP}, key, logs, []string{img})},
		{nil, concat([]string{"fix", "--recovery-password", typo, "--technician", typo}, logs, []string{img})},
		{nil, concat([]string{"fix"}, logs, []string{secretRP, missing(nodash + ".img")})},
		{pwEnv, concat([]string{"fix"}, logs, []string{secretPW, missing(secretPW)})},
		{pwEnv, concat([]string{"fix", "--rules", missing(secretRP)}, logs, []string{img})},
		{pwEnv, concat([]string{"fix", "--rules", secretPW}, logs, []string{img})},
		{pwEnv, concat([]string{"fix", "--keys", missing(secretRP)}, logs, []string{img})},
		{pwEnv, concat([]string{"fix", "--keys", secretPW}, logs, []string{img})},
		{pwEnv, concat([]string{"fix", "--bek", spaced}, logs, []string{img})},
		{pwEnv, concat([]string{"fix", "--bek", missing(secretPW)}, logs, []string{img})},
		{pwEnv, concat([]string{"fix", "--recovery-password-file", missing(secretRP)}, logs, []string{img})},
		{pwEnv, concat([]string{"fix", "--passphrase-file", secretPW, "--keys", keysCSV}, logs, []string{img})},
		{nil, concat([]string{"fix", "--recovery-password-file", rpFile, "--technician", secretRP}, logs, []string{img})},
		{pwEnv, []string{"fix", "--log", filepath.Join(out, "l-"+secretRP), "--journal", filepath.Join(out, "j-"+secretPW), "--dry-run", "--recovery-password", secretRP, img}},
		{pwEnv, concat([]string{"fix", "--journal", filepath.Join(out, "j-"+secretRP), "--log", logDir, "--unclean", secretPW}, key, []string{img})},
		{pwEnv, concat([]string{"fix", "--parallel", secretRP}, logs, []string{img})},
		{pwEnv, concat([]string{"fix", "--" + secretPW}, logs, []string{img})},

		// scan.
		{nil, concat([]string{"scan"}, key, []string{img})},
		{nil, concat([]string{"scan", "--json", "--recovery-password", endash}, []string{img})},
		{allEnv, []string{"scan", "--json", img}},
		{nil, []string{"scan", "--keys", keysCSV, img}},
		{nil, []string{"scan", "--keys", badCSV, img}},
		{pwEnv, []string{"scan", "--rules", missing(secretRP), "--keys", missing(secretPW), img}},
		{pwEnv, []string{"scan", "--bek", secretRP, "--bek", secretPW, img}},
		{pwEnv, []string{"scan", "--fvek", secretRP, img}},
		{pwEnv, []string{"scan", secretRP, secretPW}},
		{pwEnv, []string{"scan", "--password", secretPW, "--recovery-password", typo, img}},

		// ntfs: the secrets as PATH and as TARGET.
		{pwEnv, concat([]string{"ntfs", "ls", "--partition", "3"}, key, []string{img, secretRP})},
		{pwEnv, concat([]string{"ntfs", "ls", "--partition", "3", "--json"}, key, []string{img, "Windows/" + secretPW})},
		{pwEnv, concat([]string{"ntfs", "cat", "--partition", "3"}, key, []string{img, "Windows/System32/" + nodash})},
		{pwEnv, concat([]string{"ntfs", "cat", "--partition", "3"}, key, []string{img, secretPW})},
		{pwEnv, concat([]string{"ntfs", "rm", "--dry-run", "--partition", "3"}, key, []string{img, "Windows/" + spaced})},
		{pwEnv, concat([]string{"ntfs", "rm", "--partition", "3", "--password", secretPW}, key, []string{img, secretPW})},
		{pwEnv, concat([]string{"ntfs", "journal", "--partition", "3"}, key, []string{secretRP})},
		{pwEnv, []string{"ntfs", "ls", secretPW, "/"}},
		{pwEnv, []string{"ntfs", secretRP}},

		// bitlocker.
		{pwEnv, []string{"bitlocker", "info", secretRP}},
		{pwEnv, []string{"bitlocker", "info", "--json", secretPW}},
		{pwEnv, []string{"bitlocker", "info", "--partition", secretRP, img}},
		{pwEnv, []string{"bitlocker", "decrypt", "--out", filepath.Join(out, "dec.img"), "--recovery-password", secretRP[:len(secretRP)-1] + "9", img}},
		{pwEnv, []string{"bitlocker", "decrypt", "--out", filepath.Join(out, "dec.img"), "--password", secretPW, img}},
		{pwEnv, []string{"bitlocker", "decrypt", "--out", missing("no-"+secretRP) + "/x", "--recovery-password", secretRP, img}},
		{pwEnv, []string{"bitlocker", secretPW}},

		// keys.
		{nil, []string{"keys", "check", keysCSV, badCSV}},
		{pwEnv, []string{"keys", "check", missing(secretRP), secretPW}},
		{pwEnv, []string{"keys", "check", "--passphrase-file", missing(secretRP), keysCSV}},
		{nil, []string{"keys", "seal", "--out", sealed, "--passphrase-file", ppFile, keysCSV}},
		{nil, []string{"keys", "check", "--passphrase-file", ppFile, sealed}},
		{map[string]string{"UNBRICK_KEYS_PASSPHRASE": secretPW}, []string{"keys", "check", sealed}},
		{pwEnv, []string{"keys", "seal", "--out", filepath.Join(out, "k2.age"), "-r", secretRP, keysCSV}},

		// undo (the real journal is added below, once fix wrote it).
		{pwEnv, []string{"undo", "--journal", secretRP, img}},
		{pwEnv, []string{"undo", "--journal", missing(secretPW), img}},
		{pwEnv, []string{"undo", "--journal", missing(spaced), "--technician", secretRP, secretPW}},

		// image.
		{pwEnv, []string{"image", "logs", secretRP}},
		{pwEnv, []string{"image", "build", "--out", filepath.Join(out, "usb.img"), "--keys", missing(secretRP), "--passphrase-file", missing(secretPW)}},

		// wizard, line mode (standard input is empty: it stops at once).
		{pwEnv, []string{"wizard", "--accessible", "--log", logDir, "--rules", missing(secretRP), secretPW}},
		{pwEnv, []string{"wizard", "--accessible", "--log", logDir, "--technician", secretRP, secretRP}},
	}

	type result struct {
		args     []string
		out, err string
	}
	var results []result
	runStep := func(s step) {
		var o, e bytes.Buffer
		en := &env{Stdin: strings.NewReader(""), Stdout: &o, Stderr: &e, Getenv: func(k string) string { return s.env[k] }}
		code := run(en, s.args)
		t.Logf("unbrick %s: exit %d", strings.Join(s.args, " "), code)
		results = append(results, result{s.args, o.String(), e.String()})
	}
	for _, s := range steps {
		runStep(s)
	}

	// The first fix ran for real: its journal exists. Undo it with the
	// secrets as technician (an 'undone' record goes to the fleet log and
	// standard output), after a --check.
	journals, _ := filepath.Glob(filepath.Join(journalDir, "*.journal"))
	if len(journals) == 0 {
		t.Fatalf("fix wrote no undo journal in %s:\n%s%s", journalDir, results[2].out, results[2].err)
	}
	runStep(step{pwEnv, []string{"undo", "--check", "--journal", journals[0], img}})
	runStep(step{pwEnv, []string{"undo", "--journal", journals[0], "--log", logDir, "--technician", secretRP, img}})
	runStep(step{pwEnv, []string{"undo", "--journal", journals[0], "--log", logDir, "--technician", secretPW, img}})

	// report reads the fleet log back.
	runStep(step{pwEnv, []string{"report", logDir}})
	runStep(step{pwEnv, []string{"report", "--json", logDir}})
	runStep(step{pwEnv, []string{"report", "--csv", filepath.Join(out, "report.csv"), "--inventory", keysCSV, logDir}})
	runStep(step{pwEnv, []string{"report", "--code", secretRP, logDir}})
	runStep(step{pwEnv, []string{"report", "--code", secretPW, "--inventory", missing(secretRP), logDir}})
	runStep(step{pwEnv, []string{"report", secretRP, missing(secretPW)}})

	// The run must have produced what is checked: records, a journal, a
	// sealed bundle, a report CSV.
	for _, p := range []string{filepath.Join(logDir, "unbrick.jsonl"), filepath.Join(logDir, "unbrick.csv"), sealed, filepath.Join(out, "report.csv")} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("expected output missing: %v", err)
		}
	}
	if jl, _ := os.ReadFile(filepath.Join(logDir, "unbrick.jsonl")); !bytes.Contains(jl, []byte(`"technician":"[redacted]"`)) || !bytes.Contains(jl, []byte(`"status":"undone"`)) {
		t.Errorf("the fleet log lacks the redacted technician or the undo record:\n%s", jl)
	}
	redacted := 0
	for _, r := range results {
		redacted += strings.Count(r.out+r.err, "[redacted]")
		for _, s := range []struct{ name, text string }{{"stdout", r.out}, {"stderr", r.err}} {
			if l := leaks([]byte(s.text)); len(l) > 0 {
				t.Errorf("unbrick %s: %s holds %s:\n%s", strings.Join(r.args, " "), s.name, strings.Join(l, ", "), s.text)
			}
		}
	}
	if redacted == 0 {
		t.Error("nothing was redacted: the secrets never reached an output, so the test checks nothing")
	}
	nfiles := 0
	filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		nfiles++
		b, err := os.ReadFile(p)
		if err != nil {
			t.Error(err)
			return nil
		}
		if l := leaks(b); len(l) > 0 {
			t.Errorf("%s holds %s", p, strings.Join(l, ", "))
		}
		return nil
	})
	t.Logf("%d steps, %d files checked, %d redactions", len(results), nfiles, redacted)
}

func concat(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
