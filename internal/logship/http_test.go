package logship

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/unbrick/unbrick/internal/fleetlog"
)

func TestHTTPDeliversOnceInOrder(t *testing.T) {
	dir := t.TempDir()
	want := logRecords(t, dir, "run-1", 1200) // more than two batches
	c := &collector{}
	srv := httptest.NewServer(c)
	defer srv.Close()
	sink, err := NewHTTPSink(srv.URL+"/ingest", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Start(fast(dir, sink))
	if err != nil {
		t.Fatal(err)
	}
	s.Notify()
	res := s.Close(10 * time.Second)
	if res[0].Sent != 1200 || res[0].Pending != 0 || res[0].Err != nil {
		t.Fatalf("result %+v", res[0])
	}
	sameOnce(t, c.got(), want)
	if c.requests < 3 {
		t.Errorf("%d requests for 1200 records: batches of at most %d expected", c.requests, MaxBatch)
	}
	cur := readCursor(t, dir, sink)
	if cur.LastID != want[len(want)-1] || cur.Sent != 1200 {
		t.Errorf("cursor %+v", cur)
	}
	// A later run sends only what it adds.
	more := logRecords(t, dir, "run-2", 3)
	s, err = Start(fast(dir, sink))
	if err != nil {
		t.Fatal(err)
	}
	s.Notify()
	res = s.Close(10 * time.Second)
	if res[0].Sent != 3 {
		t.Fatalf("second run sent %d, want 3", res[0].Sent)
	}
	sameOnce(t, c.got(), append(want, more...))
}

// The receiver is stopped while records are logged and comes back on the
// same address: every record arrives once, in order.
func TestHTTPReceiverDownThenBack(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := &collector{}
	stop := serveOn(t, addr, c)
	sink, err := NewHTTPSink("http://"+addr+"/", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var states []string
	o := fast(dir, sink)
	o.OnState = func(_ string, err error) {
		mu.Lock()
		defer mu.Unlock()
		states = append(states, map[bool]string{true: "down", false: "up"}[err != nil])
	}
	s, err := Start(o)
	if err != nil {
		t.Fatal(err)
	}
	want := logRecords(t, dir, "run-1", 5)
	s.Notify()
	waitFor(t, func() bool { return len(c.got()) == 5 })
	stop()
	want = append(want, logRecords(t, dir, "run-1b", 7)...)
	s.Notify()
	time.Sleep(300 * time.Millisecond) // several failed attempts
	if n := len(c.got()); n != 5 {
		t.Fatalf("%d records delivered while the receiver was stopped", n)
	}
	stop = serveOn(t, addr, c)
	defer stop()
	res := s.Close(10 * time.Second)
	if res[0].Pending != 0 || res[0].Sent != 12 {
		t.Fatalf("result %+v", res[0])
	}
	sameOnce(t, c.got(), want)
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(states, ",") != "down,up" {
		t.Errorf("state changes %v, want down,up", states)
	}
}

// With the receiver down for the whole run, the records wait in the spool
// and a later run delivers them.
func TestHTTPSpoolAcrossRuns(t *testing.T) {
	dir := t.TempDir()
	c := &collector{answer: func(int, int) int { return http.StatusServiceUnavailable }}
	srv := httptest.NewServer(c)
	defer srv.Close()
	sink, _ := NewHTTPSink(srv.URL, nil, "")
	want := logRecords(t, dir, "run-1", 4)
	s, err := Start(fast(dir, sink))
	if err != nil {
		t.Fatal(err)
	}
	res := s.Close(300 * time.Millisecond)
	if res[0].Pending != 4 || res[0].Sent != 0 || res[0].Err == nil || !strings.Contains(res[0].Err.Error(), "503") {
		t.Fatalf("result with the receiver down: %+v", res[0])
	}
	c.mu.Lock()
	c.answer = nil
	c.mu.Unlock()
	s, err = Start(fast(dir, sink))
	if err != nil {
		t.Fatal(err)
	}
	res = s.Close(10 * time.Second)
	if res[0].Pending != 0 || res[0].Sent != 4 {
		t.Fatalf("result once back: %+v", res[0])
	}
	sameOnce(t, c.got(), want)
}

func TestHTTPRejectedIsNotRetried(t *testing.T) {
	dir := t.TempDir()
	c := &collector{answer: func(int, int) int { return http.StatusForbidden }}
	srv := httptest.NewServer(c)
	defer srv.Close()
	sink, _ := NewHTTPSink(srv.URL, nil, "")
	logRecords(t, dir, "run-1", 2)
	s, err := Start(fast(dir, sink))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	res := s.Close(time.Second)
	if !errors.Is(res[0].Err, ErrRejected) || res[0].Pending != 2 {
		t.Fatalf("result %+v", res[0])
	}
	if c.requests != 1 {
		t.Errorf("%d requests after a 403, want 1", c.requests)
	}
}

func TestHTTPTooLargeHalvesBatch(t *testing.T) {
	dir := t.TempDir()
	c := &collector{answer: func(_ int, n int) int {
		if n > 3 {
			return http.StatusRequestEntityTooLarge
		}
		return 0
	}}
	srv := httptest.NewServer(c)
	defer srv.Close()
	sink, _ := NewHTTPSink(srv.URL, nil, "")
	want := logRecords(t, dir, "run-1", 20)
	s, _ := Start(fast(dir, sink))
	res := s.Close(10 * time.Second)
	if res[0].Pending != 0 {
		t.Fatalf("result %+v", res[0])
	}
	sameOnce(t, c.got(), want)
}

func TestHTTPSPinnedCA(t *testing.T) {
	dir := t.TempDir()
	want := logRecords(t, dir, "run-1", 3)
	c := &collector{}
	srv := httptest.NewUnstartedServer(c)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes below
	srv.StartTLS()
	defer srv.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	// Not pinned: the test server's certificate is not trusted by the system.
	sink, _ := NewHTTPSink(srv.URL, nil, "")
	s, _ := Start(fast(dir, sink))
	res := s.Close(2 * time.Second)
	if !errors.Is(res[0].Err, ErrRejected) || !strings.Contains(res[0].Err.Error(), "--log-ca") || res[0].Pending != 3 {
		t.Fatalf("untrusted server: %+v", res[0])
	}
	// A pool with another CA is refused too.
	other := x509.NewCertPool()
	other.AddCert(selfSigned(t, "other CA").Leaf)
	sink, _ = NewHTTPSink(srv.URL, other, "other.pem")
	s, _ = Start(fast(dir, sink))
	if res = s.Close(2 * time.Second); !errors.Is(res[0].Err, ErrRejected) || !strings.Contains(res[0].Err.Error(), "other.pem") {
		t.Fatalf("wrong pinned CA: %+v", res[0])
	}
	pool, err := LoadCA(caFile)
	if err != nil {
		t.Fatal(err)
	}
	sink, _ = NewHTTPSink(srv.URL, pool, caFile)
	s, _ = Start(fast(dir, sink))
	if res = s.Close(10 * time.Second); res[0].Pending != 0 {
		t.Fatalf("pinned CA: %+v", res[0])
	}
	sameOnce(t, c.got(), want)
}

func TestBadSinks(t *testing.T) {
	pool := x509.NewCertPool()
	for _, tc := range []struct{ url, want string }{
		{"ftp://x/", "want https://"},
		{"https://", "want https://"},
		{"https://user:hunter2@%zz", "(unparsable URL)"},
	} {
		_, err := NewHTTPSink(tc.url, nil, "")
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: %v", tc.url, err)
		}
	}
	if _, err := NewHTTPSink("http://collector:8080/", pool, "ca.pem"); err == nil {
		t.Errorf("a pinned CA with http:// was accepted")
	}
	for _, u := range []string{"udp://h:514", "tcp://", "tcp://h/x", "tcp://u:p@h"} {
		if _, err := NewSyslogSink(u, nil, ""); err == nil {
			t.Errorf("%s accepted", u)
		}
	}
	s, err := NewHTTPSink("https://user:hunter2@collector.example/in", nil, "")
	if err != nil || strings.Contains(s.String(), "hunter2") || strings.Contains(s.Key(), "hunter2") {
		t.Errorf("credentials shown: %v %s %s", err, s, s.Key())
	}
	if _, err := LoadCA(filepath.Join(t.TempDir(), "none.pem")); err == nil {
		t.Errorf("a missing CA file was accepted")
	}
	junk := filepath.Join(t.TempDir(), "junk.pem")
	os.WriteFile(junk, []byte("not a certificate"), 0o644)
	if _, err := LoadCA(junk); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("junk CA file: %v", err)
	}
}

// A recovery password that reached a log line by another way than
// fleetlog (hand-edited, an old version) is scrubbed before it leaves.
func TestSecretsScrubbedInTransit(t *testing.T) {
	dir := t.TempDir()
	logRecords(t, dir, "run-1", 1)
	f, err := os.OpenFile(filepath.Join(dir, fleetlog.JSONLName), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"run_id":"old","target":"/dev/sda","partition":3,"status":"failed","error":"key 284867-596541-514998-422114-660297-261613-215424-199408 did not fit"}` + "\n")
	f.Close()
	c := &collector{}
	srv := httptest.NewServer(c)
	defer srv.Close()
	sink, _ := NewHTTPSink(srv.URL, nil, "")
	s, _ := Start(fast(dir, sink))
	if res := s.Close(10 * time.Second); res[0].Sent != 2 {
		t.Fatalf("result %+v", res[0])
	}
	for _, b := range c.bodies {
		if strings.Contains(string(b), "284867") {
			t.Fatalf("a recovery password was sent: %s", b)
		}
	}
	if got := c.got(); got[1] == "" {
		t.Errorf("a record without record_id was sent without one")
	}
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	for range 500 {
		if ok() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("timed out")
}
