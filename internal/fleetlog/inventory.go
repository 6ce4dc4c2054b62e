package fleetlog

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/unbrick/unbrick/internal/inputfile"
	"github.com/unbrick/unbrick/internal/keys"
)

// LoadInventory reads the hosts a fleet expects: a key export in any format
// internal/keys reads (each computer name with its key IDs; keys without a
// name stand alone by key ID), or a host list: one computer name per line
// ('#' comments), or a CSV whose header names a computer-name column
// (ComputerName, Name, Hostname, DeviceName, DisplayName...) and optionally
// a serial column.
func LoadInventory(path string, opts keys.LoadOptions) ([]InventoryItem, error) {
	res, err := keys.ParseFile(path, opts)
	if err == nil && len(res.Entries) > 0 {
		return inventoryFromKeys(res.Entries), nil
	}
	if err != nil && !errors.Is(err, keys.ErrUnknownFormat) {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	data, rerr := inputfile.Read(path, "inventory file", inputfile.MaxKeyExport)
	if rerr != nil {
		return nil, fmt.Errorf("inventory: %w", rerr)
	}
	return parseHostList(path, strings.ReplaceAll(strings.TrimPrefix(string(data), "\ufeff"), "\r\n", "\n"))
}

func inventoryFromKeys(es []keys.Entry) []InventoryItem {
	byName := map[string]int{}
	var out []InventoryItem
	for _, e := range es {
		src := fmt.Sprintf("%s:%d", e.Source, e.Line)
		if e.ComputerName == "" && e.Serial == "" {
			out = append(out, InventoryItem{KeyIDs: []string{e.KeyID}, Source: src})
			continue
		}
		k := normName(e.ComputerName) + "\x00" + strings.ToUpper(e.Serial)
		if i, ok := byName[k]; ok {
			if e.KeyID != "" {
				out[i].KeyIDs = append(out[i].KeyIDs, e.KeyID)
			}
			continue
		}
		it := InventoryItem{Name: e.ComputerName, Serial: e.Serial, Source: src}
		if e.KeyID != "" {
			it.KeyIDs = []string{e.KeyID}
		}
		byName[k] = len(out)
		out = append(out, it)
	}
	return out
}

var nameColumns = map[string]bool{"computername": true, "name": true, "hostname": true, "host": true, "devicename": true,
	"computer": true, "displayname": true, "machinename": true, "dnshostname": true}
var serialColumns = map[string]bool{"serial": true, "serialnumber": true, "biosserial": true, "servicetag": true}

func normCol(s string) string {
	return strings.NewReplacer(" ", "", "-", "", "_", "", ".", "").Replace(strings.ToLower(strings.TrimSpace(s)))
}

func parseHostList(path, text string) ([]InventoryItem, error) {
	lines := strings.Split(text, "\n")
	first := ""
	for _, l := range lines {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
			first = t
			break
		}
	}
	if first == "" {
		return nil, fmt.Errorf("inventory %s: empty", path)
	}
	var out []InventoryItem
	if !strings.ContainsAny(first, ",;\t") {
		for i, l := range lines {
			t := strings.TrimSpace(l)
			if t == "" || strings.HasPrefix(t, "#") {
				continue
			}
			if strings.ContainsAny(t, " ,;\t") {
				return nil, fmt.Errorf("inventory %s: line %d: %q is not a host name (one name per line, or a CSV with a header)", path, i+1, t)
			}
			out = append(out, InventoryItem{Name: t, Source: fmt.Sprintf("%s:%d", path, i+1)})
		}
		return out, nil
	}
	delim := ','
	for _, d := range []rune{';', '\t'} {
		if strings.Count(first, string(d)) > strings.Count(first, string(delim)) {
			delim = d
		}
	}
	r := csv.NewReader(strings.NewReader(text))
	r.Comma = delim
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	hdr, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("inventory %s: header: %w", path, err)
	}
	nameCol, serialCol := -1, -1
	for i, h := range hdr {
		c := normCol(h)
		if nameColumns[c] && nameCol < 0 {
			nameCol = i
		}
		if serialColumns[c] && serialCol < 0 {
			serialCol = i
		}
	}
	if nameCol < 0 && serialCol < 0 {
		return nil, fmt.Errorf("inventory %s: header has no computer-name or serial column (ComputerName, Name, Hostname, Serial...)", path)
	}
	for {
		row, err := r.Read()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("inventory %s: %w", path, err)
		}
		line, _ := r.FieldPos(0)
		it := InventoryItem{Source: fmt.Sprintf("%s:%d", path, line)}
		if nameCol >= 0 && nameCol < len(row) {
			it.Name = strings.TrimSpace(row[nameCol])
		}
		if serialCol >= 0 && serialCol < len(row) {
			it.Serial = strings.TrimSpace(row[serialCol])
		}
		if it.Name != "" || it.Serial != "" {
			out = append(out, it)
		}
	}
	return out, nil
}
