package fleetlog

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/unbrick/unbrick/internal/inputfile"
)

// LoadedRecord is a record with where it was read.
type LoadedRecord struct {
	Record
	File string
	Line int
}

// ReadProblem is a log line that could not be read.
type ReadProblem struct {
	File string
	Line int
	Msg  string
}

func (p ReadProblem) Error() string { return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg) }

// maxLine bounds one JSONL record.
const maxLine = 4 << 20

// ReadPaths reads every unbrick.jsonl named by paths: a path is the file
// itself, or a directory searched recursively (logs copied off many sticks
// into one folder each). Unreadable lines are returned as problems and
// skipped; an unreadable path is an error.
func ReadPaths(paths []string) ([]LoadedRecord, []ReadProblem, error) {
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, nil, fmt.Errorf("log: %w", err)
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		n := 0
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && d.Name() == JSONLName {
				files = append(files, path)
				n++
			}
			return nil
		})
		if err != nil {
			return nil, nil, fmt.Errorf("log: %w", err)
		}
		if n == 0 {
			return nil, nil, fmt.Errorf("log: no %s under %s", JSONLName, p)
		}
	}
	var recs []LoadedRecord
	var probs []ReadProblem
	for _, f := range files {
		r, p, err := readFile(f)
		if err != nil {
			return nil, nil, err
		}
		recs = append(recs, r...)
		probs = append(probs, p...)
	}
	return recs, probs, nil
}

func readFile(path string) ([]LoadedRecord, []ReadProblem, error) {
	f, err := inputfile.Open(path, "fleet log")
	if err != nil {
		return nil, nil, fmt.Errorf("log: %w", err)
	}
	defer f.Close()
	var recs []LoadedRecord
	var probs []ReadProblem
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		var r Record
		if err := json.Unmarshal([]byte(text), &r); err != nil {
			// A power cut can leave a torn last line; say so, go on.
			probs = append(probs, ReadProblem{path, line, "not a JSON record (torn write?): " + shortErr(err)})
			continue
		}
		if !r.Status.Valid() {
			probs = append(probs, ReadProblem{path, line, fmt.Sprintf("unknown status %q", r.Status)})
			continue
		}
		if r.Time.IsZero() {
			probs = append(probs, ReadProblem{path, line, "record has no time"})
			continue
		}
		recs = append(recs, LoadedRecord{Record: r, File: path, Line: line})
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			probs = append(probs, ReadProblem{path, line + 1, "line longer than 4 MiB; rest of file skipped"})
			return recs, probs, nil
		}
		return nil, nil, fmt.Errorf("log %s: %w", path, err)
	}
	return recs, probs, nil
}

func shortErr(err error) string {
	s := err.Error()
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return s
}
