package logship

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/unbrick/unbrick/internal/fleetlog"
)

// syslogReceiver reads octet-counted RFC 5424 messages, checks their form
// and keeps the record IDs; it closes a connection at EOF, as rsyslog does.
type syslogReceiver struct {
	t   *testing.T
	ln  net.Listener
	mu  sync.Mutex
	ids []string
	bad []string
}

// rfc5424 matches the header unbrick writes and captures the SD id, the
// status parameter and the message.
var rfc5424 = regexp.MustCompile(`^<(\d{1,3})>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z) (\S+) unbrick (\d+) record \[unbrick@32473 id="([0-9a-f]{32})" run="[^"]*" status="([a-z-]+)"[^\]]*\] \x{FEFF}(.*)$`)

func newSyslogReceiver(t *testing.T, cfg *tls.Config) *syslogReceiver {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if cfg != nil {
		ln = tls.NewListener(ln, cfg)
	}
	r := &syslogReceiver{t: t, ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go r.serve(c)
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return r
}

func (r *syslogReceiver) serve(c net.Conn) {
	defer c.Close()
	if tc, ok := c.(*tls.Conn); ok && tc.Handshake() != nil {
		return // a client that did not trust the certificate
	}
	br := bufio.NewReader(c)
	for {
		lenText, err := br.ReadString(' ')
		if err == io.EOF && lenText == "" {
			return
		}
		if err != nil {
			r.fail("frame length: %v", err)
			return
		}
		n, err := strconv.Atoi(lenText[:len(lenText)-1])
		if err != nil || n <= 0 || n > 1<<20 {
			r.fail("frame length %q", lenText)
			return
		}
		msg := make([]byte, n)
		if _, err := io.ReadFull(br, msg); err != nil {
			r.fail("message: %v", err)
			return
		}
		m := rfc5424.FindSubmatch(msg)
		if m == nil {
			r.fail("not the RFC 5424 form: %q", msg)
			continue
		}
		var rec fleetlog.Record
		if err := json.Unmarshal(m[7], &rec); err != nil || rec.RecordID != string(m[5]) || string(rec.Status) != string(m[6]) {
			r.fail("message body does not match its structured data: %q", msg)
			continue
		}
		pri, _ := strconv.Atoi(string(m[1]))
		if pri/8 != 16 || (rec.Status == fleetlog.StatusRemediated && pri%8 != 5) {
			r.fail("PRI %d for %s", pri, rec.Status)
		}
		r.mu.Lock()
		r.ids = append(r.ids, rec.RecordID)
		r.mu.Unlock()
	}
}

func (r *syslogReceiver) fail(f string, a ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bad = append(r.bad, fmt.Sprintf(f, a...))
}

func (r *syslogReceiver) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.bad) > 0 {
		r.t.Errorf("receiver: %v", r.bad)
	}
	return append([]string(nil), r.ids...)
}

func TestSyslogTCP(t *testing.T) {
	dir := t.TempDir()
	want := logRecords(t, dir, "run-1", 700)
	r := newSyslogReceiver(t, nil)
	sink, err := NewSyslogSink("tcp://"+r.ln.Addr().String(), nil, "")
	if err != nil {
		t.Fatal(err)
	}
	s, _ := Start(fast(dir, sink))
	res := s.Close(10 * time.Second)
	if res[0].Pending != 0 || res[0].Sent != 700 {
		t.Fatalf("result %+v", res[0])
	}
	sameOnce(t, r.got(), want)
}

func TestSyslogTLSPinned(t *testing.T) {
	dir := t.TempDir()
	want := logRecords(t, dir, "run-1", 5)
	cert := selfSigned(t, "127.0.0.1")
	r := newSyslogReceiver(t, &tls.Config{Certificates: []tls.Certificate{cert}})
	addr := "tls://" + r.ln.Addr().String()
	sink, _ := NewSyslogSink(addr, nil, "")
	s, _ := Start(fast(dir, sink))
	if res := s.Close(2 * time.Second); res[0].Pending != 5 || res[0].Err == nil {
		t.Fatalf("untrusted TLS receiver: %+v", res[0])
	}

	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	sink, _ = NewSyslogSink(addr, pool, "ca.pem")
	s, _ = Start(fast(dir, sink))
	if res := s.Close(10 * time.Second); res[0].Pending != 0 {
		t.Fatalf("pinned: %+v", res[0])
	}
	sameOnce(t, r.got(), want)
}

func TestSyslogMessageEscapes(t *testing.T) {
	s := &SyslogSink{hostname: "rescue-1", pid: 42}
	msg := string(s.message(Line{ID: "ab", RunID: "r", Status: "failed", Host: `PC"1]\x`, JSON: []byte(`{}`),
		Time: time.Date(2024, 7, 19, 4, 9, 0, 123456789, time.UTC)}))
	want := `<131>1 2024-07-19T04:09:00.123456Z rescue-1 unbrick 42 record [unbrick@32473 id="ab" run="r" status="failed" computer="PC\"1\]\\x"] ` + "\ufeff{}"
	if msg != want {
		t.Errorf("message\n got %q\nwant %q", msg, want)
	}
}

// selfSigned makes a certificate for host (an IP or a name) that is its
// own CA.
func selfSigned(t *testing.T, host string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	if ip := net.ParseIP(host); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{host}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}
