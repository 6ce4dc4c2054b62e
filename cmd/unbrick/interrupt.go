package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// interruptContext is cancelled by the first Ctrl-C (SIGINT) or SIGTERM:
// fix then finishes the volumes in flight (their writes, journal and
// record) and starts no new target. A second signal is not caught: it
// stops the process at once, and the next fix finishes an interrupted
// volume from its undo journal.
func interruptContext(e *env) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case sig := <-ch:
			signal.Stop(ch)
			fmt.Fprintf(e.Stderr, "\nunbrick fix: %v: finishing the volumes in flight, starting no new target (again to stop at once; the next fix finishes an interrupted volume)\n", sig)
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, func() { signal.Stop(ch); cancel() }
}
