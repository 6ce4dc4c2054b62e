package remedy

import (
	"errors"
	"fmt"

	"github.com/unbrick/unbrick/internal/rules"
)

// outcome is an error that says which Status it stands for (locked,
// refused, needs-review, busy...); errors without one mean failed.
type outcome struct {
	status Status
	err    error
}

func (o *outcome) Error() string { return o.err.Error() }
func (o *outcome) Unwrap() error { return o.err }

func refused(format string, a ...any) error {
	return &outcome{StatusRefused, fmt.Errorf(format, a...)}
}
func failed(err error) error { return &outcome{StatusFailed, err} }

// stoppedAs gives err the status s.
func stoppedAs(s Status, err error) error { return &outcome{s, err} }

// ErrorStatus returns the Status an error from Open, Commit or a fix step
// stands for (StatusFailed for errors that carry none).
func ErrorStatus(err error) Status {
	var oc *outcome
	if errors.As(err, &oc) {
		return oc.status
	}
	return StatusFailed
}

// reached is how far a volume got without an error.
type reached int

const (
	reachedNothing     reached = iota // stopped by an error before anything else
	reachedNotWindows                 // NTFS, but no SystemHive
	reachedScanned                    // scan: evaluated
	reachedNothingToDo                // fix: no faulty file (or none approved)
	reachedPlanned                    // dry run: planned and staged
	reachedVerified                   // fix: written and verified
)

// end is how far a volume got and why it stopped: all settle needs.
type end struct {
	reached reached
	// err is why it stopped early; its status (ErrorStatus) is the
	// volume's: locked, refused, failed, needs-review (a volume unbrick
	// cannot open), unrecognized, no-windows, busy.
	err error
	// review: a match was left for a human (fix), for causes.
	review bool
	causes rules.Cause
	// finished: this run finished an interrupted fix of the volume.
	finished bool
}

// settle is the one place that decides a volume's Status and Error.
func settle(v *Volume, e end) {
	v.Status, v.Error = decide(e)
}

func decide(e end) (Status, string) {
	if e.err != nil {
		return ErrorStatus(e.err), e.err.Error()
	}
	switch e.reached {
	case reachedNotWindows:
		return StatusSkipped, ""
	case reachedScanned:
		return StatusScanned, ""
	case reachedPlanned:
		return StatusDryRun, ""
	case reachedNothingToDo:
		switch {
		case e.review:
			return StatusNeedsReview, "a file matched a rule but needs review (" + e.causes.String() + "): a human must decide"
		case e.finished:
			// This run finished an interrupted fix: the host is fixed
			// now, by that fix's plan, not found clean.
			return StatusRemediated, ""
		}
		return StatusAlreadyClean, ""
	case reachedVerified:
		if e.review {
			return StatusNeedsReview, "faulty files deleted; another match needs review (" + e.causes.String() + "): a human must decide"
		}
		return StatusRemediated, ""
	}
	return StatusFailed, "stopped without a reason (an unbrick bug)"
}
