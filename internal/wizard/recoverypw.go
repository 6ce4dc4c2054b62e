package wizard

import (
	"errors"
	"fmt"
	"strings"

	"github.com/unbrick/unbrick/internal/keys"
)

// CheckRecoveryPassword validates a recovery password as typed, with
// internal/keys' checksum rule (each 6-digit group is a multiple of 11 below
// 720896), and returns its canonical form. Typed input may separate the
// groups with dashes or spaces, or not at all: 48 bare digits are cut into
// groups of six first, so an error still names the group ("recovery
// password group 8 fails its checksum ...") rather than the whole string.
// Errors never repeat the digits.
func CheckRecoveryPassword(s string) (string, error) {
	t := strings.TrimSpace(s)
	if t != "" && !strings.ContainsAny(t, "- ") && onlyDigits(t) {
		if len(t) > 48 {
			return "", &keys.RecoveryPasswordError{Reason: fmt.Sprintf("has %d digits; want 48 (8 groups of 6)", len(t))}
		}
		var g []string
		for i := 0; i < len(t); i += 6 {
			g = append(g, t[i:min(i+6, len(t))])
		}
		if len(g) < 8 {
			return "", &keys.RecoveryPasswordError{Group: len(g), Reason: fmt.Sprintf("is incomplete: %d of 48 digits typed", len(t))}
		}
		t = strings.Join(g, "-")
	}
	return keys.NormalizeRecoveryPassword(t)
}

func onlyDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// validateRecoveryPassword is the huh/line validator: the error message a
// user reads.
func validateRecoveryPassword(s string) error {
	if _, err := CheckRecoveryPassword(s); err != nil {
		var re *keys.RecoveryPasswordError
		if errors.As(err, &re) && re.Group > 0 {
			return fmt.Errorf("group %d %s", re.Group, re.Reason)
		}
		return err
	}
	return nil
}

// LiveHint checks a recovery password while it is typed: each complete
// group of six digits is checked at once with internal/keys' checksum rule,
// so a typo is reported as soon as its group is complete ("group 3 fails
// its checksum"), not only at Enter. It never repeats the digits.
func LiveHint(s string) string {
	groups := typedGroups(s)
	complete := 0
	for i, g := range groups {
		if len(g) > 6 {
			return fmt.Sprintf("group %d has more than 6 digits", i+1)
		}
		if len(g) < 6 {
			continue
		}
		// Group g alone, checked by the shared rule (a password of eight
		// copies of g is valid exactly when g is).
		if _, err := keys.NormalizeRecoveryPassword(strings.Repeat(g+"-", 7) + g); err != nil {
			return fmt.Sprintf("group %d fails its checksum: check for a typing error", i+1)
		}
		complete++
	}
	if complete == 8 && len(groups) == 8 {
		return "all 8 groups typed and correct: press Enter"
	}
	if len(groups) > 8 {
		return "more than 8 groups typed"
	}
	return fmt.Sprintf("%d of 8 groups typed, correct so far", complete)
}

// typedGroups splits typed input into groups: at dashes or spaces when the
// user types them, else every six digits. Non-digits are kept, so the
// checksum rule reports them.
func typedGroups(s string) []string {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	if strings.ContainsAny(s, "- ") {
		return strings.FieldsFunc(s, func(r rune) bool { return r == '-' || r == ' ' })
	}
	var g []string
	for i := 0; i < len(s); i += 6 {
		g = append(g, s[i:min(i+6, len(s))])
	}
	return g
}
