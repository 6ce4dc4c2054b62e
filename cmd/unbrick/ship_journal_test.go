package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/unbrick/unbrick/internal/fleetlog"
	"github.com/unbrick/unbrick/internal/logship"
	"github.com/unbrick/unbrick/internal/testcorpus"
	"github.com/unbrick/unbrick/internal/undo"
)

// journalReceiver takes fleet log records and undo journals, as
// scripts/logship/receiver.py does: journals are kept by name after their
// SHA-256 header is checked.
type journalReceiver struct {
	jsonlReceiver
	jmu      sync.Mutex
	journals map[string][]byte
	posts    int
}

func (r *journalReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Header.Get("Content-Type") != logship.JournalContentType {
		r.jsonlReceiver.ServeHTTP(w, req)
		return
	}
	body, _ := io.ReadAll(req.Body)
	sum := sha256.Sum256(body)
	name := req.Header.Get("X-Unbrick-Journal")
	if req.Header.Get("X-Unbrick-SHA256") != hex.EncodeToString(sum[:]) || logship.ValidJournalName(name) != nil {
		http.Error(w, "bad journal", http.StatusBadRequest)
		return
	}
	r.jmu.Lock()
	defer r.jmu.Unlock()
	r.journals[name] = body
	r.posts++
}

func (r *journalReceiver) journal(name string) ([]byte, int) {
	r.jmu.Lock()
	defer r.jmu.Unlock()
	return r.journals[name], r.posts
}

// A real fix writes a journal; ship --journal delivers it byte for byte,
// undo accepts the received copy, a second ship sends nothing, and once
// undo appends its marker the journal goes again.
func TestShipJournals(t *testing.T) {
	dir := t.TempDir()
	img := testcorpus.Disk(t, "win10-mbr-plain")
	logs := filepath.Join(dir, "logs")
	jdir := filepath.Join(dir, "journal")
	code, out, errs := runCLI(t, "fix", "--log", logs, "--journal", jdir, img)
	if code != 0 {
		t.Fatalf("fix: exit %d\n%s\n%s", code, out, errs)
	}
	recs := readRecords(t, logs)
	if len(recs) != 1 || recs[0].Status != fleetlog.StatusRemediated || recs[0].JournalFile == "" {
		t.Fatalf("records %+v", recs)
	}
	jpath := recs[0].JournalFile
	name := filepath.Base(jpath)
	os.WriteFile(filepath.Join(jdir, "README.txt"), []byte("not a journal"), 0o644)

	rx := &journalReceiver{journals: map[string][]byte{}}
	srv := httptest.NewServer(rx)
	defer srv.Close()
	code, out, errs = runCLI(t, "ship", "--log", logs, "--log-url", srv.URL+"/in", "--journal", jdir)
	if code != 0 || !strings.Contains(out, "1 record(s) delivered") || !strings.Contains(out, "1 journal(s) sent, 0 already there, 0 not delivered") ||
		!strings.Contains(errs, "README.txt skipped: not an unbrick undo journal") {
		t.Fatalf("ship: exit %d\n%s\n%s", code, out, errs)
	}
	want, err := os.ReadFile(jpath)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := rx.journal(name)
	if !bytes.Equal(got, want) {
		t.Fatalf("received %d bytes, the journal has %d (or they differ)", len(got), len(want))
	}
	// The received copy is a journal undo reads and would restore.
	copyPath := filepath.Join(dir, "received", name)
	os.MkdirAll(filepath.Dir(copyPath), 0o755)
	if err := os.WriteFile(copyPath, got, 0o644); err != nil {
		t.Fatal(err)
	}
	j, err := undo.ReadFile(copyPath)
	if err != nil || !j.Complete || len(j.Records) == 0 {
		t.Fatalf("received journal: %v", err)
	}
	code, out, errs = runCLI(t, "undo", "--check", "--journal", copyPath, img)
	if code != 0 || !strings.Contains(out, "check passed") {
		t.Fatalf("undo --check with the received journal: exit %d\n%s\n%s", code, out, errs)
	}

	// Nothing changed: nothing is sent.
	code, out, _ = runCLI(t, "ship", "--log", logs, "--log-url", srv.URL+"/in", "--journal", jdir)
	if _, posts := rx.journal(name); code != 0 || posts != 1 || !strings.Contains(out, "0 journal(s) sent, 1 already there, 0 not delivered") {
		t.Fatalf("second ship: exit %d, %d journal posts\n%s", code, posts, out)
	}

	// undo appends its marker: the changed journal goes again.
	code, out, errs = runCLI(t, "undo", "--journal", jpath, "--log", logs, img)
	if code != 0 {
		t.Fatalf("undo: exit %d\n%s\n%s", code, out, errs)
	}
	code, out, _ = runCLI(t, "ship", "--log", logs, "--log-url", srv.URL+"/in", "--journal", jdir)
	want, _ = os.ReadFile(jpath)
	got, posts := rx.journal(name)
	if code != 0 || posts != 2 || !bytes.Equal(got, want) || !strings.Contains(out, "1 journal(s) sent, 0 already there") {
		t.Fatalf("ship after undo: exit %d, %d posts\n%s", code, posts, out)
	}
	if j, err := undo.ReadFile(copyPath); err != nil || j.Undone {
		t.Fatal("the old copy changed")
	}
	os.WriteFile(copyPath, got, 0o644)
	if j, err := undo.ReadFile(copyPath); err != nil || !j.Undone {
		t.Fatalf("the copy received after undo is not undone: %v", err)
	}

	// A receiver that does not take journals: exit 1, with advice.
	no := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Header.Get("Content-Type") == logship.JournalContentType {
			http.Error(w, "no", http.StatusUnsupportedMediaType)
		}
	}))
	defer no.Close()
	code, out, _ = runCLI(t, "ship", "--log", logs, "--log-url", "http://u:hunter2@"+strings.TrimPrefix(no.URL, "http://"), "--journal", jdir)
	if code != 1 || !strings.Contains(out, "1 not delivered") || !strings.Contains(out, "does not take undo journals") ||
		!strings.Contains(out, "unbrick ship --log "+logs+" --journal "+jdir) || strings.Contains(out, "hunter2") {
		t.Fatalf("ship to a receiver without journals: exit %d\n%s", code, out)
	}
}

// --journal without an HTTP receiver is a usage error.
func TestShipJournalsUsage(t *testing.T) {
	dir := t.TempDir()
	code, _, errs := runCLI(t, "ship", "--log", dir, "--syslog", "tcp://127.0.0.1:1", "--journal", dir)
	if code != 2 || !strings.Contains(errs, "journals go only to an HTTP receiver") {
		t.Fatalf("exit %d\n%s", code, errs)
	}
}
