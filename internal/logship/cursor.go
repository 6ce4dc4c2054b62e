package logship

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/unbrick/unbrick/internal/durable"
	"github.com/unbrick/unbrick/internal/fleetlog"
	"github.com/unbrick/unbrick/internal/inputfile"
	"github.com/unbrick/unbrick/internal/redact"
)

// SpoolDir is the folder, inside a fleet log directory, of the cursors.
const SpoolDir = "ship"

// cursor is how far a sink's records have been delivered.
type cursor struct {
	Sink    string    `json:"sink"`     // for people: the sink's URL without credentials
	Offset  int64     `json:"offset"`   // unbrick.jsonl bytes delivered
	LastID  string    `json:"last_id"`  // record_id of the last record delivered
	LastEnd int64     `json:"last_end"` // offset just after that record's line (Offset may be past damaged lines after it)
	Sent    int64     `json:"sent"`     // records delivered, over all runs
	Skipped int64     `json:"skipped"`  // lines that were not records
	Updated time.Time `json:"updated"`
}

func cursorPath(dir string, s Sink) string {
	return filepath.Join(dir, SpoolDir, s.Key()+".json")
}

// loadCursor reads a sink's cursor; a missing one starts at the beginning.
func loadCursor(path string, s Sink) (cursor, error) {
	c := cursor{Sink: s.String()}
	if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	data, err := inputfile.Read(path, "log shipping cursor", inputfile.MaxConfig)
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(data, &c); err != nil || c.Offset < 0 {
		return c, fmt.Errorf("%s is damaged (%v): delete it to send every record of the log again (receivers drop repeats by record_id)", path, err)
	}
	return c, nil
}

// save replaces the cursor file so that a power cut leaves the old or the
// new one.
func (c cursor) save(path string) error {
	c.Updated = time.Now().UTC()
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(path, append(data, '\n'), "log shipping cursor")
}

// writeAtomic replaces the file at path with data so that a power cut
// leaves the old or the new one (durable.WriteFile). what names the file
// in errors.
func writeAtomic(path string, data []byte, what string) error {
	if err := durable.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// maxLine bounds one record line, as fleetlog reads them.
const maxLine = 4 << 20

// reader reads complete record lines of unbrick.jsonl from an offset.
type reader struct {
	f   *os.File
	br  *bufio.Reader
	off int64 // offset of the next unread byte
}

func openReader(path string, off int64) (*reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	return &reader{f: f, br: bufio.NewReaderSize(f, 64<<10), off: off}, nil
}

func (r *reader) Close() error { return r.f.Close() }

// next returns the next complete line (without "\n") and the offset after
// it; io.EOF when no complete line follows (a line still being written
// stays for later). A line over maxLine is returned as nil, skipped.
func (r *reader) next() ([]byte, int64, error) {
	var line []byte
	n := int64(0)
	for {
		chunk, err := r.br.ReadSlice('\n')
		n += int64(len(chunk))
		if len(line)+len(chunk) <= maxLine {
			line = append(line, chunk...)
		} else {
			line = nil
		}
		switch {
		case err == nil:
			r.off += n
			if line == nil {
				return nil, r.off, nil
			}
			return bytes.TrimRight(line, "\r\n"), r.off, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			// An incomplete last line: read again from its start later.
			if _, serr := r.f.Seek(r.off, io.SeekStart); serr != nil {
				return nil, r.off, serr
			}
			r.br.Reset(r.f)
			return nil, r.off, io.EOF
		default:
			return nil, r.off, err
		}
	}
}

// parseLine turns a log line into a Line; ok is false for a line that is
// not a record.
func parseLine(b []byte) (Line, bool) {
	var r fleetlog.Record
	if len(bytes.TrimSpace(b)) == 0 || json.Unmarshal(b, &r) != nil || r.RunID == "" || !r.Status.Valid() {
		return Line{}, false
	}
	id := r.RecordID
	if id == "" {
		// A record from before IDs: its ID from the same fields, added
		// to what is sent so receivers can use it.
		id = fleetlog.RecordID(&r)
		b = append([]byte(`{"record_id":"`+id+`",`), bytes.TrimLeft(bytes.TrimSpace(b), "{")...)
	}
	return Line{ID: id, JSON: redact.Bytes(b), Time: r.Time, Status: string(r.Status), RunID: r.RunID, Target: r.Target, Host: r.Host.Name()}, true
}

// resync finds where to resume when unbrick.jsonl no longer matches the
// cursor: after the record with the cursor's last ID, else at the start.
func resync(path string, c cursor) (off int64, found bool, err error) {
	r, err := openReader(path, 0)
	if err != nil {
		return 0, false, err
	}
	defer r.Close()
	for {
		b, end, err := r.next()
		if errors.Is(err, io.EOF) {
			return 0, false, nil
		}
		if err != nil {
			return 0, false, err
		}
		if l, ok := parseLine(b); ok && l.ID == c.LastID {
			return end, true, nil
		}
	}
}

// checkCursor confirms that the log still holds what the cursor says: the
// line ending at c.LastEnd is c.LastID's record, and c.Offset is within
// the file.
func checkCursor(path string, c cursor) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Size() < c.Offset || c.LastEnd > c.Offset {
		return false
	}
	if c.LastID == "" {
		return true // nothing delivered yet (at most damaged lines skipped)
	}
	n := min(c.LastEnd, 64<<10)
	buf := make([]byte, n)
	start := c.LastEnd - n
	if _, err := f.ReadAt(buf, start); err != nil {
		return false
	}
	if !bytes.HasSuffix(buf, []byte("\n")) {
		return false
	}
	buf = buf[:len(buf)-1]
	if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
		buf = buf[i+1:]
	} else if start > 0 {
		// The line is longer than the window: read it whole.
		return resyncMatches(path, c)
	}
	l, ok := parseLine(buf)
	return ok && l.ID == c.LastID
}

func resyncMatches(path string, c cursor) bool {
	off, found, err := resync(path, c)
	return err == nil && found && off == c.LastEnd
}
