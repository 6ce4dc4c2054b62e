// Package exitcode defines the process exit codes every unbrick subcommand
// uses and the rule that merges the outcomes of several volumes or targets
// into one code.
package exitcode

// Exit codes shared by every subcommand (README.md, "exit code").
const (
	OK          = 0 // everything asked for was done
	Failure     = 1 // an error: unreadable target, corrupt structure, write failure
	Usage       = 2 // bad command line
	Locked      = 3 // a volume could not be unlocked with any key supplied
	Refused     = 4 // an unsafe state or a policy stopped the operation
	NeedsReview = 5 // a human has to decide (e.g. a match outside the rule's window)
)

// severity ranks codes for Merge: the higher, the more severe.
// Order: 1 > 4 > 3 > 5 > 0. Usage (2) is a whole-run
// condition and outranks everything.
func severity(code int) int {
	switch code {
	case OK:
		return 0
	case NeedsReview:
		return 1
	case Locked:
		return 2
	case Refused:
		return 3
	case Failure:
		return 4
	case Usage:
		return 5
	default:
		return 4
	}
}

// Merge returns the most severe of the given codes, in the order
// 2 > 1 > 4 > 3 > 5 > 0. Merge() with no codes returns OK.
func Merge(codes ...int) int {
	best := OK
	for _, c := range codes {
		switch c {
		case OK, Failure, Usage, Locked, Refused, NeedsReview:
		default:
			c = Failure // unknown codes count as failures
		}
		if severity(c) > severity(best) {
			best = c
		}
	}
	return best
}
