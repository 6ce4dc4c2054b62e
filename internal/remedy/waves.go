package remedy

import (
	"context"
	"fmt"
	"sync"
)

// Waves say how a Fix over many targets is paced and when it stops
// starting new ones.
type Waves struct {
	// Size: targets are started in waves of Size (0: one wave of all). The
	// first wave is the canary: the next starts only once every target of
	// the previous one is done, and only if the failures stay within the
	// limit.
	Size int
	// Limited: the run stops starting new targets once more than the
	// limit have failed. The limit is MaxFailures targets or, when
	// Percent, MaxFailures percent of all the targets (rounded down).
	Limited     bool
	MaxFailures float64
	Percent     bool
}

// limit is the failure count the run tolerates for n targets (-1: none).
func (w Waves) limit(n int) int {
	switch {
	case !w.Limited:
		return -1
	case w.Percent:
		return int(w.MaxFailures * float64(n) / 100)
	}
	return int(w.MaxFailures)
}

// failedTarget reports whether a target's outcome counts against the
// failure limit: a volume that failed or was refused (unreadable, cut
// short, unsafe). Locked, needs-review, unrecognized, no-windows and busy
// are counted on their own, not as failures.
func failedTarget(vols []*Volume) bool {
	for _, v := range vols {
		if v.Status == StatusFailed || v.Status == StatusRefused {
			return true
		}
	}
	return false
}

// pacer decides whether the next target may start.
type pacer struct {
	mu       sync.Mutex
	limit    int
	failures int
}

func (p *pacer) finished(vols []*Volume) {
	if failedTarget(vols) {
		p.mu.Lock()
		p.failures++
		p.mu.Unlock()
	}
}

// stopReason says why no new target may start ("" : it may).
func (p *pacer) stopReason(ctx context.Context) string {
	if err := ctx.Err(); err != nil {
		return "the run was interrupted before this target was started"
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.limit >= 0 && p.failures > p.limit {
		return fmt.Sprintf("the run stopped starting targets after %d failed (more than the %d --max-failures allows)", p.failures, p.limit)
	}
	return ""
}

// notStarted reports a target the run did not start: nothing was read or
// written, and no fleet log record is kept for it (it was not looked at).
func notStarted(target, why string) *Volume {
	v := &Volume{Target: target, Partition: -1, Kind: "unknown"}
	settle(v, end{err: stoppedAs(StatusNotStarted, fmt.Errorf("not started: %s; run fix on it again", why))})
	return v
}
