package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/unbrick/unbrick/internal/fleetlog"
	"github.com/unbrick/unbrick/internal/testcorpus"
)

// jsonlReceiver keeps the record IDs it is sent.
type jsonlReceiver struct {
	mu  sync.Mutex
	ids []string
}

func (r *jsonlReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 8<<20)
	for sc.Scan() {
		var rec fleetlog.Record
		if json.Unmarshal(sc.Bytes(), &rec) == nil {
			r.ids = append(r.ids, rec.RecordID)
		}
	}
}

// fix --log-url sends every record of the run once; a receiver that is
// down leaves them in the spool for `unbrick ship`.
func TestFixShipsRecords(t *testing.T) {
	dir := t.TempDir()
	a := testcorpus.Disk(t, "win10-mbr-plain")
	b := filepath.Join(dir, "b.img")
	data, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(b, data, 0o644)
	rx := &jsonlReceiver{}
	srv := httptest.NewServer(rx)
	defer srv.Close()
	logs := filepath.Join(dir, "logs")
	code, out, errs := runCLI(t, "fix", "--log", logs, "--log-url", srv.URL+"/in", a, b)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	recs := readRecords(t, logs)
	if len(recs) != 2 || len(rx.ids) != 2 || rx.ids[0] != recs[0].RecordID || rx.ids[1] != recs[1].RecordID {
		t.Fatalf("records %d, received %v\n%s", len(recs), rx.ids, errs)
	}
	if !strings.Contains(errs, "2 record(s) delivered") {
		t.Errorf("no delivery summary:\n%s", errs)
	}

	// Down: the next run's records wait; ship delivers them.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	down := "http://" + ln.Addr().String() + "/in"
	ln.Close()
	code, out, errs = runCLI(t, "fix", "--log", logs, "--log-url", down, "--log-wait", "300ms", a)
	if code != 0 || !strings.Contains(errs, "NOT delivered") || !strings.Contains(errs, "unbrick ship --log "+logs) {
		t.Fatalf("receiver down: exit %d\n%s\n%s", code, out, errs)
	}
	// That receiver never saw the first two records either: all three wait.
	if code, out, _ := runCLI(t, "ship", "--log", logs, "--log-url", down, "--log-wait", "200ms"); code != 1 || !strings.Contains(out, "3 record(s) NOT delivered") {
		t.Fatalf("ship to a receiver that is down: exit %d\n%s", code, out)
	}
	if code, out, _ := runCLI(t, "ship", "--log", logs, "--log-url", srv.URL+"/in"); code != 0 || !strings.Contains(out, "1 record(s) delivered") {
		t.Fatalf("ship: exit %d\n%s", code, out)
	}
	if len(rx.ids) != 3 {
		t.Fatalf("receiver has %d records, want 3", len(rx.ids))
	}
}

// Bad log shipping flags are usage errors found before any disk is
// opened: nothing is written, not even the log directory.
func TestShipFlagsUsage(t *testing.T) {
	dir := t.TempDir()
	img := testcorpus.Disk(t, "win10-mbr-plain")
	sum := sha256File(t, img)
	logs := filepath.Join(dir, "logs")
	for _, args := range [][]string{
		{"fix", "--log", logs, "--log-url", "ftp://collector/", img},
		{"fix", "--log", logs, "--syslog", "udp://collector:514", img},
		{"fix", "--log", logs, "--log-ca", filepath.Join(dir, "missing.pem"), "--log-url", "https://c/", img},
		{"fix", "--log", logs, "--log-ca", "ca.pem", img},
		{"ship", "--log", logs},
		{"ship", "--log", logs, "--log-url", "https://user:hunter2@%zz"},
	} {
		code, _, errs := runCLI(t, args...)
		if code != 2 || strings.Contains(errs, "hunter2") {
			t.Errorf("%v: exit %d, want 2\n%s", args, code, errs)
		}
	}
	if _, err := os.Stat(logs); err == nil {
		t.Error("a usage error created the log directory")
	}
	if sha256File(t, img) != sum {
		t.Error("a usage error wrote the disk")
	}
}
