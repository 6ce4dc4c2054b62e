package rules

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/ssh"

	"github.com/unbrick/unbrick/internal/inputfile"
)

// RuleAction is what a rule does with what it matches.
type RuleAction string

// Rule actions.
const (
	// ActionDelete deletes the faulty files the rule matches; a rule
	// without "action" has it.
	ActionDelete RuleAction = "delete"
	// ActionDisableService disables the Windows service named by the
	// rule's Service (internal/remedy sets its Start value to 4 in the
	// offline SYSTEM hive).
	ActionDisableService RuleAction = "disable-service"
)

// MaxServiceName is the longest Windows service name (CreateService:
// "The maximum string length is 256 characters").
const MaxServiceName = 256

// MaxHostsPerRunLimit is the largest max_hosts_per_run a pack may set.
const MaxHostsPerRunLimit = 1000000

// DeletesFiles reports whether the rule deletes files (ActionDelete, or
// no action set on a Rule built by hand).
func (r *Rule) DeletesFiles() bool { return r.Action == "" || r.Action == ActionDelete }

// Unsupported returns the rules whose action is not among supported (a
// rule that deletes files is always supported), so that fix can refuse
// a pack this build cannot carry out.
func (s *Set) Unsupported(supported ...RuleAction) []*Rule {
	var out []*Rule
	for _, r := range s.Rules {
		if r.DeletesFiles() {
			continue
		}
		ok := false
		for _, a := range supported {
			ok = ok || a == r.Action
		}
		if !ok {
			out = append(out, r)
		}
	}
	return out
}

func buildServiceRule(r *Rule, rj ruleJSON, fail func(field, msg string) error) (*Rule, error) {
	if RuleAction(*rj.Action) != ActionDisableService {
		return nil, fail("action", fmt.Sprintf("%q is not an action; want %q (the default: delete the matching files) or %q", *rj.Action, ActionDelete, ActionDisableService))
	}
	r.Action, r.MaxFiles = ActionDisableService, 0
	for field, set := range map[string]bool{"directory": rj.Directory != "", "name": rj.Name != "", "max_files": rj.MaxFiles != nil,
		"faulty_when": rj.FaultyWhen != nil, "good_when": rj.GoodWhen != nil} {
		if set {
			return nil, fail(field, "a disable-service rule names a service, not files: leave "+field+" out, or put the files in a rule of their own")
		}
	}
	if rj.Service == nil {
		return nil, fail("service", `is missing: a disable-service rule needs "service": "NAME" (the service's key name under HKLM\SYSTEM\CurrentControlSet\Services)`)
	}
	svc := *rj.Service
	switch n := utf8.RuneCountInString(svc); {
	case !utf8.ValidString(svc):
		return nil, fail("service", "is not valid UTF-8")
	case n == 0 || n > MaxServiceName:
		return nil, fail("service", fmt.Sprintf("is %d characters; a Windows service name has 1..%d", n, MaxServiceName))
	case strings.ContainsAny(svc, `\/`):
		return nil, fail("service", fmt.Sprintf("%q holds a backslash or slash, which a Windows service name cannot; give the key name, like CSAgent", svc))
	case strings.IndexFunc(svc, func(c rune) bool { return c < 0x20 || c == 0x7f }) >= 0:
		return nil, fail("service", "holds a control character")
	}
	r.Service = svc
	return r, nil
}

// parseMeta reads the pack metadata members: id, version, expires and
// max_hosts_per_run.
func parseMeta(name string, data []byte, f *fileJSON, s *Set) error {
	fail := func(field, msg string) error {
		return &Error{File: name, Line: lineOfKey(data, 0, field), Field: field, Msg: msg}
	}
	text := func(field string, v *string) (string, error) {
		if v == nil {
			return "", nil
		}
		t := strings.TrimSpace(*v)
		if t == "" || len(t) > 128 || strings.IndexFunc(t, func(c rune) bool { return c < 0x20 || c == 0x7f }) >= 0 {
			return "", fail(field, "want 1..128 printable characters, such as \"acme-2025-03\" or \"3\"")
		}
		return t, nil
	}
	var err error
	if s.ID, err = text("id", f.ID); err != nil {
		return err
	}
	if s.Version, err = text("version", f.Version); err != nil {
		return err
	}
	if f.Expires != nil {
		if s.Expires, err = parseExpires(*f.Expires); err != nil {
			return fail("expires", err.Error())
		}
	}
	if n := f.MaxHostsPerRun; n != nil {
		if *n < 1 || *n > MaxHostsPerRunLimit {
			return fail("max_hosts_per_run", fmt.Sprintf("is %d; want 1..%d", *n, MaxHostsPerRunLimit))
		}
		s.MaxHostsPerRun = *n
	}
	return nil
}

// parseExpires reads an RFC 3339 full-date (2025-04-30: the pack is good
// through that day, UTC, and expires at the next midnight UTC) or an RFC
// 3339 date-time with a zone (expires at that instant).
func parseExpires(v string) (time.Time, error) {
	if d, err := time.Parse(time.DateOnly, v); err == nil {
		return d.AddDate(0, 0, 1), nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%q is not an RFC 3339 date like 2025-04-30 (or a time with a zone, 2025-04-30T18:00:00Z)", v)
}

// Errors a pack is refused with (LoadPack). Each *PackError wraps one.
var (
	// ErrUnsigned: there is no PACK.sig beside the pack.
	ErrUnsigned = errors.New("the rules pack is not signed")
	// ErrBadSignatureFile: PACK.sig is not an sshsig signature unbrick reads.
	ErrBadSignatureFile = errors.New("the rules pack's signature file cannot be read")
	// ErrWrongNamespace: the signature was made for another namespace.
	ErrWrongNamespace = errors.New("the rules pack was signed for another namespace")
	// ErrSignatureMismatch: the signature does not verify: the pack
	// changed after signing, or the .sig belongs to another file.
	ErrSignatureMismatch = errors.New("the rules pack does not match its signature")
	// ErrNoSigners: the pack is signed but no allowed-signers file was given.
	ErrNoSigners = errors.New("no allowed-signers file to check the rules pack's signature against")
	// ErrUnknownSigner: the key that signed is not in the allowed-signers
	// file (or not for this namespace, or not at this time).
	ErrUnknownSigner = errors.New("the rules pack was signed by a key that is not allowed")
	// ErrExpired: the pack's expires date has passed.
	ErrExpired = errors.New("the rules pack has expired")
)

// PackError is why a rules pack was refused: Err is one of the Err*
// values above, Detail what was found and Hint what to do next.
type PackError struct {
	Path   string
	Err    error
	Detail string
	Hint   string
}

func (e *PackError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %v", e.Path, e.Err)
	if e.Detail != "" {
		b.WriteString(": " + e.Detail)
	}
	if e.Hint != "" {
		b.WriteString("; " + e.Hint)
	}
	return b.String()
}

// Unwrap returns the Err* value.
func (e *PackError) Unwrap() error { return e.Err }

// LoadOptions say how LoadPack checks a pack.
type LoadOptions struct {
	// Signers is the allowed-signers list (ParseAllowedSigners); empty
	// with a signed pack is ErrNoSigners.
	Signers []AllowedSigner
	// AllowUnsigned accepts a pack that is unsigned or whose signature
	// does not check (--allow-unsigned-rules); PackInfo.Signature says so.
	AllowUnsigned bool
	// AllowExpired accepts a pack past its expires date
	// (--allow-expired-rules); PackInfo.ExpiryNote says so.
	AllowExpired bool
	// Now is the time expiry and signer validity are checked at; zero
	// means time.Now().
	Now time.Time
	// Parse are the parser options.
	Parse Options
}

// PackInfo is what a fleet record and a report carry about the rules
// pack used.
type PackInfo struct {
	Path    string
	ID      string // the pack's "id", else its file name
	Version string // "" when the pack has none
	SHA256  string // of the pack file, lower-case hex
	// Signed is true when the signature verified with an allowed key.
	Signed bool
	// Principal and Fingerprint name the signer (allowed-signers
	// principals; ssh-keygen -l style SHA256:... of the key) when Signed.
	Principal, Fingerprint string
	// Signature describes the signature state for people: "signed by
	// PRINCIPAL (KEYTYPE SHA256:...)", or "unsigned (allowed by
	// --allow-unsigned-rules)", or why it did not verify and that it was
	// allowed.
	Signature string
	Expires   time.Time // zero when the pack has none
	// ExpiryNote is set when an expired pack was allowed.
	ExpiryNote string
}

// Pack is a rules file that was checked by LoadPack.
type Pack struct {
	Set  *Set
	Info PackInfo
}

// SignaturePath is where a pack's detached signature is: PACK.sig, as
// ssh-keygen -Y sign writes it.
func SignaturePath(pack string) string { return pack + ".sig" }

// LoadPack reads a rules pack and its detached signature PACK.sig, parses
// the pack, verifies the signature (namespace unbrick-rules, a key in
// o.Signers valid now for that namespace) and checks the expires date.
// A refusal is a *PackError (or the parser's *Error); nothing else is
// read. Files are read whole with size limits.
func LoadPack(path string, o LoadOptions) (*Pack, error) {
	data, err := inputfile.Read(path, "rules file", MaxRuleFileSize)
	if err != nil {
		return nil, err
	}
	set, err := Parse(path, data, o.Parse)
	if err != nil {
		return nil, err
	}
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	sum := sha256.Sum256(data)
	p := &Pack{Set: set, Info: PackInfo{Path: path, ID: set.ID, Version: set.Version, SHA256: hex.EncodeToString(sum[:]), Expires: set.Expires}}
	if p.Info.ID == "" {
		p.Info.ID = baseName(path)
	}
	if err := verifyPack(path, data, o, now, &p.Info); err != nil {
		if !o.AllowUnsigned {
			return nil, err
		}
		if errors.Is(err, ErrUnsigned) {
			p.Info.Signature = "unsigned (allowed by --allow-unsigned-rules)"
		} else {
			p.Info.Signature = "signature not verified (allowed by --allow-unsigned-rules): " + err.Error()
		}
	}
	if !set.Expires.IsZero() && !now.Before(set.Expires) {
		pe := &PackError{Path: path, Err: ErrExpired, Detail: "it was good until " + set.Expires.Format(time.RFC3339),
			Hint: "get the current pack from whoever issued it, or pass --allow-expired-rules if you are sure this one still applies (the fleet record notes it)"}
		if !o.AllowExpired {
			return nil, pe
		}
		p.Info.ExpiryNote = "expired " + set.Expires.Format(time.RFC3339) + " (allowed by --allow-expired-rules)"
	}
	return p, nil
}

func baseName(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		return p[i+1:]
	}
	return p
}

func verifyPack(path string, data []byte, o LoadOptions, now time.Time, info *PackInfo) error {
	sigPath := SignaturePath(path)
	fail := func(e error, detail, hint string) error {
		return &PackError{Path: path, Err: e, Detail: detail, Hint: hint}
	}
	if _, err := os.Lstat(sigPath); errors.Is(err, os.ErrNotExist) {
		return fail(ErrUnsigned, "there is no "+sigPath,
			"sign it with: ssh-keygen -Y sign -n "+Namespace+" -f KEY "+path+" (writes "+sigPath+"), or pass --allow-unsigned-rules to use it unsigned (the fleet record notes it)")
	}
	armored, err := inputfile.Read(sigPath, "rules signature", MaxSignatureFileSize)
	if err != nil {
		return fail(ErrBadSignatureFile, err.Error(), "sign the pack again with ssh-keygen -Y sign -n "+Namespace)
	}
	sig, err := ParseSSHSignature(armored)
	if err != nil {
		return fail(ErrBadSignatureFile, sigPath+": "+err.Error(), "sign the pack again with ssh-keygen -Y sign -n "+Namespace)
	}
	if sig.Namespace != Namespace {
		return fail(ErrWrongNamespace, fmt.Sprintf("%s has namespace %q, want %q", sigPath, sig.Namespace, Namespace),
			"sign it again with ssh-keygen -Y sign -n "+Namespace+" (a signature for another purpose must not be taken for rules)")
	}
	fp := ssh.FingerprintSHA256(sig.PublicKey)
	if err := sig.Verify(data); err != nil {
		return fail(ErrSignatureMismatch, fmt.Sprintf("%s (by %s key %s) does not verify over %s", sigPath, sig.PublicKey.Type(), fp, path),
			"the pack changed after it was signed, or the .sig is another pack's: get both files again from whoever issued them")
	}
	if len(o.Signers) == 0 {
		return fail(ErrNoSigners, "signed by "+sig.PublicKey.Type()+" key "+fp,
			"pass --rules-signers FILE (an allowed-signers file, see docs/rules.md) or set rules_signers in unbrick.conf")
	}
	var why []string
	for _, s := range o.Signers {
		if !keysEqual(s.Key, sig.PublicKey) {
			continue
		}
		switch {
		case s.Namespaces != nil && !matchPatternList(Namespace, s.Namespaces):
			why = append(why, fmt.Sprintf("line %d allows it only for namespaces %q", s.Line, strings.Join(s.Namespaces, ",")))
		case !s.ValidAfter.IsZero() && now.Before(s.ValidAfter):
			why = append(why, fmt.Sprintf("line %d allows it only from %s", s.Line, s.ValidAfter.Format(time.RFC3339)))
		case !s.ValidBefore.IsZero() && !now.Before(s.ValidBefore):
			why = append(why, fmt.Sprintf("line %d allowed it only until %s", s.Line, s.ValidBefore.Format(time.RFC3339)))
		default:
			info.Signed, info.Principal, info.Fingerprint = true, s.Principals, fp
			info.Signature = fmt.Sprintf("signed by %s (%s %s)", s.Principals, sig.PublicKey.Type(), fp)
			return nil
		}
	}
	detail := fmt.Sprintf("%s key %s is not in the allowed-signers file", sig.PublicKey.Type(), fp)
	if len(why) > 0 {
		detail = fmt.Sprintf("%s key %s is in the allowed-signers file, but %s", sig.PublicKey.Type(), fp, strings.Join(why, "; "))
	}
	return fail(ErrUnknownSigner, detail, "get a pack signed by an allowed key, or add the signer's public key to the allowed-signers file if you trust it")
}

// String is a one-line description of the pack for reports.
func (i *PackInfo) String() string {
	var b bytes.Buffer
	b.WriteString(i.ID)
	if i.Version != "" {
		b.WriteString(" version " + i.Version)
	}
	fmt.Fprintf(&b, ", sha256 %s, %s", i.SHA256, i.Signature)
	if !i.Expires.IsZero() {
		b.WriteString(", expires " + i.Expires.Format(time.RFC3339))
	}
	if i.ExpiryNote != "" {
		b.WriteString(", " + i.ExpiryNote)
	}
	return b.String()
}
