package wizard

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/unbrick/unbrick/internal/keys"
	"github.com/unbrick/unbrick/internal/remedy"
)

const goodPW = "284867-596541-514998-422114-660297-261613-215424-199408"

func TestCheckRecoveryPassword(t *testing.T) {
	for _, in := range []string{goodPW, strings.ReplaceAll(goodPW, "-", ""), strings.ReplaceAll(goodPW, "-", " "), "  " + goodPW + " "} {
		got, err := CheckRecoveryPassword(in)
		if err != nil || got != goodPW {
			t.Errorf("CheckRecoveryPassword(%q) = %q, %v", in, got, err)
		}
	}
	bad := []struct{ in, want string }{
		{strings.TrimSuffix(goodPW, "199408") + "199409", "group 8 fails its checksum"},
		{"184867" + goodPW[6:], "group 1 fails its checksum"},
		{strings.ReplaceAll(goodPW, "-", "")[:47], "group 8 has 5 characters"},
		{strings.ReplaceAll(goodPW, "-", "")[:20], "group 4 is incomplete"},
		{strings.ReplaceAll(goodPW, "-", "") + "0", "has 49 digits"},
		{goodPW[:len(goodPW)-7], "has 7 groups"},
		{strings.Replace(goodPW, "514998", "5149a8", 1), "group 3 contains a character"},
		{"", "is empty"},
	}
	for _, b := range bad {
		err := validateRecoveryPassword(b.in)
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("validate(%q) = %v, want %q", b.in, err, b.want)
			continue
		}
		for _, g := range strings.FieldsFunc(b.in, func(r rune) bool { return r == '-' }) {
			if len(g) >= 6 && strings.Contains(err.Error(), g) {
				t.Errorf("error %q repeats digits %q", err, g)
			}
		}
	}
	// The checksum rule is internal/keys': both agree on every group.
	if _, err := keys.NormalizeRecoveryPassword(goodPW); err != nil {
		t.Fatal(err)
	}
}

// The full-screen recovery password question turns F-keys into digits and
// shows the validator's group error.
func TestTUIRecoveryPasswordFKeys(t *testing.T) {
	var v string
	q := Question{Title: "Enter the recovery password", Digits: true, Validate: validateRecoveryPassword}
	f := newInputForm(q, &v)
	var mm tea.Model = newFormModel(f, true)
	mm.Init()
	mm, _ = mm.Update(tea.WindowSizeMsg{Width: 0, Height: 0})
	for _, r := range strings.TrimSuffix(goodPW, "199408") + "19940" {
		mm, _ = mm.Update(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
	mm, _ = mm.Update(tea.KeyPressMsg{Code: tea.KeyF9}) // '9': 199409, a typo
	if !mm.View().AltScreen {
		t.Error("the form is not on the alternate screen")
	}
	view := ansi.Strip(mm.View().Content)
	if !strings.Contains(view, "215424-199409") {
		t.Fatalf("F9 did not type 9:\n%s", view)
	}
	mm, _ = mm.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	view = ansi.Strip(mm.View().Content)
	if !strings.Contains(view, "group 8") {
		t.Fatalf("no group 8 error after Enter:\n%s", view)
	}
	mm, _ = mm.Update(tea.KeyPressMsg{Code: tea.KeyBackspace})
	mm, _ = mm.Update(tea.KeyPressMsg{Code: tea.KeyF8})
	mm, _ = mm.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	for _, r := range mm.View().Content {
		if r >= 0x80 {
			t.Fatalf("non-ASCII %q on the screen", r)
		}
	}
	if v != goodPW {
		t.Fatalf("value %q", v)
	}
}

// A secret question shows a mask, never the typed text.
func TestTUISecretEcho(t *testing.T) {
	var v string
	var mm tea.Model = newFormModel(newInputForm(Question{Title: "BitLocker password", Secret: true}, &v), false)
	mm.Init()
	mm, _ = mm.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	for _, r := range "hunter2" {
		mm, _ = mm.Update(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
	view := ansi.Strip(mm.View().Content)
	if strings.Contains(view, "hunter2") || !strings.Contains(view, "*******") {
		t.Fatalf("secret echo:\n%s", view)
	}
	if v != "hunter2" {
		t.Fatalf("value %q", v)
	}
}

func TestBanner(t *testing.T) {
	b := Banner("3C116B76")
	rows := strings.Split(b, "\n")
	if len(rows) != 5 {
		t.Fatalf("%d rows", len(rows))
	}
	// '1' is drawn as a column with a serif: row 4 of the third glyph.
	if !strings.Contains(rows[4], "###") {
		t.Fatalf("banner:\n%s", b)
	}
	for _, r := range b {
		if r != '#' && r != ' ' && r != '\n' {
			t.Fatalf("banner has %q", r)
		}
	}
	if Banner("0") == Banner("8") || Banner("B") == Banner("8") || Banner("D") == Banner("0") {
		t.Fatal("look-alike glyphs are identical")
	}
	if got := ShortKeyID("{3c116b76-c67b-484e-b439-ce2ed68b561e}"); got != "3C116B76" {
		t.Fatalf("ShortKeyID = %q", got)
	}
}

func TestNoteEscape(t *testing.T) {
	got := noteEscape(`C:\Windows\x_y*z` + "`")
	want := `C:\\Windows\\x\_y\*z` + "\\`"
	if got != want {
		t.Fatalf("noteEscape = %q, want %q", got, want)
	}
}

func TestModeReason(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	term := map[string]string{"TERM": "xterm"}
	if r := ModeReason(true, env(term), "", nil, nil); r != "--accessible" {
		t.Errorf("flag: %q", r)
	}
	if r := ModeReason(false, env(map[string]string{"TERM": "xterm", EnvAccessible: "yes"}), "", nil, nil); !strings.Contains(r, EnvAccessible) {
		t.Errorf("env: %q", r)
	}
	if r := ModeReason(false, env(term), "quiet unbrick.accessible=1", nil, nil); !strings.Contains(r, "kernel") {
		t.Errorf("cmdline: %q", r)
	}
	if r := ModeReason(false, env(term), "unbrick.accessible=0", nil, nil); r != "not a terminal" {
		t.Errorf("cmdline =0: %q", r)
	}
	if r := ModeReason(false, env(map[string]string{"TERM": "dumb"}), "", nil, nil); !strings.Contains(r, "dumb") {
		t.Errorf("dumb: %q", r)
	}
	f, _ := os.CreateTemp(t.TempDir(), "x")
	defer f.Close()
	if r := ModeReason(false, env(term), "", f, f); r != "not a terminal" {
		t.Errorf("file: %q", r)
	}
}

func TestLineUI(t *testing.T) {
	in := "\n7\n2\nmaybe\ny\nbad\ngood\n"
	var out bytes.Buffer
	u := NewLineUI(strings.NewReader(in), &out)
	if err := u.Show("Títle…", "body"); err != nil {
		t.Fatal(err)
	}
	v, err := u.Choose("pick", "", []Option{{"a", "A"}, {"b", "B"}})
	if err != nil || v != "B" {
		t.Fatalf("Choose = %q, %v", v, err)
	}
	ok, err := u.Confirm("sure?", "", "yes", "no")
	if err != nil || !ok {
		t.Fatalf("Confirm = %v, %v", ok, err)
	}
	s, err := u.Ask(Question{Title: "word", Validate: func(s string) error {
		if s != "good" {
			return errors.New("not good")
		}
		return nil
	}})
	if err != nil || s != "good" {
		t.Fatalf("Ask = %q, %v", s, err)
	}
	if err := u.Show("end", ""); !errors.Is(err, ErrAborted) {
		t.Fatalf("Show at EOF: %v", err)
	}
	o := out.String()
	for _, want := range []string{"Title...", "Error: \"7\" is not one of", "Error: answer y or n", "Error: not good"} {
		if !strings.Contains(strings.ReplaceAll(o, "T?tle", "Title"), want) {
			t.Errorf("output lacks %q:\n%s", want, o)
		}
	}
	for _, r := range o {
		if r >= 0x80 {
			t.Fatalf("non-ASCII output %q", r)
		}
	}
}

// SIGINT during Busy does not stop the work: it is reported after it.
func TestLineUIBusySIGINT(t *testing.T) {
	if err := canInterruptSelf(); err != nil {
		t.Skip(err)
	}
	var out bytes.Buffer
	u := NewLineUI(strings.NewReader(""), &out)
	finished := false
	interrupted := u.Busy("Fixing", "", func(progress func(string)) {
		interruptSelf()
		progress("step")
		for i := 0; i < 500; i++ {
			u.mu.Lock()
			seen := strings.Contains(out.String(), "finished first")
			u.mu.Unlock()
			if seen {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		finished = true
	})
	if !interrupted || !finished {
		t.Fatalf("interrupted=%v finished=%v", interrupted, finished)
	}
	if !strings.Contains(out.String(), "finished first") {
		t.Fatalf("no notice:\n%s", out.String())
	}
}

func TestBusyModelCtrlC(t *testing.T) {
	m := &busyModel{title: "Fixing"}
	m.Update(tea.KeyPressMsg{Code: 'c'})
	if m.interrupted {
		t.Fatal("a plain c counted as Ctrl-C")
	}
	m.Update(tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl})
	if !m.interrupted || !strings.Contains(ansi.Strip(m.View().Content), "finished first") {
		t.Fatalf("Ctrl-C not acknowledged:\n%s", m.View().Content)
	}
	if !m.View().AltScreen {
		t.Error("the progress screen is not on the alternate screen")
	}
	_, cmd := m.Update(doneMsg{})
	if cmd == nil {
		t.Fatal("done does not quit")
	}
}

func TestLiveHint(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", "0 of 8 groups typed"},
		{"28486", "0 of 8 groups typed"},
		{"284867-5965", "1 of 8 groups typed, correct so far"},
		{"284867596541", "2 of 8 groups typed, correct so far"},
		{"284867-596542", "group 2 fails its checksum"},
		{"284867-5965411", "group 2 has more than 6 digits"},
		{goodPW, "all 8 groups typed and correct"},
		{strings.ReplaceAll(goodPW, "-", ""), "all 8 groups typed and correct"},
		{strings.TrimSuffix(goodPW, "199408") + "199409", "group 8 fails its checksum"},
	}
	for _, c := range cases {
		if got := LiveHint(c.in); !strings.Contains(got, c.want) {
			t.Errorf("LiveHint(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestLockedIntroTPM(t *testing.T) {
	v := &remedy.Volume{Target: "/dev/sda", Partition: 3, Size: 100 << 30, Status: remedy.StatusLocked,
		BitLocker: &remedy.BitLockerInfo{Description: "PC-0042 C: 7/19/2024", Protectors: []remedy.Protector{
			{ID: "6DD54BCD-633D-4836-9EBC-44FA02F1776D", Type: "TPM"},
			{ID: "3C116B76-C67B-484E-B439-CE2ED68B561E", Type: "recovery password"}}}}
	s := lockedIntro(v, []string{"keys.csv"})
	for _, want := range []string{"BitLocker volume of PC-0042", Banner("3C116B76"), "3C116B76-C67B-484E-B439-CE2ED68B561E",
		"TPM chip unlocks this drive", "recovery key is needed", "keys.csv) have no key"} {
		if !strings.Contains(s, want) {
			t.Errorf("intro lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "6DD54BCD") {
		t.Error("the TPM protector's ID is shown as the recovery key ID")
	}
	v.BitLocker.Protectors = v.BitLocker.Protectors[:1]
	if s := lockedIntro(v, nil); !strings.Contains(s, "NO recovery password protector") {
		t.Errorf("TPM-only intro:\n%s", s)
	}
	if a := statusAdvice(&remedy.Volume{Status: remedy.StatusLocked, BitLocker: &remedy.BitLockerInfo{Protectors: []remedy.Protector{{ID: "3C116B76-C67B-484E-B439-CE2ED68B561E", Type: "recovery password"}}}}); !strings.Contains(a, "key with ID 3C116B76") {
		t.Errorf("locked advice: %s", a)
	}
}
