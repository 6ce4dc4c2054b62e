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
	FaultyWhen  []Condition
	GoodWhen    []Condition
	line        int // where the rule starts in its file (0 for built-ins)
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

// holds evaluates the condition; reason describes why it held.
func (c *Condition) holds(f *FileFacts) (ok bool, reason string, err error) {
	var why []string
	if !c.ModifiedFrom.IsZero() || !c.ModifiedBefore.IsZero() {
		if !c.ModifiedFrom.IsZero() && f.MTime.Before(c.ModifiedFrom) {
			return false, "", nil
		}
		if !c.ModifiedBefore.IsZero() && !f.MTime.Before(c.ModifiedBefore) {
			return false, "", nil
		}
		why = append(why, fmt.Sprintf("last written %s, %s", fmtTime(f.MTime), c.windowText()))
	}
	if c.MinSize != nil && f.Size < *c.MinSize || c.MaxSize != nil && f.Size > *c.MaxSize {
		return false, "", nil
	}
	if c.MinSize != nil || c.MaxSize != nil {
		why = append(why, fmt.Sprintf("size %d bytes %s", f.Size, c.sizeText()))
	}
	if len(c.SHA256) > 0 {
		sum, err := f.sha256()
		if err != nil {
			return false, "", err
		}
		found := false
		for _, s := range c.SHA256 {
			if s == sum {
				found = true
			}
		}
		if !found {
			return false, "", nil
		}
		why = append(why, "SHA-256 "+sum+" is on the rule's list")
	}
	if c.AllZero {
		z, err := f.allZero()
		if err != nil {
			return false, "", err
		}
		if !z {
			return false, "", nil
		}
		why = append(why, fmt.Sprintf("content is all zero bytes (%d bytes)", f.Size))
	}
	return true, strings.Join(why, "; "), nil
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
