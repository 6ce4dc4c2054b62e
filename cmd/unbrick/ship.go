package main

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/unbrick/unbrick/internal/exitcode"
	"github.com/unbrick/unbrick/internal/fleetlog"
	"github.com/unbrick/unbrick/internal/logship"
)

// shipFlags are the log shipping flags of fix and ship.
type shipFlags struct {
	url, syslog, ca string
	wait            time.Duration
}

// addShipFlags registers --log-url, --syslog, --log-ca and --log-wait.
func addShipFlags(c *cobra.Command, wait time.Duration) *shipFlags {
	f := &shipFlags{}
	fs := c.Flags()
	fs.StringVar(&f.url, "log-url", "", "also send each fleet log record as JSON Lines by HTTP POST to `URL` (https://…), batched, retried, spooled while it is down")
	fs.StringVar(&f.syslog, "syslog", "", "also send each record as an RFC 5424 message to `ADDR`, tcp://host[:514] or tls://host[:6514]")
	fs.StringVar(&f.ca, "log-ca", "", "trust only the CA certificates in PEM `FILE` for --log-url and --syslog tls://")
	fs.DurationVar(&f.wait, "log-wait", wait, "at the end, keep trying an unreachable log receiver for `DURATION` before leaving the records in the spool")
	return f
}

// configured reports whether any receiver was given.
func (f *shipFlags) configured() bool { return f.url != "" || f.syslog != "" }

// sinks checks the flags: a bad URL or CA file is a usage error, found
// before any disk is opened.
func (f *shipFlags) sinks() ([]logship.Sink, error) {
	if f.ca != "" && !f.configured() {
		return nil, errors.New("--log-ca needs --log-url or --syslog")
	}
	if f.wait < 0 {
		return nil, errors.New("--log-wait must not be negative")
	}
	var ca *x509.CertPool
	if f.ca != "" {
		p, err := logship.LoadCA(f.ca)
		if err != nil {
			return nil, fmt.Errorf("--log-ca: %w", err)
		}
		ca = p
	}
	var out []logship.Sink
	if f.url != "" {
		s, err := logship.NewHTTPSink(f.url, ca, f.ca)
		if err != nil {
			return nil, fmt.Errorf("--log-url: %w", err)
		}
		out = append(out, s)
	}
	if f.syslog != "" {
		s, err := logship.NewSyslogSink(f.syslog, ca, f.ca)
		if err != nil {
			return nil, fmt.Errorf("--syslog: %w", err)
		}
		out = append(out, s)
	}
	return out, nil
}

// startShipping starts sending logDir's records to sinks (nil when none).
// Problems with a receiver during the run are said once per outage on w.
func startShipping(w io.Writer, logDir string, sinks []logship.Sink) (*logship.Shipper, error) {
	if len(sinks) == 0 {
		return nil, nil
	}
	return logship.Start(logship.Options{Dir: logDir, Sinks: sinks, OnState: func(sink string, err error) {
		if err != nil {
			fmt.Fprintf(w, "unbrick: log receiver down: %v; records are kept in the spool and sent when it answers\n", err)
		} else {
			fmt.Fprintf(w, "unbrick: log receiver %s answers again\n", sink)
		}
	}})
}

// finishShipping sends what is left and says per receiver what arrived and
// what waits; delivered reports whether nothing waits.
func finishShipping(w io.Writer, s *logship.Shipper, wait time.Duration, logDir string, f *shipFlags) (delivered bool) {
	if s == nil {
		return true
	}
	delivered = true
	for _, r := range s.Close(wait) {
		line := fmt.Sprintf("log shipping: %s: %d record(s) delivered", r.Sink, r.Sent)
		if r.Skipped > 0 {
			line += fmt.Sprintf(", %d damaged line(s) of the log skipped", r.Skipped)
		}
		if r.Resent {
			line += "; the log did not match what was sent before, so its records were sent again (receivers can drop repeats by record_id)"
		}
		if r.Pending > 0 {
			delivered = false
			line += fmt.Sprintf("; %d record(s) NOT delivered (%v): they stay in the spool (%s) and are sent by the next fix with this receiver, or now with: unbrick ship --log %s%s",
				r.Pending, r.Err, filepath.Dir(r.Cursor), logDir, f.args())
		}
		fmt.Fprintln(w, line)
	}
	return delivered
}

// args repeats the receiver flags for a hint (the URL without password).
func (f *shipFlags) args() string {
	s := ""
	if f.url != "" {
		s += " --log-url '" + logship.RedactURL(f.url) + "'"
	}
	if f.syslog != "" {
		s += " --syslog " + f.syslog
	}
	if f.ca != "" {
		s += " --log-ca " + f.ca
	}
	return s
}

func newShipCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "ship --log DIR (--log-url URL | --syslog ADDR) [--journal DIR] [flags]",
		Short: "send the fleet log records a receiver has not got yet (the spool)",
		Long: `Sends the records of the fleet log DIR/unbrick.jsonl that the receiver has not
acknowledged yet: those logged while it was down, by a stick without network, or
before it was configured. Each record is sent once, in order (DIR/ship/ keeps
how far each receiver got). With --journal, the undo journals of that folder
then go to the --log-url receiver, for hosts with no disk of their own to keep
them on: each journal once, and again only when it changed (DIR/ship/ keeps
what each receiver got); files that are not undo journals are skipped and
reported. Exit 0 when every record (and journal) was delivered, 1 when some
still wait, 2 usage.`,
		Example: `  unbrick ship --log /mnt/usb/logs --log-url https://logs.example.com/unbrick --log-ca ca.pem
  unbrick ship --log unbrick-logs --syslog tls://siem.example.com:6514
  unbrick ship --log /run/unbrick/logs --journal /run/unbrick/journal --log-url https://logs.example.com/unbrick`,
		Args: cobra.NoArgs,
	}
	var logDir string
	c.Flags().StringVar(&logDir, "log", defaultLogDir, "fleet log `DIR` (unbrick.jsonl)")
	var journalDir string
	c.Flags().StringVar(&journalDir, "journal", "", "also send the undo journals in `DIR` (fix --journal) to the --log-url receiver, each once")
	sf := addShipFlags(c, 30*time.Second)
	c.RunE = func(*cobra.Command, []string) error {
		if !sf.configured() {
			return usagef("give a receiver: --log-url URL or --syslog ADDR")
		}
		if journalDir != "" && sf.url == "" {
			return usagef("--journal needs --log-url: journals go only to an HTTP receiver (syslog does not take them)")
		}
		sinks, err := sf.sinks()
		if err != nil {
			return usageError{err}
		}
		if _, err := os.Stat(filepath.Join(logDir, fleetlog.JSONLName)); err != nil {
			fmt.Fprintf(e.Stderr, "unbrick ship: no fleet log in %s (%v): give the folder that holds unbrick.jsonl with --log\n", logDir, err)
			return exit(exitcode.Failure)
		}
		s, err := startShipping(e.Stderr, logDir, sinks)
		if err != nil {
			fmt.Fprintf(e.Stderr, "unbrick ship: %v\n", err)
			return exit(exitcode.Failure)
		}
		s.Notify()
		ok := finishShipping(e.Stdout, s, sf.wait, logDir, sf)
		if journalDir != "" && !shipJournals(e, logDir, journalDir, sinks, sf) {
			ok = false
		}
		if !ok {
			return exit(exitcode.Failure)
		}
		return nil
	}
	return c
}

// shipJournals sends the undo journals of journalDir to the HTTP sinks
// and says per receiver what was sent; ok reports whether every journal
// is there.
func shipJournals(e *env, logDir, journalDir string, sinks []logship.Sink, f *shipFlags) (ok bool) {
	ok = true
	for _, sink := range sinks {
		hs, isHTTP := sink.(*logship.HTTPSink)
		if !isHTTP {
			continue
		}
		res, err := logship.SendJournals(logship.JournalOptions{Dir: logDir, JournalDir: journalDir, Sink: hs, Wait: f.wait})
		for _, p := range res.Skipped {
			fmt.Fprintf(e.Stderr, "unbrick ship: %s skipped: %v\n", p.Path, p.Err)
		}
		if err != nil {
			fmt.Fprintf(e.Stdout, "journal shipping: %s: no journal sent: %v\n", hs, err)
			ok = false
			continue
		}
		line := "journal shipping: " + res.String()
		if len(res.Skipped) > 0 {
			line += fmt.Sprintf(", %d file(s) that are not undo journals skipped", len(res.Skipped))
		}
		fmt.Fprintln(e.Stdout, line)
		for _, p := range res.Failed {
			fmt.Fprintf(e.Stdout, "journal shipping: %s NOT delivered: %v\n", p.Path, p.Err)
		}
		if len(res.Failed) > 0 {
			ok = false
			fmt.Fprintf(e.Stdout, "journal shipping: the journals not delivered stay in %s; send them with: unbrick ship --log %s --journal %s%s\n",
				journalDir, logDir, journalDir, f.args())
		}
	}
	return ok
}
