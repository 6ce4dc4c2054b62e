package fleetlog

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/unbrick/unbrick/internal/durable"
)

// File names inside a log directory.
const (
	JSONLName = "unbrick.jsonl"
	CSVName   = "unbrick.csv"
)

// CSVHeader is the first line of unbrick.csv. One row per record; files
// are summarised (count deleted, paths).
var CSVHeader = []string{
	"time", "run_id", "technician", "computer_name", "bitlocker_name", "smbios_serial", "target", "disk",
	"partition", "volume_id", "encryption", "protector_id", "recovery_key_id", "unlock_method", "rules",
	"status", "files_deleted", "files", "error", "duration_ms", "journal_file", "confirmation_code", "tool_version",
	"journal_action",
}

// Log appends records to DIR/unbrick.jsonl and DIR/unbrick.csv. It is safe
// for concurrent use by the goroutines of one process.
type Log struct {
	dir string
	mu  sync.Mutex
	// inJSONL holds the IDs of records whose JSON line was saved while
	// their CSV row was not: a retry then writes only the row, so
	// unbrick.jsonl (what is shipped) holds each record once. Only
	// failures are kept, so it does not grow with the run.
	inJSONL map[string]bool
}

// Open prepares dir (creating it if needed) for appending.
func Open(dir string) (*Log, error) {
	if dir == "" {
		return nil, errors.New("fleet log: no directory")
	}
	if err := durable.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("fleet log: %w", err)
	}
	return &Log{dir: dir, inJSONL: map[string]bool{}}, nil
}

// Dir is the log directory.
func (l *Log) Dir() string { return l.dir }

// Prepare fills derived fields: UTC time (now, when unset: a record is
// never lost for a missing time), DurationMS, ConfirmationCode.
func Prepare(r *Record) {
	if r.Time.IsZero() {
		r.Time = time.Now()
	}
	r.Time = r.Time.UTC()
	if r.Duration != 0 {
		r.DurationMS = r.Duration.Milliseconds()
	}
	r.ConfirmationCode = ConfirmationCode(r.RunID, r.VolumeID, r.Status)
	if r.RecordID == "" {
		r.RecordID = RecordID(r)
	}
}

// Append writes r as one JSON line and one CSV row, each followed by fsync
// (and an fsync of the directory when a file is created), so a record that
// Append returned for survives a power cut. Recovery-password-shaped text is
// scrubbed from both.
func (l *Log) Append(r *Record) error {
	if !r.Status.Valid() {
		return fmt.Errorf("fleet log: record has status %q; want one of %v", r.Status, Statuses)
	}
	Prepare(r)
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("fleet log: %w", err)
	}
	line = append(scrub(line), '\n')
	var row bytes.Buffer
	cw := csv.NewWriter(&row)
	cw.Write(csvRow(r))
	cw.Flush()
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.inJSONL[r.RecordID] {
		if err := appendSync(filepath.Join(l.dir, JSONLName), nil, line); err != nil {
			return err
		}
	}
	var hdr bytes.Buffer
	hw := csv.NewWriter(&hdr)
	hw.Write(CSVHeader)
	hw.Flush()
	if err := appendSync(filepath.Join(l.dir, CSVName), hdr.Bytes(), scrub(row.Bytes())); err != nil {
		l.inJSONL[r.RecordID] = true
		return err
	}
	delete(l.inJSONL, r.RecordID)
	return nil
}

// appendSync appends data to path (writing header first when the file is
// new) and syncs it; a new file's directory is synced too.
func appendSync(path string, header, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("fleet log: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("fleet log: %w", err)
	}
	fresh := st.Size() == 0
	if fresh && header != nil {
		data = append(append([]byte(nil), header...), data...)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("fleet log: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("fleet log: sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("fleet log: %w", err)
	}
	if fresh {
		if err := durable.SyncDir(filepath.Dir(path)); err != nil {
			return fmt.Errorf("fleet log: %w", err)
		}
	}
	return nil
}

func csvRow(r *Record) []string {
	deleted := 0
	var files []string
	for _, f := range r.Files {
		if f.Action == "deleted" {
			deleted++
		}
		files = append(files, f.Path+" ("+f.Action+")")
	}
	return []string{
		r.Time.UTC().Format(time.RFC3339Nano), r.RunID, r.Technician, r.Host.ComputerName, r.Host.BitLockerName, r.Host.Serial,
		r.Target, r.Disk, strconv.Itoa(r.Partition), r.VolumeID, r.Encryption, r.ProtectorID, r.RecoveryKeyID, r.UnlockMethod,
		strings.Join(r.Rules, " "), string(r.Status), strconv.Itoa(deleted), strings.Join(files, "; "), r.Error,
		strconv.FormatInt(r.DurationMS, 10), r.JournalFile, r.ConfirmationCode, r.ToolVersion,
		r.JournalAction,
	}
}
