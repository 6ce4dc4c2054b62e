package disk

import (
	"fmt"
	"strings"
)

// SelectError explains why Select could not pick one volume. Its message
// lists every candidate (number, offset, size, kind, label) and tells the
// user to pass --partition N where that helps.
type SelectError struct {
	Target     string
	Partition  int         // the --partition asked for; 0 when none
	Want       []Kind      // acceptable kinds
	Candidates []Candidate // everything found on the target
	Matching   []Candidate // the acceptable candidates (several when ambiguous)
	Problem    string      // one sentence: what went wrong
}

func (e *SelectError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", e.Target, e.Problem)
	if len(e.Candidates) > 0 {
		b.WriteString("; found:")
		for _, c := range e.Candidates {
			b.WriteString("\n  ")
			b.WriteString(c.String())
		}
	}
	return b.String()
}

// Ambiguous reports whether several candidates were acceptable (the user
// must pass --partition N).
func (e *SelectError) Ambiguous() bool { return len(e.Matching) > 1 }

func kindList(ks []Kind) string {
	names := make([]string, len(ks))
	for i, k := range ks {
		names[i] = k.String()
	}
	switch len(names) {
	case 0:
		return "volume"
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// Select picks the volume a command works on. partition is --partition N
// (the partition-table entry number as Linux numbers it); pass 0 (or a
// negative number) when the flag was not given. accept lists the kinds the
// command can work on; none means BitLocker or NTFS.
//
// With a partition number, that candidate is returned if its kind is
// acceptable. Without one, the only acceptable candidate is returned;
// none or several give a *SelectError listing what was found.
func (t *Target) Select(partition int, accept ...Kind) (*Candidate, error) {
	if len(accept) == 0 {
		accept = []Kind{BitLocker, NTFS}
	}
	cands, err := t.Candidates()
	if err != nil {
		return nil, err
	}
	ok := func(k Kind) bool {
		for _, a := range accept {
			if a == k {
				return true
			}
		}
		return false
	}
	se := &SelectError{Target: t.path, Partition: partition, Want: accept, Candidates: cands}
	if partition > 0 {
		for i := range cands {
			c := cands[i]
			if c.Partition != partition {
				continue
			}
			if !ok(c.Kind) {
				se.Problem = fmt.Sprintf("partition %d is %s, not %s", partition, describeKind(c), kindList(accept))
				return nil, se
			}
			return &c, nil
		}
		if len(cands) == 1 && cands[0].Partition == 0 {
			se.Problem = fmt.Sprintf("--partition %d given, but the target is a single volume with no partition table (omit --partition)", partition)
		} else {
			se.Problem = fmt.Sprintf("there is no partition %d", partition)
		}
		return nil, se
	}
	for _, c := range cands {
		if ok(c.Kind) {
			se.Matching = append(se.Matching, c)
		}
	}
	switch len(se.Matching) {
	case 1:
		c := se.Matching[0]
		return &c, nil
	case 0:
		se.Problem = fmt.Sprintf("no %s volume found", kindList(accept))
		var uns []string
		for _, c := range cands {
			if c.Kind.Unsupported() {
				uns = append(uns, fmt.Sprintf("%s (%s)", partName(c), c.Note))
			}
		}
		if len(uns) > 0 {
			se.Problem += "; unsupported: " + strings.Join(uns, ", ")
		}
	default:
		se.Problem = fmt.Sprintf("%d %s volumes found; pass --partition N to choose one", len(se.Matching), kindList(accept))
	}
	return nil, se
}

func partName(c Candidate) string {
	if c.Partition == 0 {
		return "whole target"
	}
	return fmt.Sprintf("partition %d", c.Partition)
}

func describeKind(c Candidate) string {
	s := c.Kind.String()
	if c.Note != "" {
		s += " (" + c.Note + ")"
	}
	return s
}
