package bootmode

// The network side of the boot-time mode that does not touch the kernel:
// the unbrick.* kernel parameters, fetching settings, keys and rules over
// http(s) with the CA pinned in the initramfs, and where a run without a
// LOGS partition keeps its undo journals.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/unbrick/unbrick/image"
	"github.com/unbrick/unbrick/internal/logship"
)

// netParams are the unbrick.* parameters of the kernel command line.
type netParams struct {
	Config, Keys, Rules string
}

// any reports whether the command line names anything to fetch.
func (p netParams) any() bool { return p.Config != "" || p.Keys != "" || p.Rules != "" }

// parseCmdline reads the unbrick.* parameters from /proc/cmdline's text.
// A parameter may be double-quoted as a whole or in its value (the kernel
// strips those quotes only for the parameters it hands to init).
func parseCmdline(s string) netParams {
	var p netParams
	for _, f := range splitCmdline(s) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			continue
		}
		v = strings.Trim(v, `"`)
		switch k {
		case image.CmdlineConfig:
			p.Config = v
		case image.CmdlineKeys:
			p.Keys = v
		case image.CmdlineRules:
			p.Rules = v
		}
	}
	return p
}

// splitCmdline splits at spaces outside double quotes and drops the
// quotes around whole words.
func splitCmdline(s string) []string {
	var out []string
	var cur strings.Builder
	quoted := false
	for _, r := range s {
		switch {
		case r == '"':
			quoted = !quoted
		case (r == ' ' || r == '\n' || r == '\t') && !quoted:
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteRune(r)
		}
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

// Size limits of what is fetched at boot.
const (
	maxFetchConfig = 1 << 20  // unbrick.conf, a CA file
	maxFetchKeys   = 16 << 20 // a key export
	maxFetchRules  = 4 << 20  // a rules file
	fetchTimeout   = 30 * time.Second
)

// fetcher gets files over http and https. For https it trusts only pool
// (the CA pinned in the initramfs, or the ca the settings name); without
// a pool every https server is refused, because the initramfs has no
// other trust anchors.
type fetcher struct {
	client *http.Client
	pinned bool
	caNote string // where the pinned CA came from, for messages
}

func newFetcher(pool *x509.CertPool, caNote string) *fetcher {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	if pool == nil {
		pool = x509.NewCertPool() // trust nothing rather than an empty system store
	}
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
	return &fetcher{client: &http.Client{Transport: tr, Timeout: fetchTimeout}, pinned: caNote != "", caNote: caNote}
}

// get fetches rawURL, at most limit bytes. what names the file in errors
// ("settings", "key export"), which say what to check.
func (f *fetcher) get(ctx context.Context, rawURL, what string, limit int64) ([]byte, error) {
	u, err := image.CheckFetchURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	shown := u.Redacted()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, shown, err)
	}
	req.Header.Set("User-Agent", "unbrick-boot")
	resp, err := f.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if untrustedCert(err) {
			if f.pinned {
				return nil, fmt.Errorf("%s %s: the server's certificate does not chain to the CA %s: %v; rebuild the boot image with --ca naming the CA that signed it", what, shown, f.caNote, err)
			}
			return nil, fmt.Errorf("%s %s: this boot image trusts no CA for https: rebuild it with --ca FILE (the CA that signed the server's certificate)", what, shown)
		}
		return nil, fmt.Errorf("%s %s: cannot fetch: %v; check the server is up and reachable from this network", what, shown, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s %s: HTTP %s: check the file is there and readable", what, shown, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read: %w", what, shown, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s %s is over %d bytes: that is not a %s", what, shown, limit, what)
	}
	return data, nil
}

func untrustedCert(err error) bool {
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	var host x509.HostnameError
	var verify *tls.CertificateVerificationError
	return errors.As(err, &unknown) || errors.As(err, &invalid) || errors.As(err, &host) || errors.As(err, &verify)
}

// resolveRef resolves ref (a settings value) against base, the address
// the settings came from; an absolute ref stays as it is.
func resolveRef(base, ref string) (string, error) {
	r, err := url.Parse(ref)
	if err != nil {
		return "", fmt.Errorf("%q is not an address: %v", logship.RedactURL(ref), err)
	}
	if base == "" || r.IsAbs() {
		return ref, nil
	}
	b, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	return b.ResolveReference(r).String(), nil
}

// keysOverHTTPOK reports whether a key export may come from rawURL: over
// https always, over plain http only sealed (age, image.SealedSuffix),
// because anyone on the path could read it.
func keysOverHTTPOK(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return err
	}
	if u.Scheme == "http" && !strings.HasSuffix(strings.ToLower(u.Path), image.SealedSuffix) {
		return fmt.Errorf("the key export %s comes over plain http but is not sealed: anyone on the network could read the recovery keys; serve it over https (and build with --ca) or seal it (a %s file)", u.Redacted(), image.SealedSuffix)
	}
	return nil
}

// rulesOverHTTPOK refuses rules over plain http: they say what is deleted.
func rulesOverHTTPOK(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return err
	}
	if u.Scheme != "https" {
		return fmt.Errorf("the rules %s come over plain http: rules say what is deleted, so they are only taken over https from a server the pinned CA vouches for", u.Redacted())
	}
	return nil
}

// journalPlace says where a run keeps its undo journals: on the LOGS
// partition when there is one, else they are sent to the HTTP log
// receiver after the run (the journals hold only ciphertext). Without
// either the run is refused before anything is written.
func journalPlace(haveStick bool, cfg image.Config) (ship bool, err error) {
	if haveStick {
		return false, nil
	}
	if cfg.LogURL == "" {
		return false, errors.New("this run has no LOGS disk and unbrick.conf names no log_url, so there is no place for the undo journals: set log_url (the HTTP receiver takes the journals too) or attach a LOGS disk (image build --format logs); nothing was changed")
	}
	return true, nil
}

// reachable dials the host of rawURL (its port, or the scheme's) within
// limit: a quick check that the receiver of the journals can be reached
// before any disk is changed.
func reachable(ctx context.Context, rawURL string, limit time.Duration) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return err
	}
	host := u.Host
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		host = net.JoinHostPort(u.Hostname(), port)
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	c, err := (&net.Dialer{}).DialContext(ctx, "tcp", host)
	if err != nil {
		return fmt.Errorf("cannot reach %s: %v", u.Redacted(), err)
	}
	return c.Close()
}
