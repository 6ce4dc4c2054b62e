package rules

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/unbrick/unbrick/internal/inputfile"
)

// MaxSignersFileSize bounds an allowed-signers file read whole.
const MaxSignersFileSize = 1 << 20

// AllowedSigner is one line of an allowed-signers file (ssh-keygen(1),
// ALLOWED SIGNERS): who may sign, with which key, for which namespaces
// and when.
type AllowedSigner struct {
	Principals  string        // the comma-separated principals field, as written
	Key         ssh.PublicKey // the signer's public key
	Namespaces  []string      // patterns from namespaces="..."; nil = any namespace
	ValidAfter  time.Time     // zero = no bound
	ValidBefore time.Time     // zero = no bound
	Line        int           // 1-based line in the file
}

// ParseAllowedSignersFile reads an allowed-signers file (see
// ParseAllowedSigners) of at most MaxSignersFileSize bytes.
func ParseAllowedSignersFile(path string) ([]AllowedSigner, error) {
	data, err := inputfile.Read(path, "allowed-signers file", MaxSignersFileSize)
	if err != nil {
		return nil, err
	}
	return ParseAllowedSigners(path, data)
}

// ParseAllowedSigners parses an allowed-signers file in the format of
// ssh-keygen(1) (ALLOWED SIGNERS): one signer per line, "principals
// [options] keytype base64-key [comment]"; blank lines and lines starting
// with '#' are skipped. Principals are comma-separated patterns, in
// double quotes when they hold spaces. Options are namespaces="list",
// valid-after="time" and valid-before="time" (YYYYMMDD[HHMM[SS]], read
// as UTC, a trailing Z allowed); cert-authority and unknown options are
// refused, as are key types other than ed25519, ecdsa and rsa. Errors
// are *Error values naming the line. It never panics on any input.
func ParseAllowedSigners(name string, data []byte) ([]AllowedSigner, error) {
	var out []AllowedSigner
	data = bytes.TrimPrefix(data, []byte{0xEF, 0xBB, 0xBF})
	for i, raw := range strings.Split(string(data), "\n") {
		line := strings.TrimSpace(strings.TrimSuffix(raw, "\r"))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fail := func(format string, a ...any) error {
			return &Error{File: name, Line: i + 1, Msg: fmt.Sprintf(format, a...) + " (format: principals [options] keytype base64-key, as in ssh-keygen(1) ALLOWED SIGNERS)"}
		}
		principals, rest, err := cutPrincipals(line)
		if err != nil {
			return nil, fail("%v", err)
		}
		if rest == "" {
			return nil, fail("no key after the principals %q", principals)
		}
		key, _, opts, trailing, err := ssh.ParseAuthorizedKey([]byte(rest))
		if err != nil {
			return nil, fail("no public key could be read: %v", err)
		}
		if len(bytes.TrimSpace(trailing)) != 0 {
			return nil, fail("unexpected data after the key")
		}
		if err := checkKeyType(key.Type()); err != nil {
			return nil, fail("%v", err)
		}
		s := AllowedSigner{Principals: principals, Key: key, Line: i + 1}
		for _, o := range opts {
			k, v, hasV := strings.Cut(o, "=")
			k = strings.ToLower(k)
			if hasV {
				uq, ok := unquote(v)
				if !ok {
					return nil, fail("option %s: value %s is not in double quotes", k, v)
				}
				v = uq
			}
			switch {
			case k == "cert-authority":
				return nil, fail("cert-authority: certificates are not accepted for rule packs; list the signer's own key")
			case k == "namespaces" && hasV:
				for _, p := range strings.Split(v, ",") {
					if p = strings.TrimSpace(p); p != "" {
						s.Namespaces = append(s.Namespaces, p)
					}
				}
				if len(s.Namespaces) == 0 {
					return nil, fail(`namespaces="" lists no namespace; write namespaces="unbrick-rules"`)
				}
			case (k == "valid-after" || k == "valid-before") && hasV:
				t, err := parseSignerTime(v)
				if err != nil {
					return nil, fail("%s=%q: %v", k, v, err)
				}
				if k == "valid-after" {
					s.ValidAfter = t
				} else {
					s.ValidBefore = t
				}
			default:
				return nil, fail("option %q is not understood (known: namespaces, valid-after, valid-before)", o)
			}
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, &Error{File: name, Msg: "lists no signer; add a line such as: rules@example.com namespaces=\"unbrick-rules\" ssh-ed25519 AAAA..."}
	}
	return out, nil
}

// cutPrincipals splits the principals field off a line: a run of
// non-space characters, or a double-quoted string.
func cutPrincipals(line string) (principals, rest string, err error) {
	if strings.HasPrefix(line, `"`) {
		end := strings.IndexByte(line[1:], '"')
		if end < 0 {
			return "", "", fmt.Errorf("the quoted principals have no closing quote")
		}
		principals, rest = line[1:1+end], line[2+end:]
		if rest != "" && rest[0] != ' ' && rest[0] != '\t' {
			return "", "", fmt.Errorf("no space after the quoted principals")
		}
	} else {
		i := strings.IndexAny(line, " \t")
		if i < 0 {
			return line, "", nil
		}
		principals, rest = line[:i], line[i:]
	}
	if strings.TrimSpace(principals) == "" {
		return "", "", fmt.Errorf("empty principals")
	}
	return principals, strings.TrimSpace(rest), nil
}

func unquote(v string) (string, bool) {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		return v[1 : len(v)-1], true
	}
	return "", false
}

// parseSignerTime reads YYYYMMDD, YYYYMMDDHHMM or YYYYMMDDHHMMSS, with an
// optional trailing Z; all are UTC (the unbrick stick has no time zone).
func parseSignerTime(v string) (time.Time, error) {
	v = strings.TrimSuffix(v, "Z")
	layouts := map[int]string{8: "20060102", 12: "200601021504", 14: "20060102150405"}
	l, ok := layouts[len(v)]
	if !ok {
		return time.Time{}, fmt.Errorf("want YYYYMMDD, YYYYMMDDHHMM or YYYYMMDDHHMMSS")
	}
	t, err := time.Parse(l, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("not a valid time: want YYYYMMDD[HHMM[SS]]")
	}
	return t.UTC(), nil
}

// matchPatternList reports whether s matches a comma-separated pattern
// list as ssh(1) matches them: '*' and '?' wildcards, and a leading '!'
// negates (a negated match refuses whatever else matched).
func matchPatternList(s string, patterns []string) bool {
	matched := false
	for _, p := range patterns {
		neg := strings.HasPrefix(p, "!")
		if neg {
			p = p[1:]
		}
		if wildMatch(p, s) {
			if neg {
				return false
			}
			matched = true
		}
	}
	return matched
}

// wildMatch matches s against p with '*' (any run) and '?' (one byte),
// iteratively (no recursion, linear backtracking).
func wildMatch(p, s string) bool {
	pi, si, star, mark := 0, 0, -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == s[si]):
			pi++
			si++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// keysEqual compares two public keys by their wire encoding.
func keysEqual(a, b ssh.PublicKey) bool {
	return bytes.Equal(a.Marshal(), b.Marshal())
}
