package rules

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// DefaultAllow is the default allowlist: a rule's directory must be a
// vendor's directory under Windows/System32/drivers (or deeper). "*" stands
// for exactly one path element. Comparison ignores case.
var DefaultAllow = []string{"Windows/System32/drivers/*"}

// DefaultDeny lists directories inside the allowlist that no rule may
// name, with everything under them: Windows/System32/drivers/etc holds the
// hosts file, networks, protocol and services, not any vendor's driver
// files. Comparison ignores case.
var DefaultDeny = []string{"Windows/System32/drivers/etc"}

// cleanDir checks a rule's directory and returns it normalised (forward
// slashes, no leading or trailing slash). It refuses absolute paths, drive
// letters, "." and ".." elements, empty elements and control characters.
func cleanDir(d string) (string, error) {
	if d == "" {
		return "", errors.New("is empty")
	}
	d = strings.ReplaceAll(d, `\`, "/")
	if strings.HasPrefix(d, "/") {
		return "", errors.New("is absolute; give it relative to the volume root, like Windows/System32/drivers/Vendor")
	}
	if len(d) >= 2 && d[1] == ':' {
		return "", errors.New("has a drive letter; drive letters mean nothing offline: give it relative to the volume root")
	}
	d = strings.TrimSuffix(d, "/")
	for _, el := range strings.Split(d, "/") {
		switch {
		case el == "":
			return "", errors.New("has an empty path element (//)")
		case el == "." || el == "..":
			return "", fmt.Errorf("has a %q element", el)
		case strings.ContainsAny(el, "*?[]:"):
			return "", fmt.Errorf("element %q has a wildcard or ':'; only the name may be a glob", el)
		}
		for _, r := range el {
			if r < 0x20 {
				return "", errors.New("has a control character")
			}
		}
	}
	return d, nil
}

// allowed reports whether dir (clean) lies under one of the allowlist
// patterns: the pattern's elements ("*" = any one element) must match the
// first elements of dir, case-insensitively.
func allowed(dir string, allow []string) bool {
	_, ok := under(dir, allow)
	return ok
}

// under returns the first pattern of list that dir (clean) lies under
// (equal to, or inside): the pattern's elements ("*" = any one element)
// match the first elements of dir, case-insensitively.
func under(dir string, list []string) (string, bool) {
	de := strings.Split(strings.ToLower(dir), "/")
	for _, a := range list {
		pe := strings.Split(strings.ToLower(strings.Trim(strings.ReplaceAll(a, `\`, "/"), "/")), "/")
		if len(de) < len(pe) {
			continue
		}
		ok := true
		for i, p := range pe {
			if p != "*" && p != de[i] {
				ok = false
				break
			}
		}
		if ok {
			return a, true
		}
	}
	return "", false
}

// checkGlob validates a name glob: path.Match syntax, no path separator,
// and at least three literal characters besides dots, so a rule cannot
// say "*" or "*.*" and take a whole vendor directory.
func checkGlob(g string) error {
	if g == "" {
		return errors.New("is empty")
	}
	if strings.ContainsAny(g, `/\`) {
		return errors.New("has a path separator; put the directory in \"directory\"")
	}
	if _, err := path.Match(strings.ToLower(g), ""); err != nil {
		return fmt.Errorf("is not a valid glob: %v", err)
	}
	lit := 0
	inClass := false
	for _, r := range g {
		switch {
		case r == '[':
			inClass = true
		case r == ']':
			inClass = false
		case inClass, r == '*', r == '?', r == '.', r == '\\':
		default:
			lit++
		}
	}
	if lit < 3 {
		return errors.New("is too broad: it needs at least 3 literal characters (e.g. C-00000291*.sys)")
	}
	return nil
}

// matchName reports whether name matches glob, ignoring case.
func matchName(glob, name string) bool {
	ok, _ := path.Match(strings.ToLower(glob), strings.ToLower(name))
	return ok
}

// splitFile returns the directory and name of a volume path.
func splitFile(p string) (dir, name string) {
	p = strings.Trim(strings.ReplaceAll(p, `\`, "/"), "/")
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i], p[i+1:]
	}
	return "", p
}
