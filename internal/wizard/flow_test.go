package wizard

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/unbrick/unbrick/bitlocker"
	"github.com/unbrick/unbrick/internal/remedy"
	"github.com/unbrick/unbrick/internal/testcorpus"
)

// scriptUI is a UI that answers from a script and records every screen.
// Choose answers are option Values, Confirm answers "y"/"n", Ask answers
// the text; Show takes no answer.
type scriptUI struct {
	t       *testing.T
	answers []string
	screens []string // "kind: title\nbody"
	options [][]Option
	lines   []string // Busy progress lines
}

func (u *scriptUI) next(what string) string {
	u.t.Helper()
	if len(u.answers) == 0 {
		u.t.Fatalf("script ran out of answers at %s; screens:\n%s", what, strings.Join(u.screens, "\n---\n"))
	}
	a := u.answers[0]
	u.answers = u.answers[1:]
	return a
}

func (u *scriptUI) Show(title, body string) error {
	u.screens = append(u.screens, "show: "+title+"\n"+body)
	return nil
}

func (u *scriptUI) Choose(title, body string, opts []Option) (string, error) {
	u.screens = append(u.screens, "choose: "+title+"\n"+body)
	u.options = append(u.options, opts)
	a := u.next("choose " + title)
	for _, o := range opts {
		if o.Value == a {
			return a, nil
		}
	}
	u.t.Fatalf("%q is not a choice of %q (%v)", a, title, opts)
	return "", nil
}

func (u *scriptUI) Ask(q Question) (string, error) {
	u.screens = append(u.screens, "ask: "+q.Title+"\n"+q.Body)
	a := u.next("ask " + q.Title)
	if q.Validate != nil {
		if err := q.Validate(a); err != nil {
			u.t.Fatalf("scripted answer to %q rejected: %v", q.Title, err)
		}
	}
	return a, nil
}

func (u *scriptUI) Confirm(title, body, yes, no string) (bool, error) {
	u.screens = append(u.screens, "confirm: "+title+"\n"+body)
	return u.next("confirm "+title) == "y", nil
}

func (u *scriptUI) Busy(title, body string, work func(func(string))) bool {
	u.screens = append(u.screens, "busy: "+title)
	work(func(l string) { u.lines = append(u.lines, l) })
	return false
}

func (u *scriptUI) saw(prefix string) string {
	for _, s := range u.screens {
		if strings.HasPrefix(s, prefix) {
			return s
		}
	}
	return ""
}

// A BitLocker volume fixed through the wizard costs one key derivation in
// the whole run (scan, key dialog, preview, fix, verify), for a key from
// the key export and for a typed one; the fix reports its steps.
func TestWizardDerivesEachKeyOnce(t *testing.T) {
	const name = "win10-xts128-recoverypw"
	m := testcorpus.LoadManifest(t)
	man := m.Variant(t, name)
	osv := man["os_volume"].(map[string]any)
	guid := osv["bitlocker"].(map[string]any)["volume_identifier"].(string)
	secret := osv["unlock"].(map[string]any)["secret"].(string)
	for _, how := range []string{"typed", "flag"} {
		t.Run(how, func(t *testing.T) {
			img := testcorpus.Disk(t, name)
			dir := t.TempDir()
			ui := &scriptUI{t: t}
			cfg := Config{UI: ui, Out: &bytes.Buffer{}, Version: "test", Targets: []string{img},
				LogDir: filepath.Join(dir, "logs"), JournalDir: filepath.Join(dir, "journal")}
			if how == "typed" {
				ui.answers = []string{"typed", secret, "y"}
			} else {
				cfg.Options.Keys.Typed = []remedy.TypedKey{{Key: bitlocker.RecoveryPassword(secret), Source: "--recovery-password"}}
				ui.answers = []string{"y"}
			}
			w := newWizard(cfg)
			if code := w.runCode(context.Background()); code != 0 {
				t.Fatalf("exit %d; screens:\n%s", code, strings.Join(ui.screens, "\n---\n"))
			}
			if len(ui.answers) != 0 {
				t.Fatalf("answers left: %q", ui.answers)
			}
			if !strings.Contains(ui.saw("show: Result"), "REMEDIATED") {
				t.Fatalf("no remediated result; screens:\n%s", strings.Join(ui.screens, "\n---\n"))
			}
			if got := w.stretches[guid]; got != 1 || len(w.stretches) != 1 {
				t.Fatalf("key derivations %v, want exactly 1 for %s", w.stretches, guid)
			}
			progress := strings.Join(ui.lines, "\n")
			for _, want := range []string{"writing the undo journal", "deleting the faulty file", "checking the disk after writing", "remediated"} {
				if !strings.Contains(progress, want) {
					t.Errorf("progress lacks %q:\n%s", want, progress)
				}
			}
		})
	}
}

func protectors(types ...bitlocker.ProtectorType) *remedy.Volume {
	v := &remedy.Volume{Target: "/dev/sda", Partition: 3, Size: 100 << 30, Status: remedy.StatusLocked,
		BitLocker: &remedy.BitLockerInfo{VolumeGUID: "8E6909F1-6BA3-49EA-BF8D-EC83FAB656CD"}}
	for i, t := range types {
		v.BitLocker.Protectors = append(v.BitLocker.Protectors, remedy.Protector{ID: fmt.Sprintf("%08X-0000-4000-8000-000000000000", i+1), Type: t})
	}
	return v
}

// The key choices follow the protector list: nothing is offered that the
// volume cannot take.
func TestKeyChoices(t *testing.T) {
	cases := []struct {
		types []bitlocker.ProtectorType
		want  string
	}{
		{[]bitlocker.ProtectorType{bitlocker.ProtectorTPM, bitlocker.ProtectorRecoveryPassword}, "typed,export,skip"},
		{[]bitlocker.ProtectorType{bitlocker.ProtectorRecoveryPassword, bitlocker.ProtectorPassword}, "typed,export,password,skip"},
		{[]bitlocker.ProtectorType{bitlocker.ProtectorStartupKey, bitlocker.ProtectorPassword}, "bek,password,skip"},
		{[]bitlocker.ProtectorType{bitlocker.ProtectorPassword}, "password,skip"},
		{[]bitlocker.ProtectorType{bitlocker.ProtectorTPM}, "skip"},
		// The startup key of "TPM and startup key" is useless without the TPM.
		{[]bitlocker.ProtectorType{bitlocker.ProtectorTPMStartupKey, bitlocker.ProtectorTPMPIN}, "skip"},
		{[]bitlocker.ProtectorType{bitlocker.ProtectorTPMPINStartupKey, bitlocker.ProtectorPublicKey}, "skip"},
	}
	for _, c := range cases {
		var got []string
		for _, o := range keyChoices(protectors(c.types...)) {
			got = append(got, o.Value)
		}
		if g := strings.Join(got, ","); g != c.want {
			t.Errorf("%v: choices %s, want %s", c.types, g, c.want)
		}
	}
}

// A TPM-only volume: the dialog explains why the stick cannot open it,
// names the volume and protector IDs, offers no key entry and skips it,
// without asking the engine anything.
func TestUnlockDialogTPMOnly(t *testing.T) {
	v := protectors(bitlocker.ProtectorTPM)
	ui := &scriptUI{t: t}
	w := newWizard(Config{UI: ui})
	res, err := w.unlockDialog(context.Background(), v)
	if err != nil || res.unlocked || res.vol != v {
		t.Fatalf("result %+v, %v", res, err)
	}
	if len(ui.options) != 0 {
		t.Fatalf("choices offered for a TPM-only volume: %v", ui.options)
	}
	s := ui.saw("show: No key the stick can use for this volume: skipped")
	for _, want := range []string{"cannot be unlocked from the stick", "00000001-0000-4000-8000-000000000000  TPM",
		"no recovery password, startup key (.BEK) or", "8E6909F1-6BA3-49EA-BF8D-EC83FAB656CD", "stays locked and unchanged"} {
		if !strings.Contains(s, want) {
			t.Errorf("explanation lacks %q:\n%s", want, s)
		}
	}
	if !strings.Contains(s, "The TPM chip hands its key only to the Windows") {
		t.Errorf("no TPM explanation:\n%s", s)
	}
	if strings.Contains(s, "Enter the recovery password") || strings.Contains(s, "Type the recovery password") {
		t.Errorf("a TPM-only volume is offered a recovery password:\n%s", s)
	}
	// A smart card (public key) protector alone: no TPM story.
	ui = &scriptUI{t: t}
	w = newWizard(Config{UI: ui})
	if _, err := w.unlockDialog(context.Background(), protectors(bitlocker.ProtectorPublicKey)); err != nil {
		t.Fatal(err)
	}
	if s := ui.saw("show: No key the stick can use"); strings.Contains(s, "TPM chip") || !strings.Contains(s, "None of them is a recovery password") {
		t.Errorf("public-key-only explanation:\n%s", s)
	}

	// TPM with a recovery password protector (the usual case): the key ID
	// is shown large and typing it is offered.
	v = protectors(bitlocker.ProtectorTPM, bitlocker.ProtectorRecoveryPassword)
	ui = &scriptUI{t: t, answers: []string{"skip"}}
	w = newWizard(Config{UI: ui})
	if _, err := w.unlockDialog(context.Background(), v); err != nil {
		t.Fatal(err)
	}
	s = ui.saw("choose: How do you want to unlock")
	if !strings.Contains(s, Banner("00000002")) || !strings.Contains(s, "TPM chip unlocks this drive only for Windows") {
		t.Errorf("TPM+recovery password intro:\n%s", s)
	}
	if len(ui.options) != 1 || ui.options[0][0].Value != "typed" {
		t.Errorf("choices %v", ui.options)
	}
}
