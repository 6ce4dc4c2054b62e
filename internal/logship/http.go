package logship

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// HTTPSink posts records as JSON Lines to a URL.
type HTTPSink struct {
	url     *url.URL
	display string
	client  *http.Client
	caNote  string
}

// HTTPTimeout bounds one POST, answer included.
const HTTPTimeout = 30 * time.Second

// NewHTTPSink checks rawURL (http or https, with a host) and prepares a
// client. ca, when not nil, is the only trust for the server's certificate
// (caFile names it in errors).
func NewHTTPSink(rawURL string, ca *x509.CertPool, caFile string) (*HTTPSink, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("log URL %q: want https://host[:port]/path (or http:// to a collector on this machine)", RedactURL(rawURL))
	}
	if ca != nil && u.Scheme != "https" {
		return nil, fmt.Errorf("log URL %s: a pinned CA needs an https:// URL", u.Redacted())
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: ca}
	s := &HTTPSink{url: u, display: u.Redacted(), client: &http.Client{Transport: tr, Timeout: HTTPTimeout}}
	if ca != nil {
		s.caNote = " (--log-ca " + caFile + ")"
	}
	return s, nil
}

// String is the URL without its password.
func (s *HTTPSink) String() string { return s.display }

// Key names the sink's spool files.
func (s *HTTPSink) Key() string { return sinkKey("http", s.display) }

// Send posts lines as one JSON Lines body.
func (s *HTTPSink) Send(ctx context.Context, lines []Line) error {
	var body bytes.Buffer
	ids := sha256.New()
	for _, l := range lines {
		body.Write(l.JSON)
		body.WriteByte('\n')
		ids.Write([]byte(l.ID + "\n"))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url.String(), bytes.NewReader(body.Bytes()))
	if err != nil {
		return fmt.Errorf("%s: %w", s.display, err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("X-Unbrick-Records", strconv.Itoa(len(lines)))
	req.Header.Set("Idempotency-Key", hex.EncodeToString(ids.Sum(nil)[:16]))
	resp, err := s.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its text repeats the URL, password included
		}
		if untrusted(err) {
			return fmt.Errorf("%s: %w: the server's certificate is not trusted%s: %v; give the CA that signed it with --log-ca", s.display, ErrRejected, s.caNote, err)
		}
		return fmt.Errorf("%s: %w", s.display, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return nil
	case c == http.StatusRequestEntityTooLarge:
		return fmt.Errorf("%s: HTTP %d for %d records: %w", s.display, c, len(lines), errTooLarge)
	case c == http.StatusRequestTimeout || c == http.StatusTooEarly || c == http.StatusTooManyRequests || c >= 500:
		return fmt.Errorf("%s: HTTP %s %q", s.display, resp.Status, bytes.TrimSpace(msg))
	default:
		return fmt.Errorf("%s: %w: HTTP %s %q; check the URL and the receiver's access rules", s.display, ErrRejected, resp.Status, bytes.TrimSpace(msg))
	}
}

// RedactURL is raw without its password (the form every message shows);
// a URL that does not parse is not shown at all.
func RedactURL(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return "(unparsable URL)"
}

// untrusted reports whether err is a TLS server certificate that the
// trusted CAs do not vouch for.
func untrusted(err error) bool {
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	var host x509.HostnameError
	return errors.As(err, &unknown) || errors.As(err, &invalid) || errors.As(err, &host)
}
