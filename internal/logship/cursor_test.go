package logship

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/unbrick/unbrick/internal/fleetlog"
)

// A torn line (a power cut during an append) is skipped; a last line
// still being written is left until it is complete.
func TestTornAndPartialLines(t *testing.T) {
	dir := t.TempDir()
	want := logRecords(t, dir, "run-1", 2)
	path := filepath.Join(dir, fleetlog.JSONLName)
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"run_id":"x","sta` + "\n")
	f.Close()
	want = append(want, logRecords(t, dir, "run-2", 1)...)
	data, _ := os.ReadFile(path)
	last := data[len(data)-40:]
	os.WriteFile(path, data[:len(data)-40], 0o644) // the last record half written
	c := &collector{}
	srv := httptest.NewServer(c)
	defer srv.Close()
	sink, _ := NewHTTPSink(srv.URL, nil, "")
	s, _ := Start(fast(dir, sink))
	res := s.Close(5 * time.Second)
	if res[0].Sent != 2 || res[0].Skipped != 1 || res[0].Pending != 0 {
		t.Fatalf("result %+v", res[0])
	}
	// Another run passes the damaged line without counting it again.
	s, _ = Start(fast(dir, sink))
	if res = s.Close(5 * time.Second); res[0].Sent != 0 || res[0].Skipped != 0 || res[0].Resent {
		t.Fatalf("second pass over a damaged line: %+v", res[0])
	}
	f, _ = os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.Write(last) // the append completes
	f.Close()
	s, _ = Start(fast(dir, sink))
	if res = s.Close(5 * time.Second); res[0].Sent != 1 {
		t.Fatalf("after the line was completed: %+v", res[0])
	}
	sameOnce(t, c.got(), want)
}

// A log replaced under the cursor: sending resumes after the cursor's
// last record where it is found, else from the start (Resent).
func TestCursorResync(t *testing.T) {
	dir := t.TempDir()
	c := &collector{}
	srv := httptest.NewServer(c)
	defer srv.Close()
	sink, _ := NewHTTPSink(srv.URL, nil, "")
	first := logRecords(t, dir, "run-1", 3)
	s, _ := Start(fast(dir, sink))
	s.Close(5 * time.Second)
	path := filepath.Join(dir, fleetlog.JSONLName)
	data, _ := os.ReadFile(path)
	// An editor removed a blank-free prefix line and added one in front:
	// offsets moved, the last sent record is still there.
	os.WriteFile(path, append([]byte("\n\n\n"), data...), 0o644)
	more := logRecords(t, dir, "run-2", 2)
	s, _ = Start(fast(dir, sink))
	if res := s.Close(5 * time.Second); res[0].Sent != 2 || res[0].Resent {
		t.Fatalf("moved log: %+v", res[0])
	}
	sameOnce(t, c.got(), append(first, more...))
	// A new log in its place: everything is sent again.
	os.Remove(path)
	fresh := logRecords(t, dir, "run-3", 2)
	s, _ = Start(fast(dir, sink))
	if res := s.Close(5 * time.Second); res[0].Sent != 2 || !res[0].Resent {
		t.Fatalf("new log: %+v", res[0])
	}
	sameOnce(t, c.got(), append(append(first, more...), fresh...))
}

// Two processes' shippers on one log and one sink (here: two Shippers,
// each with its own lock descriptor): every record once.
func TestTwoShippersOneSink(t *testing.T) {
	dir := t.TempDir()
	c := &collector{}
	srv := httptest.NewServer(c)
	defer srv.Close()
	sink, _ := NewHTTPSink(srv.URL, nil, "")
	a, _ := Start(fast(dir, sink))
	b, _ := Start(fast(dir, sink))
	var wg sync.WaitGroup
	var ids [2][]string
	for i, s := range []*Shipper{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 10 {
				ids[i] = append(ids[i], logRecords(t, dir, "run-"+string(rune('a'+i))+string(rune('0'+k)), 5)...)
				s.Notify()
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	a.Close(5 * time.Second)
	b.Close(5 * time.Second)
	got := c.got()
	seen := map[string]int{}
	for _, id := range got {
		seen[id]++
	}
	for _, id := range append(ids[0], ids[1]...) {
		if seen[id] != 1 {
			t.Fatalf("record %s arrived %d times", id, seen[id])
		}
	}
	if len(got) != 100 {
		t.Fatalf("%d records arrived, want 100", len(got))
	}
}

func FuzzParseLine(f *testing.F) {
	f.Add([]byte(`{"run_id":"r","status":"remediated","target":"/dev/sda","partition":3}`))
	f.Add([]byte(`{"record_id":"00","run_id":"r","status":"failed"}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, ok := parseLine(b)
		if ok && (l.ID == "" || len(l.JSON) == 0) {
			t.Fatalf("record without ID or JSON: %q", b)
		}
	})
}
