package bootmode

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/unbrick/unbrick/image"
)

func TestParseCmdline(t *testing.T) {
	p := parseCmdline(`BOOT_IMAGE=/unbrick/vmlinuz console=ttyS0,115200 unbrick.config=https://10.0.2.2:8443/u/unbrick.conf "unbrick.keys=https://h/k.csv" unbrick.rules="https://h/r a" quiet` + "\n")
	if p.Config != "https://10.0.2.2:8443/u/unbrick.conf" || p.Keys != "https://h/k.csv" || p.Rules != "https://h/r a" {
		t.Fatalf("got %+v", p)
	}
	if parseCmdline("console=tty0 unbrick.configx=1 xunbrick.config=2").any() {
		t.Fatal("look-alike parameters taken")
	}
}

func TestResolveRef(t *testing.T) {
	for _, c := range [][3]string{
		{"https://h:8443/u/unbrick.conf", "keys.csv", "https://h:8443/u/keys.csv"},
		{"https://h:8443/u/unbrick.conf", "/k/keys.csv", "https://h:8443/k/keys.csv"},
		{"https://h:8443/u/unbrick.conf", "https://other/keys.csv", "https://other/keys.csv"},
		{"", "https://other/keys.csv", "https://other/keys.csv"},
	} {
		got, err := resolveRef(c[0], c[1])
		if err != nil || got != c[2] {
			t.Errorf("resolveRef(%q, %q) = %q, %v; want %q", c[0], c[1], got, err, c[2])
		}
	}
}

func TestFetchRules(t *testing.T) {
	if err := keysOverHTTPOK("http://h/keys.csv"); err == nil || !strings.Contains(err.Error(), "not sealed") {
		t.Errorf("plaintext keys over http: %v", err)
	}
	for _, ok := range []string{"http://h/keys.csv.age", "https://h/keys.csv"} {
		if err := keysOverHTTPOK(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	if err := rulesOverHTTPOK("http://h/rules.txt"); err == nil {
		t.Error("rules over plain http accepted")
	}
	if err := rulesOverHTTPOK("https://h/rules.txt"); err != nil {
		t.Error(err)
	}
}

func TestJournalPlace(t *testing.T) {
	cfg := image.DefaultConfig()
	if ship, err := journalPlace(true, cfg); ship || err != nil {
		t.Fatalf("stick: %v %v", ship, err)
	}
	if _, err := journalPlace(false, cfg); err == nil || !strings.Contains(err.Error(), "no place for the undo journals") || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("network boot without log_url: %v", err)
	}
	cfg.LogURL = "https://logs.example.com/u"
	if ship, err := journalPlace(false, cfg); !ship || err != nil {
		t.Fatalf("network boot with log_url: %v %v", ship, err)
	}
}

// TestFetcherPinnedCA checks the fetcher against a TLS server: refused
// without a CA, refused with another CA, accepted with the server's, and
// that size limits and HTTP errors are reported.
func TestFetcherPinnedCA(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/unbrick.conf":
			w.Write([]byte("mode = auto\n"))
		case "/big":
			w.Write([]byte(strings.Repeat("x", 2000)))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	ctx := context.Background()

	if _, err := newFetcher(nil, "").get(ctx, srv.URL+"/unbrick.conf", "settings", 1000); err == nil || !strings.Contains(err.Error(), "trusts no CA") {
		t.Errorf("no CA: %v", err)
	}
	op := x509.NewCertPool()
	op.AddCert(selfSignedCA(t))
	if _, err := newFetcher(op, "--ca").get(ctx, srv.URL+"/unbrick.conf", "settings", 1000); err == nil || !strings.Contains(err.Error(), "does not chain to the CA --ca") {
		t.Errorf("wrong CA: %v", err)
	}
	f := newFetcher(pool, "--ca")
	data, err := f.get(ctx, srv.URL+"/unbrick.conf", "settings", 1000)
	if err != nil || string(data) != "mode = auto\n" {
		t.Fatalf("pinned: %q %v", data, err)
	}
	if _, err := f.get(ctx, srv.URL+"/big", "settings", 1000); err == nil || !strings.Contains(err.Error(), "over 1000 bytes") {
		t.Errorf("size limit: %v", err)
	}
	if _, err := f.get(ctx, srv.URL+"/nope", "settings", 1000); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("404: %v", err)
	}
	// The CA as the initramfs holds it (PEM) parses into the same trust.
	pemData := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	p2, err := image.ParseCA("ca.pem", pemData)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newFetcher(p2, "ca.pem").get(ctx, srv.URL+"/unbrick.conf", "settings", 1000); err != nil {
		t.Fatal(err)
	}
}

// selfSignedCA is a CA certificate no test server uses (httptest's
// servers all share one certificate).
func selfSignedCA(t *testing.T) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "other CA"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestReachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := reachable(context.Background(), "http://"+addr+"/x", 2*time.Second); err != nil {
		t.Fatalf("listening: %v", err)
	}
	ln.Close()
	if err := reachable(context.Background(), "http://"+addr+"/x", 2*time.Second); err == nil || !strings.Contains(err.Error(), "cannot reach") {
		t.Fatalf("closed: %v", err)
	}
}

func FuzzParseCmdline(f *testing.F) {
	f.Add(`console=ttyS0 unbrick.config=https://h/u.conf "unbrick.keys=https://h/k a" unbrick.rules="x`)
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		p := parseCmdline(s)
		for _, v := range []string{p.Config, p.Keys, p.Rules} {
			if len(v) > len(s) {
				t.Fatalf("value longer than the command line: %q", v)
			}
		}
	})
}
