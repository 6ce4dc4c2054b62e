package rules

import (
	"fmt"
	"strings"
	"time"
)

// Action is what a rule decides for one file.
type Action string

// Actions.
const (
	Delete      Action = "delete"       // the file is faulty: remove it
	Keep        Action = "keep"         // the file is good: leave it
	NeedsReview Action = "needs-review" // the name matches but neither faulty nor good: a human decides
)

// Verdict is a rule's decision on one file, with a reason a technician can
// read ("last written 2024-07-19 04:09:27 UTC, inside the faulty window
// [04:09:00, 05:27:00) UTC").
type Verdict struct {
	Action Action
	Reason string
	Rule   string // rule ID
	// Cause says why Action is NeedsReview (0 for Delete and Keep); Reason
	// has the detail. Causes of several files combine with |, and
	// Cause.String names them all for a host-level message.
	Cause Cause
}

// Cause is why a file needs review: a set of bits, one per kind of reason.
type Cause uint16

// Causes of NeedsReview.
const (
	// CauseWindow: no faulty_when condition held, and for at least one the
	// last-write time is outside its modified_from/modified_before window.
	CauseWindow Cause = 1 << iota
	// CauseSize: as CauseWindow, for a min_size/max_size bound.
	CauseSize
	// CauseDigest: as CauseWindow, for a sha256 list without the file's digest.
	CauseDigest
	// CauseNotZero: as CauseWindow, for all_zero on content that is not.
	CauseNotZero
	// CauseMaxFiles: the file is faulty, but its rule would delete more
	// files on the host than its max_files.
	CauseMaxFiles
	// CauseHostCap: the file is faulty, but the set would delete more files
	// on the host than max_files_per_host.
	CauseHostCap
	// CauseDirectory: the match is a directory; rules never delete those.
	CauseDirectory
	// CauseUnreadable: the content a condition needs could not be read.
	CauseUnreadable
)

var causeText = []struct {
	c    Cause
	text string
}{
	{CauseWindow, "last-write time outside the faulty window"},
	{CauseSize, "size outside the faulty size bounds"},
	{CauseDigest, "SHA-256 not on the known-bad list"},
	{CauseNotZero, "content not all zero bytes"},
	{CauseMaxFiles, "more matching faulty files than the rule's max_files"},
	{CauseHostCap, "more faulty files on the host than max_files_per_host"},
	{CauseDirectory, "a directory matched"},
	{CauseUnreadable, "content could not be read"},
}

// String names every cause in c, separated by "; ", for messages such as
// "a file matched a rule but needs review (last-write time outside the
// faulty window)". The zero Cause is "no cause recorded".
func (c Cause) String() string {
	if c == 0 {
		return "no cause recorded"
	}
	var parts []string
	for _, t := range causeText {
		if c&t.c != 0 {
			parts = append(parts, t.text)
		}
	}
	if rest := c &^ (CauseUnreadable<<1 - 1); rest != 0 {
		parts = append(parts, fmt.Sprintf("cause %#x", uint16(rest)))
	}
	return strings.Join(parts, "; ")
}

// Rule targets files named by a glob in one directory of a Windows volume.
// A file matching Directory and Name is:
//   - Delete when any FaultyWhen condition holds (all of a condition's
//     fields must hold);
//   - else Keep when any GoodWhen condition holds;
//   - else NeedsReview (for example a host whose clock was wrong); never
//     silently clean.
//
// A rule never targets a directory (a matching directory is NeedsReview),
// and a host where a rule would delete more than MaxFiles files gets
// NeedsReview for all of them instead.
type Rule struct {
	ID          string
	Description string
	Directory   string // volume-relative, '/'-separated, e.g. Windows/System32/drivers/CrowdStrike
	Name        string // glob (path.Match syntax), case-insensitive
	MaxFiles    int
	// Action is what the rule does: ActionDelete (the default, a rule
	// without "action") deletes the faulty files it matches;
	// ActionDisableService names a Windows service to disable (Service)
	// and has no Directory, Name or conditions. The engine carries out
	// only the actions it supports: see Set.Unsupported.
	Action RuleAction
	// Service is the Windows service name of an ActionDisableService rule
	// (1..256 characters, no backslash or slash); "" otherwise.
	Service    string
	FaultyWhen []Condition
	GoodWhen   []Condition
	line       int // where the rule starts in its file (0 for built-ins)
}

// Condition holds when every field that is set holds.
type Condition struct {
	ModifiedFrom   time.Time // zero = unbounded; inclusive
	ModifiedBefore time.Time // zero = unbounded; exclusive
	MinSize        *int64    // inclusive
	MaxSize        *int64    // inclusive
	SHA256         []string  // lower-case hex; the file's digest is one of them
	AllZero        bool      // the content is all zero bytes (an empty file is not)
}

func (c *Condition) needsContent() bool { return c.AllZero || len(c.SHA256) > 0 }

// holds evaluates the condition: when it holds, reason describes why;
// when it does not, miss names the members that failed and missWhy
// describes each ("last written ..., not inside the window [...)"). The
// time and size members are always checked; the content members (sha256,
// all_zero) only when those held, so a file outside the window is not
// read for nothing. err is a content read error.
func (c *Condition) holds(f *FileFacts) (ok bool, reason string, miss Cause, missWhy []string, err error) {
	var why []string
	if !c.ModifiedFrom.IsZero() || !c.ModifiedBefore.IsZero() {
		text := fmt.Sprintf("last written %s, %s", fmtTime(f.MTime), c.windowText())
		if !c.ModifiedFrom.IsZero() && f.MTime.Before(c.ModifiedFrom) || !c.ModifiedBefore.IsZero() && !f.MTime.Before(c.ModifiedBefore) {
			miss |= CauseWindow
			missWhy = append(missWhy, fmt.Sprintf("last written %s, not %s", fmtTime(f.MTime), c.windowText()))
		} else {
			why = append(why, text)
		}
	}
	if c.MinSize != nil || c.MaxSize != nil {
		if c.MinSize != nil && f.Size < *c.MinSize || c.MaxSize != nil && f.Size > *c.MaxSize {
			miss |= CauseSize
			missWhy = append(missWhy, fmt.Sprintf("size %d bytes, not %s", f.Size, c.sizeText()))
		} else {
			why = append(why, fmt.Sprintf("size %d bytes %s", f.Size, c.sizeText()))
		}
	}
	if miss != 0 {
		return false, "", miss, missWhy, nil
	}
	if len(c.SHA256) > 0 {
		sum, err := f.sha256()
		if err != nil {
			return false, "", 0, nil, err
		}
		found := false
		for _, s := range c.SHA256 {
			if s == sum {
				found = true
			}
		}
		if !found {
			return false, "", CauseDigest, []string{"SHA-256 " + sum + " is not on the rule's list"}, nil
		}
		why = append(why, "SHA-256 "+sum+" is on the rule's list")
	}
	if c.AllZero {
		z, err := f.allZero()
		if err != nil {
			return false, "", 0, nil, err
		}
		if !z {
			return false, "", CauseNotZero, []string{fmt.Sprintf("content (%d bytes) is not all zero bytes", f.Size)}, nil
		}
		why = append(why, fmt.Sprintf("content is all zero bytes (%d bytes)", f.Size))
	}
	return true, strings.Join(why, "; "), 0, nil, nil
}

func (c *Condition) windowText() string {
	switch {
	case !c.ModifiedFrom.IsZero() && !c.ModifiedBefore.IsZero():
		return fmt.Sprintf("inside the window [%s, %s)", fmtTime(c.ModifiedFrom), fmtTime(c.ModifiedBefore))
	case !c.ModifiedFrom.IsZero():
		return "at or after " + fmtTime(c.ModifiedFrom)
	default:
		return "before " + fmtTime(c.ModifiedBefore)
	}
}

func (c *Condition) sizeText() string {
	switch {
	case c.MinSize != nil && c.MaxSize != nil:
		return fmt.Sprintf("within [%d, %d]", *c.MinSize, *c.MaxSize)
	case c.MinSize != nil:
		return fmt.Sprintf("at least %d", *c.MinSize)
	default:
		return fmt.Sprintf("at most %d", *c.MaxSize)
	}
}

// fmtTime prints a UTC time with sub-second digits only when present.
func fmtTime(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04:05.9999999") + " UTC"
}
