package logship

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/unbrick/unbrick/internal/durable"
	"github.com/unbrick/unbrick/internal/fleetlog"
)

// MaxBatch is the most records one batch carries; a batch is also cut at
// maxBatchBytes.
const (
	MaxBatch      = 500
	maxBatchBytes = 1 << 20
)

// Options say what a Shipper sends and how it paces itself.
type Options struct {
	Dir   string // the fleet log directory (its unbrick.jsonl is read)
	Sinks []Sink
	// Interval is the least time between two batches to one sink, so
	// records logged meanwhile go together (default 1 s).
	Interval time.Duration
	// MinBackoff and MaxBackoff bound the wait before trying a sink that
	// failed again, doubling from one to the other (default 1 s, 30 s).
	MinBackoff, MaxBackoff time.Duration
	// OnState, when set, is called when a sink starts failing (err set)
	// and when it delivers again (err nil), from the sink's goroutine.
	OnState func(sink string, err error)
}

// Result is what one sink got.
type Result struct {
	Sink    string // the sink, without credentials
	Sent    int    // records this shipper delivered
	Pending int    // records still waiting in the spool
	Skipped int    // lines of unbrick.jsonl that were not records
	// Resent: the log did not match the cursor and its last record was
	// not found, so records were sent again from the start.
	Resent bool
	Err    error  // why records are pending (nil when none are)
	Cursor string // the cursor file
}

// Shipper sends the records of one fleet log directory to its sinks, in
// the background, until Close.
type Shipper struct {
	workers []*worker
	cancel  context.CancelFunc
	closing chan struct{}
	wg      sync.WaitGroup
}

type worker struct {
	sink           Sink
	jsonl, cpath   string
	lockf          *os.File
	o              *Options
	notify         chan struct{}
	sent, skipped  int
	resent, failed bool
	lastErr        error
}

// errBusy: another process is sending this directory to this sink.
var errBusy = errors.New("another unbrick process is sending these records to this sink now")

// Start checks that the spool can be kept (DIR/ship) and starts one
// sender per sink.
func Start(o Options) (*Shipper, error) {
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = time.Second
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(30*time.Second, o.MinBackoff)
	}
	spool := filepath.Join(o.Dir, SpoolDir)
	if err := durable.MkdirAll(spool, 0o755); err != nil {
		return nil, fmt.Errorf("log shipping spool: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Shipper{cancel: cancel, closing: make(chan struct{})}
	for _, sink := range o.Sinks {
		cpath := cursorPath(o.Dir, sink)
		lf, err := os.OpenFile(filepath.Join(spool, sink.Key()+".lock"), os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			s.stop()
			return nil, fmt.Errorf("log shipping spool: %w", err)
		}
		if _, err := loadCursor(cpath, sink); err != nil {
			lf.Close()
			s.stop()
			return nil, err
		}
		s.workers = append(s.workers, &worker{sink: sink, jsonl: filepath.Join(o.Dir, fleetlog.JSONLName), cpath: cpath, lockf: lf,
			o: &o, notify: make(chan struct{}, 1)})
	}
	for _, w := range s.workers {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			w.run(ctx, s.closing)
		}()
	}
	return s, nil
}

// Notify says a record was appended: senders look at the log soon.
func (s *Shipper) Notify() {
	for _, w := range s.workers {
		select {
		case w.notify <- struct{}{}:
		default:
		}
	}
}

// Close sends what is left, trying for at most wait, and says per sink
// what was delivered and what waits in the spool.
func (s *Shipper) Close(wait time.Duration) []Result {
	t := time.AfterFunc(wait, s.cancel)
	close(s.closing)
	s.wg.Wait()
	t.Stop()
	s.cancel()
	var out []Result
	for _, w := range s.workers {
		out = append(out, w.result())
		w.lockf.Close()
	}
	return out
}

func (s *Shipper) stop() {
	s.cancel()
	for _, w := range s.workers {
		w.lockf.Close()
	}
}

// run sends until closing, then until caught up or ctx ends.
func (w *worker) run(ctx context.Context, closing <-chan struct{}) {
	backoff := w.o.MinBackoff
	for {
		// Closing is looked at before the drain: Close is called after the
		// last record was logged, so a drain that starts after it saw
		// closing also sees every record.
		closed := isClosed(closing)
		err := w.drain(ctx)
		if ctx.Err() != nil {
			return // the time given ran out: keep the last real reason
		}
		w.setState(err)
		switch {
		case err == nil && closed:
			return
		case err == nil:
			backoff = w.o.MinBackoff
			if !pause(ctx, w.o.Interval) { // gather records
				return
			}
			select {
			case <-w.notify:
			case <-closing:
			case <-time.After(w.o.Interval):
			case <-ctx.Done():
				return
			}
		case errors.Is(err, ErrRejected):
			// Sending again will not help: wait for the end, keep the spool.
			select {
			case <-closing:
			case <-ctx.Done():
			}
			return
		default:
			if !pause(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, w.o.MaxBackoff)
		}
	}
}

func (w *worker) setState(err error) {
	if errors.Is(err, errBusy) {
		w.lastErr = err // another run is sending: not an outage
		return
	}
	was := w.failed
	w.failed = err != nil
	if err != nil {
		w.lastErr = err
	}
	if w.o.OnState != nil && (was != w.failed) {
		w.o.OnState(w.sink.String(), err)
	}
}

// pause waits d; false when ctx ended first.
func pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// drain sends every complete record after the cursor, batch by batch,
// moving the cursor after each delivered batch.
func (w *worker) drain(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	busy, err := tryLock(w.lockf)
	if err != nil {
		return fmt.Errorf("log shipping lock: %w", err)
	}
	if busy {
		return errBusy
	}
	defer unlock(w.lockf)
	c, err := loadCursor(w.cpath, w.sink)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrRejected, err)
	}
	if _, err := os.Stat(w.jsonl); errors.Is(err, os.ErrNotExist) {
		return nil // nothing logged yet
	}
	if !checkCursor(w.jsonl, c) {
		off, found, err := resync(w.jsonl, c)
		if err != nil {
			return err
		}
		if !found {
			w.resent = c.LastID != ""
			c.LastID = ""
		}
		c.Offset, c.LastEnd = off, off
	}
	limit := MaxBatch
	for {
		r, err := openReader(w.jsonl, c.Offset)
		if err != nil {
			return err
		}
		batch, end, lastEnd, skipped, err := readBatch(r, limit)
		r.Close()
		if err != nil {
			return err
		}
		if len(batch) == 0 {
			if end != c.Offset {
				c.Offset, c.Skipped = end, c.Skipped+int64(skipped)
				w.skipped += skipped
				return c.save(w.cpath)
			}
			return nil
		}
		if err := w.sink.Send(ctx, batch); err != nil {
			if errors.Is(err, errTooLarge) && len(batch) > 1 {
				limit = max(len(batch)/2, 1)
				continue
			}
			return err
		}
		c.Offset, c.LastID, c.LastEnd = end, batch[len(batch)-1].ID, lastEnd
		c.Sent += int64(len(batch))
		c.Skipped += int64(skipped)
		w.sent += len(batch)
		w.skipped += skipped
		if err := c.save(w.cpath); err != nil {
			return err
		}
	}
}

// readBatch reads up to limit records (and maxBatchBytes); end is the
// offset after the last line consumed, lastEnd the offset after the last
// record's line.
func readBatch(r *reader, limit int) (batch []Line, end, lastEnd int64, skipped int, err error) {
	end = r.off
	size := 0
	for len(batch) < limit && size < maxBatchBytes {
		b, next, err := r.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, end, lastEnd, skipped, err
		}
		end = next
		l, ok := parseLine(b)
		if !ok {
			skipped++
			continue
		}
		batch = append(batch, l)
		lastEnd = next
		size += len(l.JSON)
	}
	return batch, end, lastEnd, skipped, nil
}

// result counts what is still after the cursor.
func (w *worker) result() Result {
	res := Result{Sink: w.sink.String(), Sent: w.sent, Skipped: w.skipped, Resent: w.resent, Cursor: w.cpath}
	c, err := loadCursor(w.cpath, w.sink)
	if err != nil {
		res.Err = err
		return res
	}
	if !checkCursor(w.jsonl, c) {
		c.Offset = 0
		if off, found, err := resync(w.jsonl, c); err == nil && found {
			c.Offset = off
		}
	}
	r, err := openReader(w.jsonl, c.Offset)
	if errors.Is(err, os.ErrNotExist) {
		return res
	}
	if err != nil {
		res.Err = err
		return res
	}
	defer r.Close()
	for {
		b, _, err := r.next()
		if err != nil {
			break
		}
		if _, ok := parseLine(b); ok {
			res.Pending++
		}
	}
	if res.Pending > 0 {
		res.Err = w.lastErr
		if res.Err == nil {
			res.Err = errors.New("the time given to send them ran out")
		}
	}
	return res
}
