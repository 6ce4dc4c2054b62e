package logship

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// SyslogSink sends records as RFC 5424 messages, octet-counted, over TCP
// or TLS.
type SyslogSink struct {
	network, addr, display string
	tls                    *tls.Config
	caNote                 string
	hostname               string
	pid                    int
}

// SyslogAckWait is how long Send waits for the receiver to close the
// connection after unbrick closed its side (see the package doc).
var SyslogAckWait = 5 * time.Second

// syslogIOTimeout bounds connecting and writing one batch.
const syslogIOTimeout = 30 * time.Second

// NewSyslogSink checks rawURL, tcp://host[:port] or tls://host[:port].
// ca, when not nil, is the only trust for a TLS server's certificate.
func NewSyslogSink(rawURL string, ca *x509.CertPool, caFile string) (*SyslogSink, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "tcp" && u.Scheme != "tls") || u.Hostname() == "" || (u.Path != "" && u.Path != "/") || u.User != nil {
		return nil, fmt.Errorf("syslog address %q: want tcp://host[:port] (port 514 by default) or tls://host[:port] (6514)", RedactURL(rawURL))
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"tcp": "514", "tls": "6514"}[u.Scheme]
	}
	s := &SyslogSink{network: u.Scheme, addr: net.JoinHostPort(u.Hostname(), port), pid: os.Getpid()}
	s.display = u.Scheme + "://" + s.addr
	if u.Scheme == "tls" {
		s.tls = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: ca, ServerName: u.Hostname()}
		if ca != nil {
			s.caNote = " (--log-ca " + caFile + ")"
		}
	} else if ca != nil {
		return nil, fmt.Errorf("syslog address %s: a pinned CA needs tls://", s.display)
	}
	s.hostname = syslogHostname()
	return s, nil
}

// String is the sink's address.
func (s *SyslogSink) String() string { return "syslog " + s.display }

// Key names the sink's spool files.
func (s *SyslogSink) Key() string { return sinkKey("syslog", s.display) }

// Send writes one message per line on a new connection, closes its side
// and waits for the receiver to close.
func (s *SyslogSink) Send(ctx context.Context, lines []Line) error {
	d := net.Dialer{Timeout: syslogIOTimeout}
	raw, err := d.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return fmt.Errorf("%s: %w", s.String(), err)
	}
	conn := raw
	defer func() { conn.Close() }()
	stop := context.AfterFunc(ctx, func() { raw.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	raw.SetDeadline(time.Now().Add(syslogIOTimeout))
	if s.tls != nil {
		tc := tls.Client(raw, s.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			if untrusted(err) {
				return fmt.Errorf("%s: %w: the server's certificate is not trusted%s: %v; give the CA that signed it with --log-ca", s.String(), ErrRejected, s.caNote, err)
			}
			return fmt.Errorf("%s: TLS: %w", s.String(), err)
		}
		conn = tc
	}
	var buf []byte
	for _, l := range lines {
		msg := s.message(l)
		buf = strconv.AppendInt(buf, int64(len(msg)), 10)
		buf = append(buf, ' ')
		buf = append(buf, msg...)
	}
	if _, err := conn.Write(buf); err != nil {
		return fmt.Errorf("%s: %w", s.String(), err)
	}
	if err := closeWrite(conn); err != nil {
		return fmt.Errorf("%s: %w", s.String(), err)
	}
	conn.SetReadDeadline(time.Now().Add(SyslogAckWait))
	_, err = io.Copy(io.Discard, conn)
	var ne net.Error
	switch {
	case err == nil: // the receiver read everything and closed
		return nil
	case errors.As(err, &ne) && ne.Timeout() && ctx.Err() == nil:
		return nil // it keeps the connection open: taken as delivered
	}
	return fmt.Errorf("%s: after sending %d messages: %w", s.String(), len(lines), err)
}

func closeWrite(c net.Conn) error {
	switch c := c.(type) {
	case *tls.Conn:
		return c.CloseWrite()
	case *net.TCPConn:
		return c.CloseWrite()
	}
	return nil
}

// message formats one record as an RFC 5424 message.
func (s *SyslogSink) message(l Line) []byte {
	sev := 5 // notice
	switch l.Status {
	case "failed":
		sev = 3
	case "refused", "locked", "needs-review", "unrecognized", "no-windows":
		sev = 4
	}
	t := l.Time.UTC()
	if t.IsZero() {
		t = time.Now().UTC()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "<%d>1 %s %s unbrick %d record [unbrick@32473", 16*8+sev, t.Format("2006-01-02T15:04:05.000000Z"), s.hostname, s.pid)
	for _, p := range [][2]string{{"id", l.ID}, {"run", l.RunID}, {"status", l.Status}, {"computer", l.Host}, {"target", l.Target}} {
		if p[1] != "" {
			b.WriteString(" " + p[0] + "=\"" + sdEscape(p[1]) + "\"")
		}
	}
	b.WriteString("] \xef\xbb\xbf")
	b.Write(l.JSON)
	return []byte(b.String())
}

// sdEscape escapes an SD-PARAM value (RFC 5424 section 6.3.3).
func sdEscape(v string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, `]`, `\]`).Replace(v)
}

// syslogHostname is this machine's name as RFC 5424 allows it (printable
// US-ASCII without spaces, at most 255 characters), else "-".
func syslogHostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" || len(h) > 255 {
		return "-"
	}
	for _, c := range h {
		if c < 33 || c > 126 {
			return "-"
		}
	}
	return h
}
