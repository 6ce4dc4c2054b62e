package keys

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
)

// parseJSON reads Microsoft Graph bitlockerRecoveryKey JSON
// (https://learn.microsoft.com/graph/api/resources/bitlockerrecoverykey:
// id, createdDateTime, deviceId, key, volumeType): a collection response
// {"value":[...]} (nextLink pages concatenated as an array of such
// responses also works), a bare array, a single object, or JSON Lines.
// Extra members such as deviceName or displayName (added by export scripts
// that join /devices) supply the computer name.
func parseJSON(file string, data []byte, res *Result) error {
	res.Format = FormatGraphJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	n := 0
	for {
		start := skipSpace(data, int(dec.InputOffset()))
		var v any
		err := dec.Decode(&v)
		if err == io.EOF || (err != nil && start >= len(data)) {
			break
		}
		if err != nil {
			var se *json.SyntaxError
			if errors.As(err, &se) {
				return fmt.Errorf("JSON syntax error at line %d: %v", lineAt(data, int(se.Offset)), se)
			}
			return fmt.Errorf("JSON: %v", err)
		}
		n++
		walkJSON(file, data, v, lineAt(data, start), res)
	}
	if n == 0 {
		return errors.New("file is empty")
	}
	return nil
}

// walkJSON turns objects with a key member into records. Line numbers of
// array elements are found by locating each object's "key"/"id" member text;
// failing that, the enclosing value's line is used.
func walkJSON(file string, data []byte, v any, line int, res *Result) {
	switch t := v.(type) {
	case []any:
		for _, e := range t {
			walkJSON(file, data, e, line, res)
		}
	case map[string]any:
		if vals, ok := t["value"].([]any); ok {
			for _, e := range vals {
				walkJSON(file, data, e, line, res)
			}
			return
		}
		rec := record{line: objectLine(data, t, line)}
		for k, val := range t {
			s, ok := scalar(val)
			if !ok {
				continue
			}
			rec.fields = append(rec.fields, field{name: k, value: s, line: rec.line})
		}
		// Stable order: map iteration is random, and toEntry keeps the
		// first computer-name column it sees.
		sortFields(rec.fields)
		addRecord(file, res, rec)
	}
}

func scalar(v any) (string, bool) {
	switch t := v.(type) {
	case string:
		return t, true
	case json.Number:
		return t.String(), true
	case bool:
		return strconv.FormatBool(t), true
	}
	return "", false
}

// objectLine finds the line of an object's "id" value in the file, so
// problems point at the right element of a large array.
func objectLine(data []byte, obj map[string]any, def int) int {
	id, _ := obj["id"].(string)
	if id == "" {
		return def
	}
	needle, _ := json.Marshal(id)
	if i := bytes.Index(data, needle); i >= 0 {
		return lineAt(data, i)
	}
	return def
}

func lineAt(data []byte, off int) int {
	if off > len(data) {
		off = len(data)
	}
	if off < 0 {
		off = 0
	}
	return bytes.Count(data[:off], []byte{'\n'}) + 1
}

func skipSpace(data []byte, off int) int {
	for off < len(data) && (data[off] == ' ' || data[off] == '\t' || data[off] == '\n' || data[off] == '\r') {
		off++
	}
	return off
}

func sortFields(f []field) {
	sort.SliceStable(f, func(i, j int) bool { return f[i].name < f[j].name })
}
