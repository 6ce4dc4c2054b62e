package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/charmbracelet/x/term"
	"github.com/schollz/progressbar/v3"

	"github.com/unbrick/unbrick/internal/remedy"
)

// batchProgress shows how a run over several targets goes, on standard
// error: on a terminal one progress line (github.com/schollz/progressbar),
// else a plain line at most every plainEvery. Counts are per volume; done
// and total are targets.
type batchProgress struct {
	mu     sync.Mutex
	w      io.Writer
	total  int
	done   int
	counts map[remedy.Status]int
	start  time.Time
	last   time.Time
	bar    *progressbar.ProgressBar // nil when w is not a terminal
	now    func() time.Time
}

// plainEvery is how often a plain progress line is written.
const plainEvery = 10 * time.Second

// newBatchProgress returns nil (no progress) for fewer than two targets.
func newBatchProgress(w io.Writer, total int) *batchProgress {
	if total < 2 {
		return nil
	}
	p := &batchProgress{w: w, total: total, counts: map[remedy.Status]int{}, now: time.Now}
	p.start, p.last = p.now(), p.now()
	if f, ok := w.(*os.File); ok && term.IsTerminal(f.Fd()) {
		p.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription("starting"),
			progressbar.OptionShowCount(),
			progressbar.OptionSetItsString("disks"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
	}
	return p
}

// target is remedy's Hooks.Target: one more target is done.
func (p *batchProgress) target(_ string, vols []*remedy.Volume) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	for _, v := range vols {
		p.counts[v.Status]++
	}
	if p.bar != nil {
		p.bar.Describe(p.countsLine())
		p.bar.Add(1)
		return
	}
	if now := p.now(); now.Sub(p.last) >= plainEvery {
		p.last = now
		fmt.Fprintf(p.w, "unbrick fix: %s\n", p.line(now))
	}
}

// line is the plain progress line: done/total, counts, rate and ETA.
func (p *batchProgress) line(now time.Time) string {
	el := now.Sub(p.start)
	rate := 0.0
	if el > 0 {
		rate = float64(p.done) / el.Minutes()
	}
	eta := "?"
	if p.done > 0 && p.done < p.total {
		eta = (time.Duration(float64(el) / float64(p.done) * float64(p.total-p.done))).Round(time.Second).String()
	} else if p.done == p.total {
		eta = "0s"
	}
	return fmt.Sprintf("%d/%d disks: %s; %.1f disks/min, ETA %s", p.done, p.total, p.countsLine(), rate, eta)
}

// countsLine names the counts that matter to an operator, others summed.
func (p *batchProgress) countsLine() string {
	c := p.counts
	failed := c[remedy.StatusFailed]
	other := 0
	for s, n := range c {
		switch s {
		case remedy.StatusRemediated, remedy.StatusAlreadyClean, remedy.StatusLocked, remedy.StatusFailed,
			remedy.StatusRefused, remedy.StatusNeedsReview, remedy.StatusNotStarted,
			remedy.StatusSkipped, remedy.StatusScanned: // other volumes of a disk (EFI, recovery) are not news
		default:
			other += n
		}
	}
	s := fmt.Sprintf("remediated %d, already clean %d, locked %d, needs review %d, refused %d, failed %d",
		c[remedy.StatusRemediated], c[remedy.StatusAlreadyClean], c[remedy.StatusLocked], c[remedy.StatusNeedsReview],
		c[remedy.StatusRefused], failed)
	if n := c[remedy.StatusNotStarted]; n > 0 {
		s += fmt.Sprintf(", not started %d", n)
	}
	if other > 0 {
		s += fmt.Sprintf(", other %d", other)
	}
	return s
}

// finish ends the progress line.
func (p *batchProgress) finish() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		p.bar.Finish()
		return
	}
	if p.done > 0 && p.now().Sub(p.start) >= plainEvery {
		fmt.Fprintf(p.w, "unbrick fix: %s\n", p.line(p.now()))
	}
}

// writeSummary prints, after a run over several targets, one line per
// status with its count of volumes, and the targets not started.
func writeSummary(w io.Writer, vols []*remedy.Volume, targets int) {
	var s fixSummary
	for _, v := range vols {
		s.add(v)
	}
	s.write(w, targets)
}

// maxListedNotStarted is how many targets not started the summary names.
const maxListedNotStarted = 20

// fixSummary counts volume reports by status for the summary of a run
// over several targets; of the targets not started it keeps the first
// names it lists and a count.
type fixSummary struct {
	counts     map[remedy.Status]int
	volumes    int
	notStarted []string // at most maxListedNotStarted
	notStartN  int
}

// add counts one volume report.
func (s *fixSummary) add(v *remedy.Volume) {
	if s.counts == nil {
		s.counts = map[remedy.Status]int{}
	}
	s.counts[v.Status]++
	s.volumes++
	if v.Status == remedy.StatusNotStarted {
		s.notStartN++
		if len(s.notStarted) < maxListedNotStarted {
			s.notStarted = append(s.notStarted, v.Target)
		}
	}
}

// write prints the summary (nothing for fewer than two targets).
func (s *fixSummary) write(w io.Writer, targets int) {
	if targets < 2 {
		return
	}
	var st []string
	for k := range s.counts {
		st = append(st, string(k))
	}
	sort.Slice(st, func(i, j int) bool {
		a, b := remedy.Status(st[i]).ExitCode(), remedy.Status(st[j]).ExitCode()
		if a != b {
			return a < b
		}
		return st[i] < st[j]
	})
	fmt.Fprintf(w, "summary: %d target(s), %d volume report(s)\n", targets, s.volumes)
	for _, k := range st {
		fmt.Fprintf(w, "  %-15s %6d\n", k, s.counts[remedy.Status(k)])
	}
	if s.notStartN > 0 {
		fmt.Fprintf(w, "not started (run fix on them again): %s", strings.Join(s.notStarted, " "))
		if s.notStartN > len(s.notStarted) {
			fmt.Fprintf(w, " ... and %d more (fix --json lists each on standard error)", s.notStartN-len(s.notStarted))
		}
		fmt.Fprintln(w)
	}
}
