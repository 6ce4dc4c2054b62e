package logship

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/unbrick/unbrick/internal/undo"
)

// journalRx is a journal receiver: it checks the headers as a real one
// should and keeps each journal by name.
type journalRx struct {
	mu       sync.Mutex
	files    map[string][]byte
	requests int
	posts    map[string]int // name -> POSTs that were stored
	// answer, when set, picks the status of request n (0: go on).
	answer func(n int) int
	// corrupt, when set, flips a byte of the body of request n before
	// the check (damage in transit).
	corrupt func(n int) bool
	delay   time.Duration
}

func newJournalRx() *journalRx {
	return &journalRx{files: map[string][]byte{}, posts: map[string]int{}}
}

func (x *journalRx) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	time.Sleep(x.delay)
	x.mu.Lock()
	defer x.mu.Unlock()
	x.requests++
	n := x.requests
	if x.answer != nil {
		if code := x.answer(n); code != 0 {
			http.Error(w, "answer", code)
			return
		}
	}
	if x.corrupt != nil && x.corrupt(n) && len(body) > 0 {
		body[len(body)-1] ^= 0xff
	}
	name := r.Header.Get("X-Unbrick-Journal")
	sum := sha256.Sum256(body)
	hexSum := hex.EncodeToString(sum[:])
	switch {
	case r.Header.Get("Content-Type") != JournalContentType:
		http.Error(w, "not a journal", http.StatusUnsupportedMediaType)
	case name == "" || strings.ContainsAny(name, "/\\") || name == "..":
		http.Error(w, "bad name", http.StatusBadRequest)
	case r.Header.Get("X-Unbrick-SHA256") != hexSum || r.Header.Get("Digest") != "sha-256="+base64.StdEncoding.EncodeToString(sum[:]):
		http.Error(w, "sha-256 mismatch", http.StatusBadRequest)
	case r.Header.Get("Idempotency-Key") != journalKey(name, hexSum) || r.ContentLength != int64(len(body)):
		http.Error(w, "bad headers", http.StatusBadRequest)
	default:
		x.files[name] = body
		x.posts[name]++
	}
}

func (x *journalRx) get(name string) ([]byte, int, int) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.files[name], x.posts[name], x.requests
}

// fakeJournal is a file that starts like an undo journal.
func fakeJournal(t *testing.T, path string, fill byte, n int) []byte {
	t.Helper()
	b := append([]byte(undo.Magic), undo.Version, 0, 0, 0)
	b = append(b, bytes.Repeat([]byte{fill}, n)...)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

func journalOpts(t *testing.T, logDir, jdir, url string) JournalOptions {
	t.Helper()
	s, err := NewHTTPSink(url, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	return JournalOptions{Dir: logDir, JournalDir: jdir, Sink: s, Wait: 2 * time.Second, MinBackoff: 20 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}
}

func mustSend(t *testing.T, o JournalOptions) JournalResult {
	t.Helper()
	res, err := SendJournals(o)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// Each journal is delivered once, across runs; other files are skipped
// and reported; a journal that gets a marker appended is sent again.
func TestJournalsDeliveredOnceAcrossRuns(t *testing.T) {
	dir := t.TempDir()
	jdir := filepath.Join(dir, "journal")
	os.MkdirAll(filepath.Join(jdir, "sub"), 0o755)
	a := fakeJournal(t, filepath.Join(jdir, "run1-volA.journal"), 'a', 5000)
	b := fakeJournal(t, filepath.Join(jdir, "run1-volB.journal"), 'b', 70)
	os.WriteFile(filepath.Join(jdir, "notes.txt"), []byte("UNBRKJN"), 0o644) // a magic prefix is not a journal
	os.WriteFile(filepath.Join(jdir, "v9.journal"), append([]byte(undo.Magic), 9, 0, 0, 0), 0o644)
	rx := newJournalRx()
	srv := httptest.NewServer(rx)
	defer srv.Close()
	o := journalOpts(t, filepath.Join(dir, "logs"), jdir, "http://user:hunter2@"+strings.TrimPrefix(srv.URL, "http://")+"/in")

	res := mustSend(t, o)
	if res.Sent != 2 || res.Already != 0 || len(res.Failed) != 0 || len(res.Skipped) != 3 {
		t.Fatalf("first run: %+v", res)
	}
	if got, _, _ := rx.get("run1-volA.journal"); !bytes.Equal(got, a) {
		t.Fatal("journal A arrived changed")
	}
	if got, _, _ := rx.get("run1-volB.journal"); !bytes.Equal(got, b) {
		t.Fatal("journal B arrived changed")
	}
	if strings.Contains(res.String(), "hunter2") || res.String() != res.Sink+": 2 journal(s) sent, 0 already there, 0 not delivered" {
		t.Fatalf("summary %q", res.String())
	}
	rec, err := os.ReadFile(res.Record)
	if err != nil || !strings.HasSuffix(res.Record, ".journals.json") || filepath.Dir(res.Record) != filepath.Join(dir, "logs", SpoolDir) ||
		strings.Contains(string(rec), "hunter2") {
		t.Fatalf("record %s: %v\n%s", res.Record, err, rec)
	}

	// A second run (a new process would read the same record) sends nothing.
	_, _, before := rx.get("")
	res = mustSend(t, o)
	if _, _, after := rx.get(""); res.Sent != 0 || res.Already != 2 || len(res.Failed) != 0 || after != before {
		t.Fatalf("second run: %+v, %d requests after %d", res, after, before)
	}

	// Undone: a marker is appended; only that journal goes again.
	f, _ := os.OpenFile(filepath.Join(jdir, "run1-volA.journal"), os.O_APPEND|os.O_WRONLY, 0)
	f.Write(bytes.Repeat([]byte{'U'}, 38))
	f.Close()
	res = mustSend(t, o)
	got, posts, _ := rx.get("run1-volA.journal")
	if res.Sent != 1 || res.Already != 1 || posts != 2 || !bytes.Equal(got, append(a, bytes.Repeat([]byte{'U'}, 38)...)) {
		t.Fatalf("after a change: %+v, %d posts", res, posts)
	}
	if _, posts, _ := rx.get("run1-volB.journal"); posts != 1 {
		t.Fatalf("unchanged journal B sent %d times", posts)
	}
	loaded, err := loadJournals(res.Record)
	sum := sha256.Sum256(got)
	if err != nil || loaded["run1-volA.journal"].SHA256 != hex.EncodeToString(sum[:]) || loaded["run1-volA.journal"].Size != int64(len(got)) {
		t.Fatalf("record after the change: %+v, %v", loaded, err)
	}
}

// 415: the receiver does not take journals; nothing is retried or
// recorded, and the message says what to do.
func TestJournals415Rejected(t *testing.T) {
	dir := t.TempDir()
	jdir := filepath.Join(dir, "journal")
	os.MkdirAll(jdir, 0o755)
	fakeJournal(t, filepath.Join(jdir, "a.journal"), 'a', 10)
	fakeJournal(t, filepath.Join(jdir, "b.journal"), 'b', 10)
	rx := newJournalRx()
	rx.answer = func(int) int { return http.StatusUnsupportedMediaType }
	srv := httptest.NewServer(rx)
	defer srv.Close()
	res := mustSend(t, journalOpts(t, filepath.Join(dir, "logs"), jdir, srv.URL))
	if _, _, n := rx.get(""); n != 1 || res.Sent != 0 || len(res.Failed) != 2 {
		t.Fatalf("%d requests, %+v", n, res)
	}
	for _, p := range res.Failed {
		if !errors.Is(p.Err, ErrRejected) || !strings.Contains(p.Err.Error(), "does not take undo journals: give a receiver that does, or keep the journal on a disk") {
			t.Errorf("%s: %v", p.Path, p.Err)
		}
	}
	if m, err := loadJournals(res.Record); err != nil || len(m) != 0 {
		t.Fatalf("rejected journals recorded: %v %v", m, err)
	}
}

// 503 is retried with backoff; the second answer delivers.
func TestJournals503ThenDelivered(t *testing.T) {
	dir := t.TempDir()
	jdir := filepath.Join(dir, "journal")
	os.MkdirAll(jdir, 0o755)
	want := fakeJournal(t, filepath.Join(jdir, "a.journal"), 'a', 100)
	rx := newJournalRx()
	rx.answer = func(n int) int {
		if n == 1 {
			return http.StatusServiceUnavailable
		}
		return 0
	}
	srv := httptest.NewServer(rx)
	defer srv.Close()
	res := mustSend(t, journalOpts(t, filepath.Join(dir, "logs"), jdir, srv.URL))
	got, posts, n := rx.get("a.journal")
	if res.Sent != 1 || len(res.Failed) != 0 || n != 2 || posts != 1 || !bytes.Equal(got, want) {
		t.Fatalf("%+v, %d requests, %d stored", res, n, posts)
	}
}

// A receiver that stays down past the time given: not delivered, not
// recorded, and the next journals are not tried.
func TestJournalsReceiverDown(t *testing.T) {
	dir := t.TempDir()
	jdir := filepath.Join(dir, "journal")
	os.MkdirAll(jdir, 0o755)
	fakeJournal(t, filepath.Join(jdir, "a.journal"), 'a', 10)
	fakeJournal(t, filepath.Join(jdir, "b.journal"), 'b', 10)
	rx := newJournalRx()
	rx.answer = func(int) int { return http.StatusBadGateway }
	srv := httptest.NewServer(rx)
	defer srv.Close()
	o := journalOpts(t, filepath.Join(dir, "logs"), jdir, srv.URL)
	o.Wait = 300 * time.Millisecond
	res := mustSend(t, o)
	_, _, n := rx.get("")
	if res.Sent != 0 || len(res.Failed) != 2 || n < 2 || errors.Is(res.Failed[0].Err, ErrRejected) || !strings.Contains(res.Failed[0].Err.Error(), "502") {
		t.Fatalf("%d requests, %+v", n, res)
	}
	if m, _ := loadJournals(res.Record); len(m) != 0 {
		t.Fatalf("recorded %v", m)
	}
}

// A journal damaged in transit (the receiver's SHA-256 differs) is
// refused with 400: it is not recorded as delivered, the others still
// go, and the next run sends it again, recording the SHA-256 the receiver
// checked.
func TestJournalsWrongSHANeverStored(t *testing.T) {
	dir := t.TempDir()
	jdir := filepath.Join(dir, "journal")
	os.MkdirAll(jdir, 0o755)
	want := fakeJournal(t, filepath.Join(jdir, "a.journal"), 'a', 100)
	fakeJournal(t, filepath.Join(jdir, "b.journal"), 'b', 100)
	rx := newJournalRx()
	rx.corrupt = func(n int) bool { return n == 1 }
	srv := httptest.NewServer(rx)
	defer srv.Close()
	o := journalOpts(t, filepath.Join(dir, "logs"), jdir, srv.URL)
	res := mustSend(t, o)
	if res.Sent != 1 || len(res.Failed) != 1 || !errors.Is(res.Failed[0].Err, ErrRejected) || !strings.Contains(res.Failed[0].Err.Error(), "400") {
		t.Fatalf("%+v", res)
	}
	if got, _, _ := rx.get("a.journal"); got != nil {
		t.Fatal("the receiver stored a damaged journal")
	}
	if m, _ := loadJournals(res.Record); len(m) != 1 || m["a.journal"].Name != "" {
		t.Fatalf("a journal the receiver refused was recorded: %+v", m)
	}
	res = mustSend(t, o)
	got, _, _ := rx.get("a.journal")
	m, _ := loadJournals(res.Record)
	sum := sha256.Sum256(got)
	if res.Sent != 1 || res.Already != 1 || !bytes.Equal(got, want) || m["a.journal"].SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("second run: %+v, record %+v", res, m)
	}
}

// Two processes shipping one folder to one receiver take turns: each
// journal arrives once.
func TestJournalsTwoShippersTakeTurns(t *testing.T) {
	dir := t.TempDir()
	jdir := filepath.Join(dir, "journal")
	os.MkdirAll(jdir, 0o755)
	for _, c := range "abcdef" {
		fakeJournal(t, filepath.Join(jdir, string(c)+".journal"), byte(c), 100)
	}
	rx := newJournalRx()
	rx.delay = 20 * time.Millisecond
	srv := httptest.NewServer(rx)
	defer srv.Close()
	var wg sync.WaitGroup
	results := make([]JournalResult, 2)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A sink of its own: its own descriptor of the lock file, as
			// another process has.
			results[i] = mustSend(t, journalOpts(t, filepath.Join(dir, "logs"), jdir, srv.URL))
		}()
	}
	wg.Wait()
	if results[0].Sent+results[1].Sent != 6 || results[0].Already+results[1].Already != 6 {
		t.Fatalf("%+v", results)
	}
	for _, c := range "abcdef" {
		if _, posts, _ := rx.get(string(c) + ".journal"); posts != 1 {
			t.Errorf("%c.journal arrived %d times", c, posts)
		}
	}
}

// An untrusted certificate is refused, naming --log-ca.
func TestJournalsUntrustedCertificate(t *testing.T) {
	dir := t.TempDir()
	jdir := filepath.Join(dir, "journal")
	os.MkdirAll(jdir, 0o755)
	fakeJournal(t, filepath.Join(jdir, "a.journal"), 'a', 10)
	srv := httptest.NewTLSServer(newJournalRx())
	defer srv.Close()
	res := mustSend(t, journalOpts(t, filepath.Join(dir, "logs"), jdir, srv.URL))
	if len(res.Failed) != 1 || !errors.Is(res.Failed[0].Err, ErrRejected) || !strings.Contains(res.Failed[0].Err.Error(), "--log-ca") {
		t.Fatalf("%+v", res)
	}
}

func TestValidJournalName(t *testing.T) {
	for _, ok := range []string{"RUN-VOL.journal", "a", "a..b"} {
		if err := ValidJournalName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "..", ".hidden", "a/b", "../x", `a\b`, "a b", "a\nb", "é.journal", strings.Repeat("x", 256)} {
		if ValidJournalName(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// A journal folder that does not exist stops every journal with advice.
func TestJournalsMissingFolder(t *testing.T) {
	dir := t.TempDir()
	_, err := SendJournals(journalOpts(t, dir, filepath.Join(dir, "nope"), "http://127.0.0.1:9/"))
	if err == nil || !strings.Contains(err.Error(), "give the folder fix --journal wrote to") {
		t.Fatal(err)
	}
}
