package fleetlog

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestRecordID(t *testing.T) {
	t0 := time.Date(2024, 7, 19, 9, 0, 0, 0, time.UTC)
	a := sample("PC1", "VOL-A", StatusRemediated, t0)
	b := sample("PC1", "VOL-A", StatusRemediated, t0.Add(time.Minute)) // another run
	a2 := *a
	a2.Time = t0.Add(time.Second) // the same record saved again later in its run
	if RecordID(a) != RecordID(&a2) {
		t.Errorf("a record saved again changed its ID")
	}
	if RecordID(a) == RecordID(b) {
		t.Errorf("records of two runs share an ID")
	}
	c := *a
	c.Partition = 4
	if RecordID(a) == RecordID(&c) {
		t.Errorf("two partitions share an ID")
	}
	Prepare(a)
	if len(a.RecordID) != 32 || a.RecordID != RecordID(a) {
		t.Errorf("Prepare set record_id %q", a.RecordID)
	}
}

// A record whose CSV row could not be written is saved again by the
// engine's retry: unbrick.jsonl (what log shipping reads) must hold it
// once.
func TestAppendRetryWritesJSONLOnce(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	csvPath := filepath.Join(dir, CSVName)
	if err := os.Mkdir(csvPath, 0o755); err != nil { // the CSV copy cannot be written
		t.Fatal(err)
	}
	r := sample("PC1", "VOL-A", StatusRemediated, time.Date(2024, 7, 19, 9, 0, 0, 0, time.UTC))
	if err := l.Append(r); err == nil {
		t.Fatal("Append with an unwritable CSV returned no error")
	}
	if err := os.Remove(csvPath); err != nil {
		t.Fatal(err)
	}
	again := sample("PC1", "VOL-A", StatusRemediated, time.Date(2024, 7, 19, 9, 0, 0, 0, time.UTC))
	if err := l.Append(again); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, JSONLName))
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(data, []byte("\n")); n != 1 {
		t.Errorf("unbrick.jsonl has %d lines after a retry, want 1", n)
	}
	rows, err := os.ReadFile(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(rows, []byte("\n")); n != 2 { // header + row
		t.Errorf("unbrick.csv has %d lines, want header and one row", n)
	}
}
