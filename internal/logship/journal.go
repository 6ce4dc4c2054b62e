package logship

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/unbrick/unbrick/internal/durable"
	"github.com/unbrick/unbrick/internal/inputfile"
	"github.com/unbrick/unbrick/internal/undo"
)

// JournalContentType is the Content-Type of a journal POST.
const JournalContentType = "application/vnd.unbrick.undo-journal"

// MaxJournalSize is the largest journal sent to a receiver; a larger one
// stays on its disk and is reported as not delivered.
const MaxJournalSize = 256 << 20

// maxJournalsRecord bounds the delivered-journals file (about 150 bytes a
// journal: some hundred thousand journals).
const maxJournalsRecord = 32 << 20

// journalRate is the slowest upload a journal POST is given time for, on
// top of HTTPTimeout: 256 MiB take up to 256 s more.
const journalRate = 1 << 20 // bytes per second

// ValidJournalName checks that name, sent as X-Unbrick-Journal, is a
// plain file name a receiver can store as it is: printable ASCII, no path
// separator, not starting with '.' (so neither "." nor ".."), at most
// 255 bytes.
func ValidJournalName(name string) error {
	bad := name == "" || name[0] == '.' || len(name) > 255
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 0x21 || c > 0x7e || c == '/' || c == '\\' {
			bad = true
		}
	}
	if bad {
		return fmt.Errorf("journal name %q is not a plain file name (at most 255 bytes of printable ASCII without spaces, '/' or '\\', not starting with '.'): rename it to send it", name)
	}
	return nil
}

// journalKey is the Idempotency-Key of a journal: the same name and
// content give the same key.
func journalKey(name, sum string) string {
	k := sha256.Sum256([]byte(name + "\n" + sum))
	return hex.EncodeToString(k[:16])
}

// SendJournal posts one undo journal, body, under its base name. A 2xx
// answer delivers it. An error that wraps ErrRejected will not change by
// sending again (the receiver refused it, or its certificate is not
// trusted); any other error (network, 408, 425, 429, 5xx) may.
func (s *HTTPSink) SendJournal(ctx context.Context, name string, body []byte) error {
	if err := ValidJournalName(name); err != nil {
		return fmt.Errorf("%w: %w", ErrRejected, err)
	}
	if len(body) > MaxJournalSize {
		return fmt.Errorf("%w: journal %s is %d bytes, more than the %d MiB sent to a receiver: keep it on a disk", ErrRejected, name, len(body), MaxJournalSize>>20)
	}
	sum := sha256.Sum256(body)
	hexSum := hex.EncodeToString(sum[:])
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url.String(), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: %w", s.display, err)
	}
	req.Header.Set("Content-Type", JournalContentType)
	req.Header.Set("X-Unbrick-Journal", name)
	req.Header.Set("X-Unbrick-SHA256", hexSum)
	req.Header.Set("Digest", "sha-256="+base64.StdEncoding.EncodeToString(sum[:]))
	req.Header.Set("Idempotency-Key", journalKey(name, hexSum))
	client := *s.client
	client.Timeout = HTTPTimeout + time.Duration(len(body)/journalRate)*time.Second
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its text repeats the URL, password included
		}
		if untrusted(err) {
			return fmt.Errorf("%s: %w: the server's certificate is not trusted%s: %v; give the CA that signed it with --log-ca", s.display, ErrRejected, s.caNote, err)
		}
		return fmt.Errorf("%s: journal %s: %w", s.display, name, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	msg = bytes.TrimSpace(msg)
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return nil
	case c == http.StatusRequestTimeout || c == http.StatusTooEarly || c == http.StatusTooManyRequests || c >= 500:
		return fmt.Errorf("%s: journal %s: HTTP %s %q", s.display, name, resp.Status, msg)
	case c == http.StatusUnsupportedMediaType:
		return fmt.Errorf("%s: %w: HTTP %s %q: this receiver does not take undo journals: give a receiver that does, or keep the journal on a disk (fix --journal DIR)", s.display, ErrRejected, resp.Status, msg)
	case c == http.StatusRequestEntityTooLarge:
		return &journalError{fmt.Errorf("%s: %w: HTTP %s for journal %s of %d bytes: raise the receiver's size limit, or keep the journal on a disk", s.display, ErrRejected, resp.Status, name, len(body))}
	case c == http.StatusBadRequest:
		return &journalError{fmt.Errorf("%s: %w: HTTP %s %q for journal %s: the receiver found it damaged in transit or refused its name; run ship again, and if it stays, check the receiver's log", s.display, ErrRejected, resp.Status, msg, name)}
	default:
		return fmt.Errorf("%s: %w: HTTP %s %q; check the URL and the receiver's access rules", s.display, ErrRejected, resp.Status, msg)
	}
}

// journalError is a rejection of one journal (its size or its bytes),
// not of journals at large: the others are still sent.
type journalError struct{ err error }

func (e *journalError) Error() string { return e.err.Error() }
func (e *journalError) Unwrap() error { return e.err }

// IsJournal reports whether the regular file at path is an undo journal,
// reading only its first 12 bytes: the journal magic and a format version
// package undo reads. A torn journal whose header never reached the disk
// is not one (its fix wrote nothing).
func IsJournal(path string) (bool, error) {
	f, err := inputfile.Open(path, "undo journal")
	if err != nil {
		return false, err
	}
	defer f.Close()
	var b [len(undo.Magic) + 4]byte
	if _, err := io.ReadFull(f, b[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return false, nil
		}
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	v := int(binary.LittleEndian.Uint16(b[len(undo.Magic):]))
	return string(b[:len(undo.Magic)]) == undo.Magic && v >= undo.MinVersion && v <= undo.Version, nil
}

// DeliveredJournal is one journal a receiver acknowledged.
type DeliveredJournal struct {
	Name      string    `json:"name"`
	Size      int64     `json:"size"`
	SHA256    string    `json:"sha256"`
	Delivered time.Time `json:"delivered"`
}

// journalsRecord is DIR/ship/<sink key>.journals.json.
type journalsRecord struct {
	Sink     string             `json:"sink"`
	Journals []DeliveredJournal `json:"journals"` // by name
	Updated  time.Time          `json:"updated"`
}

func journalsPath(dir string, s Sink) string {
	return filepath.Join(dir, SpoolDir, s.Key()+".journals.json")
}

// loadJournals reads a receiver's delivered journals by name; a missing
// file has none.
func loadJournals(path string) (map[string]DeliveredJournal, error) {
	out := map[string]DeliveredJournal{}
	if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	data, err := inputfile.Read(path, "delivered journals record", maxJournalsRecord)
	if err != nil {
		return nil, err
	}
	var r journalsRecord
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%s is damaged (%v): delete it to send every journal again (the receiver keeps one copy per name)", path, err)
	}
	for _, j := range r.Journals {
		out[j.Name] = j
	}
	return out, nil
}

func saveJournals(path, sink string, m map[string]DeliveredJournal) error {
	r := journalsRecord{Sink: sink, Updated: time.Now().UTC()}
	for _, j := range m {
		r.Journals = append(r.Journals, j)
	}
	sort.Slice(r.Journals, func(a, b int) bool { return r.Journals[a].Name < r.Journals[b].Name })
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(path, append(data, '\n'), "delivered journals record")
}

// JournalOptions say which journals go to which receiver.
type JournalOptions struct {
	Dir        string    // the fleet log directory: DIR/ship keeps what was delivered
	JournalDir string    // the folder of undo journals (fix --journal)
	Sink       *HTTPSink // the receiver
	// Wait bounds the retries: no journal is tried again after it
	// (default 30 s). An upload under way is not cut short.
	Wait time.Duration
	// MinBackoff and MaxBackoff bound the wait before trying again,
	// doubling from one to the other (default 1 s, 30 s).
	MinBackoff, MaxBackoff time.Duration
}

// JournalProblem is a file of the journal folder that was not delivered,
// or not sent because it is not a journal.
type JournalProblem struct {
	Path string
	Err  error
}

// JournalResult is what one receiver got of a journal folder.
type JournalResult struct {
	Sink    string           // the receiver, without credentials
	Sent    int              // journals delivered by this run
	Already int              // journals the receiver already had, unchanged
	Failed  []JournalProblem // journals not delivered, and why
	Skipped []JournalProblem // files that are not undo journals, not sent
	Record  string           // the delivered-journals file
}

// SendJournals sends every undo journal of o.JournalDir that o.Sink has
// not got with its current content, one at a time, in name order. A
// journal is recorded as delivered (name, size, SHA-256) as soon as the
// receiver acknowledges it, so it is never sent twice unless it changes.
// The error is for what stops every journal (the spool, the folder).
func SendJournals(o JournalOptions) (JournalResult, error) {
	res := JournalResult{Sink: o.Sink.String(), Record: journalsPath(o.Dir, o.Sink)}
	if o.Wait <= 0 {
		o.Wait = 30 * time.Second
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = time.Second
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(30*time.Second, o.MinBackoff)
	}
	deadline := time.Now().Add(o.Wait)
	ents, err := os.ReadDir(o.JournalDir)
	if err != nil {
		return res, fmt.Errorf("journal folder: %w; give the folder fix --journal wrote to", err)
	}
	spool := filepath.Join(o.Dir, SpoolDir)
	if err := durable.MkdirAll(spool, 0o755); err != nil {
		return res, fmt.Errorf("log shipping spool: %w", err)
	}
	lf, err := os.OpenFile(filepath.Join(spool, o.Sink.Key()+".lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return res, fmt.Errorf("log shipping spool: %w", err)
	}
	defer lf.Close()
	if _, err := loadJournals(res.Record); err != nil {
		return res, err
	}
	var stop error // set when the receiver will take no more journals this run
	for _, e := range ents {
		p := filepath.Join(o.JournalDir, e.Name())
		if !e.Type().IsRegular() {
			res.Skipped = append(res.Skipped, JournalProblem{p, errors.New("not a regular file")})
			continue
		}
		if ok, err := IsJournal(p); err != nil || !ok {
			if err == nil {
				err = fmt.Errorf("not an unbrick undo journal (no %s header)", undo.Magic)
			}
			res.Skipped = append(res.Skipped, JournalProblem{p, err})
			continue
		}
		if err := ValidJournalName(e.Name()); err != nil {
			res.Failed = append(res.Failed, JournalProblem{p, err})
			continue
		}
		if stop != nil {
			res.Failed = append(res.Failed, JournalProblem{p, stop})
			continue
		}
		already, err := sendJournal(o, lf, res.Record, p, e.Name(), deadline)
		switch {
		case err == nil && already:
			res.Already++
		case err == nil:
			res.Sent++
		default:
			res.Failed = append(res.Failed, JournalProblem{p, err})
			var je *journalError
			if !errors.As(err, &je) && !errors.Is(err, inputfile.ErrTooLarge) && !errors.Is(err, errJournalFile) {
				stop = err
			}
		}
	}
	return res, nil
}

// errJournalBusy: another process kept the receiver's lock too long.
var errJournalBusy = errors.New("another unbrick process kept sending to this receiver (its lock in the log's ship folder) until the time given ran out: run ship again once it has ended")

// errJournalFile marks a journal that could not be read: the others are
// still sent.
var errJournalFile = errors.New("cannot read the journal")

// sendJournal sends the journal at path unless the record says the
// receiver has it with this content, retrying until deadline; the lock on
// lf is held while one journal is looked up, sent and recorded, so that
// two processes shipping to one receiver take turns.
func sendJournal(o JournalOptions, lf *os.File, record, path, name string, deadline time.Time) (already bool, err error) {
	body, err := inputfile.Read(path, "undo journal", MaxJournalSize)
	if err != nil {
		if errors.Is(err, inputfile.ErrTooLarge) {
			return false, fmt.Errorf("%w: the most sent to a receiver is %d MiB: keep this journal on a disk", err, MaxJournalSize>>20)
		}
		return false, fmt.Errorf("%w: %w", errJournalFile, err)
	}
	sum := sha256.Sum256(body)
	hexSum := hex.EncodeToString(sum[:])
	lockBy := deadline
	if d := time.Now().Add(HTTPTimeout); d.After(lockBy) {
		lockBy = d
	}
	if err := lockUntil(lf, lockBy); err != nil {
		return false, err
	}
	defer unlock(lf)
	done, err := loadJournals(record)
	if err != nil {
		return false, err
	}
	if d, ok := done[name]; ok && d.SHA256 == hexSum && d.Size == int64(len(body)) {
		return true, nil
	}
	backoff := o.MinBackoff
	for {
		err = o.Sink.SendJournal(context.Background(), name, body)
		if err == nil {
			break
		}
		if errors.Is(err, ErrRejected) || time.Now().Add(backoff).After(deadline) {
			return false, err
		}
		time.Sleep(backoff)
		backoff = min(2*backoff, o.MaxBackoff)
	}
	done[name] = DeliveredJournal{Name: name, Size: int64(len(body)), SHA256: hexSum, Delivered: time.Now().UTC()}
	if err := saveJournals(record, o.Sink.String(), done); err != nil {
		return false, fmt.Errorf("%s was delivered but could not be recorded (%w): the next run sends it again", name, err)
	}
	return false, nil
}

// lockUntil takes the lock on f, waiting for another process to let go of
// it until deadline.
func lockUntil(f *os.File, deadline time.Time) error {
	for {
		busy, err := tryLock(f)
		if err != nil {
			return fmt.Errorf("log shipping lock: %w", err)
		}
		if !busy {
			return nil
		}
		if time.Now().After(deadline) {
			return errJournalBusy
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// String says what a journal result is in one line, for people.
func (r JournalResult) String() string {
	return r.Sink + ": " + strconv.Itoa(r.Sent) + " journal(s) sent, " + strconv.Itoa(r.Already) + " already there, " + strconv.Itoa(len(r.Failed)) + " not delivered"
}
