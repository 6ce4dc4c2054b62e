package wizard

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/unbrick/unbrick/bitlocker"
	"github.com/unbrick/unbrick/internal/keys"
	"github.com/unbrick/unbrick/internal/redact"
	"github.com/unbrick/unbrick/internal/remedy"
)

// maxWrongKeys is how many wrong keys the wizard takes for one volume
// before it offers to skip it.
const maxWrongKeys = 3

// recoveryKeyID returns the ID of a volume's recovery password protector
// (the "recovery key ID" Windows shows), or "".
func recoveryKeyID(v *remedy.Volume) string {
	if v.BitLocker == nil {
		return ""
	}
	for _, p := range v.BitLocker.Protectors {
		if p.Type == bitlocker.ProtectorRecoveryPassword {
			return p.ID
		}
	}
	return ""
}

func hasProtector(v *remedy.Volume, types ...bitlocker.ProtectorType) bool {
	if v.BitLocker == nil {
		return false
	}
	for _, p := range v.BitLocker.Protectors {
		for _, t := range types {
			if p.Type == t {
				return true
			}
		}
	}
	return false
}

// keyChoices lists the ways to unlock v that can work, from its protector
// list: a recovery password (typed, or from a key export, which holds
// recovery passwords) only with a recovery password protector; a .BEK file
// only with a startup key protector (a "TPM and startup key" protector
// needs the TPM too, which the stick does not have); the user password
// only with a password protector. Skip is always last. A volume with only
// TPM protectors gets skip alone.
func keyChoices(v *remedy.Volume) []Option {
	var opts []Option
	if hasProtector(v, bitlocker.ProtectorRecoveryPassword) {
		opts = append(opts,
			Option{Label: "Type the recovery password (48 digits)", Value: "typed"},
			Option{Label: "Use a key file (key export) from a stick", Value: "export"})
	}
	if hasProtector(v, bitlocker.ProtectorStartupKey) {
		opts = append(opts, Option{Label: "Use a BEK key file (startup or recovery key) from another stick", Value: "bek"})
	}
	if hasProtector(v, bitlocker.ProtectorPassword) {
		opts = append(opts, Option{Label: "Type the user password of the drive", Value: "password"})
	}
	return append(opts, Option{Label: "Skip this volume (it stays locked; nothing is changed)", Value: "skip"})
}

// protectorList names each protector of v with its type, one a line.
func protectorList(v *remedy.Volume) string {
	var b strings.Builder
	for _, p := range v.BitLocker.Protectors {
		fmt.Fprintf(&b, "  %-36s  %s\n", p.ID, p.Type)
	}
	return b.String()
}

// noUsableKeyText explains a locked volume none of whose protectors the
// stick can use (TPM only, or kinds unbrick does not take).
func noUsableKeyText(v *remedy.Volume) string {
	var b strings.Builder
	fmt.Fprintf(&b, "LOCKED: %s (%s, %s)\n\n", volumeName(v), where(v), sizeText(v.Size))
	b.WriteString("This volume cannot be unlocked from the stick. Its key protectors are:\n")
	b.WriteString(protectorList(v))
	if hasProtector(v, bitlocker.ProtectorTPM, bitlocker.ProtectorTPMPIN, bitlocker.ProtectorTPMStartupKey, bitlocker.ProtectorTPMPINStartupKey) {
		b.WriteString("\nThe TPM chip hands its key only to the Windows installed on this computer, never\n" +
			"to the stick, and this volume has no recovery password, startup key (.BEK) or\n" +
			"password protector that could be used instead. A volume protected by the TPM\n" +
			"normally also has a recovery password protector; this one does not, so there is no\n" +
			"recovery key ID to look up.\n")
	} else {
		b.WriteString("\nNone of them is a recovery password, startup key (.BEK) or password protector,\n" +
			"the kinds unbrick can open; there is no recovery key ID to look up.\n")
	}
	b.WriteString("\nGive the help desk the BitLocker volume ID " + v.BitLocker.VolumeGUID + " and the\n" +
		"protector IDs above. This volume is skipped: it stays locked and unchanged.\n")
	return b.String()
}

// lockedIntro is the text above the key choices: the key ID large, the
// full GUID, and (for TPM-protected volumes) why a key is needed at all.
func lockedIntro(v *remedy.Volume, keyFiles []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "LOCKED: %s (%s, %s)\n\n", volumeName(v), where(v), sizeText(v.Size))
	id := recoveryKeyID(v)
	if id != "" {
		fmt.Fprintf(&b, "Recovery key ID (first 8 characters, as Windows shows it):\n%s\n", Banner(ShortKeyID(id)))
		fmt.Fprintf(&b, "Full recovery key ID: %s\n", id)
	} else {
		b.WriteString("This volume has NO recovery password protector, so there is no recovery key ID and\n" +
			"no recovery password to type. Its key protectors are:\n" + protectorList(v))
	}
	if id != "" && hasProtector(v, bitlocker.ProtectorTPM, bitlocker.ProtectorTPMPIN, bitlocker.ProtectorTPMStartupKey, bitlocker.ProtectorTPMPINStartupKey) {
		b.WriteString("The TPM chip unlocks this drive only for Windows itself, not for the stick: the\n" +
			"recovery key is needed. Read the key ID to the help desk (or see aka.ms/aadrecoverykey).\n")
	}
	if len(keyFiles) > 0 {
		fmt.Fprintf(&b, "The key file(s) on the stick (%s) have no key for this volume.\n", strings.Join(keyFiles, ", "))
	}
	return b.String()
}

// unlockResult is what the key dialog ends with.
type unlockResult struct {
	vol      *remedy.Volume // the volume's new report
	unlocked bool           // false: skipped, still locked
}

// tryKey asks the engine whether one of tks opens v: a read-only scan of
// v alone (Hooks.Select), with the keys scoped to v's BitLocker GUID and
// no key export. The key that opens it lands in the wizard's key cache, so
// the preview and the fix reuse it without another stretch.
func (w *wizard) tryKey(ctx context.Context, v *remedy.Volume, tks []remedy.TypedKey) (*remedy.Volume, error) {
	o := w.cfg.Options
	o.Keys.Export = nil
	o.Keys.Typed = nil
	for _, k := range tks {
		k.VolumeGUID = v.BitLocker.VolumeGUID
		o.Keys.Typed = append(o.Keys.Typed, k)
	}
	o.Keys.Cache = w.cache
	o.Hooks.Select = func(target string, partition int) bool { return target == v.Target && partition == v.Partition }
	var got *remedy.Volume
	w.ui.Busy("Checking the key", "Trying the key on "+where(v)+" ...", func(func(string)) {
		for _, nv := range w.count(remedy.Scan(ctx, []string{v.Target}, o)) {
			if nv.Partition == v.Partition && nv.Offset == v.Offset {
				got = nv
			}
		}
	})
	if got == nil {
		return nil, fmt.Errorf("the volume %s was not found again", where(v))
	}
	if got.BitLocker != nil && got.BitLocker.Unlocked {
		return got, nil
	}
	return got, errWrongKey
}

var errWrongKey = errors.New("wrong key")

// unlockDialog asks for a key for the locked volume v until one opens it or
// the user skips the volume.
func (w *wizard) unlockDialog(ctx context.Context, v *remedy.Volume) (unlockResult, error) {
	wrong := 0
	id := recoveryKeyID(v)
	short := ShortKeyID(id)
	notice := ""
	opts := keyChoices(v)
	if len(opts) == 1 { // skip only: nothing the stick can use
		return unlockResult{vol: v}, w.ui.Show("No key the stick can use for this volume: skipped", noUsableKeyText(v))
	}
	for {
		if wrong >= maxWrongKeys {
			skip, err := w.ui.Confirm(fmt.Sprintf("%d wrong keys for this volume", wrong),
				"None of the keys tried opens "+where(v)+".\nCheck with the help desk that the key ID matches: "+short+
					"\nSkip this volume (it stays locked and unchanged), or try again?", "Skip this volume", "Try again")
			if err != nil {
				return unlockResult{}, err
			}
			if skip {
				return unlockResult{vol: v}, nil
			}
			wrong = 0
		}
		body := lockedIntro(v, w.cfg.KeyFiles)
		if notice != "" {
			body = notice + "\n\n" + body
		}
		choice, err := w.ui.Choose("How do you want to unlock "+volumeName(v)+"?", body, opts)
		if err != nil {
			return unlockResult{}, err
		}
		var tk []remedy.TypedKey
		switch choice {
		case "skip":
			return unlockResult{vol: v}, nil
		case "typed":
			tk, err = w.askRecoveryPassword(short, id)
		case "export":
			tk, notice, err = w.askKeyExport(v)
		case "bek":
			tk, notice, err = w.askBEK()
		case "password":
			tk, err = w.askUserPassword()
		}
		if err != nil {
			return unlockResult{}, err
		}
		if tk == nil {
			continue
		}
		nv, err := w.tryKey(ctx, v, tk)
		switch {
		case err == nil:
			return unlockResult{vol: nv, unlocked: true}, nil
		case errors.Is(err, errWrongKey):
			wrong++
			notice = fmt.Sprintf("That key did not open the volume (wrong key %d of %d). No change was made.", wrong, maxWrongKeys)
		default:
			return unlockResult{}, err
		}
	}
}

func (w *wizard) askRecoveryPassword(short, id string) ([]remedy.TypedKey, error) {
	title := "Enter the recovery password for key ID " + short
	if short == "" {
		title = "Enter the recovery password"
	}
	body := "Full key ID: " + id + "\nType the 48 digits; dashes and spaces are optional. Each group of six\ndigits is checked as soon as it is typed, and again on Enter."
	s, err := w.ui.Ask(Question{Title: title, Body: body, Placeholder: "000000-000000-000000-000000-000000-000000-000000-000000",
		CharLimit: 64, Digits: true, Validate: validateRecoveryPassword, Live: LiveHint})
	if err != nil {
		return nil, err
	}
	rp, err := CheckRecoveryPassword(s)
	if err != nil {
		return nil, err
	}
	redact.Register(rp)
	return []remedy.TypedKey{{Key: bitlocker.RecoveryPassword(rp), Source: "typed in the wizard (recovery password)"}}, nil
}

func (w *wizard) askUserPassword() ([]remedy.TypedKey, error) {
	s, err := w.ui.Ask(Question{Title: "Enter the BitLocker password of the drive", Body: "The password the user types at start-up (not the Windows logon password).",
		Secret: true, CharLimit: 256, Validate: func(s string) error {
			if s == "" {
				return errors.New("the password is empty")
			}
			return nil
		}})
	if err != nil {
		return nil, err
	}
	redact.Register(s)
	return []remedy.TypedKey{{Key: bitlocker.Password(s), Source: "typed in the wizard (password)"}}, nil
}

// askFile asks for the path of a file that exists.
func (w *wizard) askFile(title, body string) (string, error) {
	return w.ui.Ask(Question{Title: title, Body: body, CharLimit: 4096, Validate: func(s string) error {
		st, err := os.Stat(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("cannot open it: %v", errors.Unwrap(err))
		}
		if st.IsDir() {
			return errors.New("that is a folder; give the file inside it")
		}
		return nil
	}})
}

func (w *wizard) askBEK() ([]remedy.TypedKey, string, error) {
	p, err := w.askFile("Path of the BEK file", "Plug in the stick holding the .BEK file and type its path,\nfor example /media/usb/3C116B76-C67B-484E-B439-CE2ED68B561E.BEK")
	if err != nil {
		return nil, "", err
	}
	p = strings.TrimSpace(p)
	b, err := keys.ReadBEKFile(p)
	if err != nil {
		return nil, "Could not use it: " + err.Error(), nil
	}
	return []remedy.TypedKey{{Key: bitlocker.BEK(b), Source: "BEK file " + p}}, "", nil
}

// askKeyExport loads a key export and picks the entry for v's protectors.
func (w *wizard) askKeyExport(v *remedy.Volume) ([]remedy.TypedKey, string, error) {
	p, err := w.askFile("Path of the key export file", "A key export (CSV, JSON, text) holding recovery keys by key ID,\nfor example /media/usb/keys.csv")
	if err != nil {
		return nil, "", err
	}
	p = strings.TrimSpace(p)
	es, err := keys.LoadFile(p, keys.LoadOptions{})
	if err != nil {
		return nil, "Could not use " + p + ": " + err.Error(), nil
	}
	var ids []string
	for _, pr := range v.BitLocker.Protectors {
		ids = append(ids, pr.ID)
	}
	var out []remedy.TypedKey
	for _, e := range keys.NewSet(es).Candidates(ids, v.BitLocker.Description, w.cfg.Options.Keys.Serial) {
		if e.RecoveryPassword != "" {
			src := e.Source
			if e.Line > 0 {
				src = fmt.Sprintf("%s:%d", src, e.Line)
			}
			if e.KeyID != "" {
				src += " (key ID " + e.KeyID + ")"
			}
			out = append(out, remedy.TypedKey{Key: bitlocker.RecoveryPassword(e.RecoveryPassword), Source: src})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Sprintf("%s has %d key(s), none for key ID %s.", p, len(es), recoveryKeyID(v)), nil
	}
	return out, "", nil
}
