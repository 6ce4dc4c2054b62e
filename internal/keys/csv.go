package keys

import (
	"encoding/csv"
	"errors"
	"io"
	"strings"
)

// csvHeader finds the header of a delimited export: the first line that is
// not blank, not a PowerShell 5 "#TYPE ..." line, and not an Excel "sep=;"
// hint. It returns the delimiter (',' ';' or tab, whichever splits the header
// into the most columns outside quotes) and the 0-based line index of the
// header.
func csvHeader(lines []string) (delim rune, headerLine int, ok bool) {
	delim = 0
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "#TYPE") || strings.HasPrefix(t, "#") {
			continue
		}
		if low := strings.ToLower(t); strings.HasPrefix(low, "sep=") && len(t) == 5 {
			delim = rune(t[4])
			continue
		}
		if delim == 0 {
			delim = pickDelimiter(l)
		}
		return delim, i, true
	}
	return 0, 0, false
}

func pickDelimiter(line string) rune {
	counts := map[rune]int{}
	inQ := false
	for _, r := range line {
		switch {
		case r == '"':
			inQ = !inQ
		case !inQ && (r == ',' || r == ';' || r == '\t'):
			counts[r]++
		}
	}
	best, n := ',', 0
	for _, r := range []rune{',', ';', '\t'} {
		if counts[r] > n {
			best, n = r, counts[r]
		}
	}
	return best
}

// csvLooksLikeKeys reports whether a header names a recovery password column
// (and so the file is a key export in CSV form).
func csvLooksLikeKeys(header []string) bool {
	for _, h := range header {
		if roleOf(h) == rolePassword {
			return true
		}
	}
	return false
}

// csvFormat labels a CSV export by its distinctive columns.
func csvFormat(header []string) Format {
	has := map[string]bool{}
	for _, h := range header {
		has[normColumn(h)] = true
	}
	switch {
	case has["msfverecoverypassword"] || has["msfverecoveryguid"]:
		return FormatADCSV
	case has["recoverykeyid"]:
		return FormatMBAMCSV
	case has["keyid"] && has["recoverykey"]:
		return FormatCrowdStrikeCSV
	case has["deviceid"]:
		return FormatEntraCSV
	}
	return FormatCSV
}

// parseCSV reads a delimited export with a header row. text is already
// UTF-8 with LF line ends.
func parseCSV(file, text string, res *Result) error {
	// Only the first lines can hold the header (after #TYPE / sep= lines).
	head := text
	if len(head) > 64<<10 {
		head = head[:64<<10]
	}
	lines := strings.Split(head, "\n")
	delim, hl, ok := csvHeader(lines)
	if !ok {
		if len(head) < len(text) {
			return ErrUnknownFormat
		}
		return errors.New("file is empty")
	}
	body := text
	for i := 0; i < hl; i++ {
		body = body[strings.IndexByte(body, '\n')+1:]
	}
	r := csv.NewReader(strings.NewReader(body))
	r.Comma = delim
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	r.TrimLeadingSpace = true
	header, err := r.Read()
	if err != nil {
		return errors.New("cannot read the header row: " + csvErr(err))
	}
	if !csvLooksLikeKeys(header) {
		return ErrUnknownFormat
	}
	res.Format = csvFormat(header)
	roles := make([]role, len(header))
	for i, h := range header {
		roles[i] = roleOf(h)
	}
	for {
		row, err := r.Read()
		if err == io.EOF {
			break
		}
		line, _ := r.FieldPos(0)
		line += hl
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				res.Problems = append(res.Problems, Problem{File: file, Line: pe.StartLine + hl, Msg: "malformed CSV row: " + csvErr(err)})
				if pe.Err == csv.ErrQuote || pe.Err == csv.ErrBareQuote {
					continue
				}
			}
			return errors.New("read CSV: " + csvErr(err))
		}
		if len(row) == 1 && strings.TrimSpace(row[0]) == "" {
			continue
		}
		rec := record{line: line}
		for i, cell := range row {
			if i >= len(header) {
				if strings.TrimSpace(cell) != "" {
					res.Problems = append(res.Problems, Problem{File: file, Line: line, Msg: "row has more cells than the header has columns; extra cells ignored"})
				}
				break
			}
			l, _ := r.FieldPos(i)
			rec.fields = append(rec.fields, field{name: header[i], value: cell, line: l + hl, role: roles[i], known: true})
		}
		addRecord(file, res, rec)
	}
	return nil
}

// csvErr renders a csv error without the record's content.
func csvErr(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func addRecord(file string, res *Result, rec record) {
	e, p, ok := toEntry(file, res.Format, rec)
	if p != nil {
		res.Problems = append(res.Problems, *p)
	}
	if ok {
		res.Entries = append(res.Entries, e)
	}
}
