package logship

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/unbrick/unbrick/internal/fleetlog"
)

// logRecords appends n records of a new run to dir's fleet log and
// returns their IDs in order.
func logRecords(t *testing.T, dir string, run string, n int) []string {
	t.Helper()
	l, err := fleetlog.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range n {
		r := &fleetlog.Record{RunID: run, Target: fmt.Sprintf("/vms/vm%04d.qcow2", i), Partition: 3, VolumeID: fmt.Sprintf("VOL-%d", i),
			Host: fleetlog.Host{ComputerName: fmt.Sprintf("PC%d", i)}, Status: fleetlog.StatusRemediated, ToolVersion: "test",
			Time: time.Date(2024, 7, 19, 6, 0, i, 0, time.UTC)}
		if err := l.Append(r); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.RecordID)
	}
	return ids
}

// collector is a JSON Lines receiver: it keeps every record_id it gets,
// in order, and can answer with a status instead.
type collector struct {
	mu       sync.Mutex
	ids      []string
	bodies   [][]byte
	requests int
	// answer, when set, picks the HTTP status for a request (0: accept).
	answer func(req int, records int) int
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests++
	n := bytes.Count(body, []byte("\n"))
	if c.answer != nil {
		if code := c.answer(c.requests, n); code != 0 {
			w.WriteHeader(code)
			return
		}
	}
	if r.Header.Get("Content-Type") != "application/x-ndjson" || r.Header.Get("X-Unbrick-Records") != fmt.Sprint(n) {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 8<<20)
	for sc.Scan() {
		var rec fleetlog.Record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		c.ids = append(c.ids, rec.RecordID)
	}
	c.bodies = append(c.bodies, body)
}

func (c *collector) got() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.ids...)
}

// sameOnce checks that got is want, each once, in order.
func sameOnce(t *testing.T, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("receiver got %d records, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("record %d: got %s, want %s (order or repeats)", i, got[i], want[i])
		}
	}
}

// serveOn serves h on addr until the returned stop is called.
func serveOn(t *testing.T, addr string, h http.Handler) (stop func()) {
	t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the port of a stopped server may take a moment
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	return func() { srv.Close() }
}

func fast(dir string, sinks ...Sink) Options {
	return Options{Dir: dir, Sinks: sinks, Interval: 20 * time.Millisecond, MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}
}

func readCursor(t *testing.T, dir string, s Sink) cursor {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, SpoolDir, s.Key()+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var c cursor
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	return c
}
