package undo

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/unbrick/unbrick/internal/inputfile"
)

// Index is the incomplete journals of a journal folder, looked for once:
// a run over many volumes (thousands of VM disks cloned from one template
// share a volume ID and geometry) asks it instead of reading every journal
// for every volume. Make it before the run writes any journal of its own.
type Index struct {
	byVolume map[Header][]string // header fields FindIncomplete compares -> paths
}

// indexKey keeps the header fields that say which volume a journal is of.
func indexKey(h Header) Header {
	return Header{VolumeID: h.VolumeID, TargetSize: h.TargetSize, PartitionOffset: h.PartitionOffset, PartitionSize: h.PartitionSize}
}

// NewIndex reads the journals in dir (files named *.journal): the header
// of each, the last end marker (tail) of each, and the whole of only those
// whose tail does not show them complete or undone. A directory that does
// not exist holds no journals.
func NewIndex(dir string) (*Index, error) {
	x := &Index{byVolume: map[Header][]string{}}
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return x, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list the undo journals in %s: %w", dir, err)
	}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".journal") || !e.Type().IsRegular() {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if h, ok := incomplete(p); ok {
			k := indexKey(h)
			x.byVolume[k] = append(x.byVolume[k], p)
		}
	}
	for _, v := range x.byVolume {
		sort.Strings(v)
	}
	return x, nil
}

// Find lists the journals of volume v that are Incomplete (or that cannot
// be read, for the caller to learn why from RollForward), oldest first:
// what FindIncomplete returns for v.
func (x *Index) Find(v Header) []string {
	if x == nil {
		return nil
	}
	return append([]string(nil), x.byVolume[indexKey(v)]...)
}

// incomplete reads the journal at p and reports its header and whether it
// must be dealt with before its volume is fixed again: Incomplete, or
// matching no known state (corrupt). Torn journals (the fix never wrote)
// and journals that are not ours are left out.
func incomplete(p string) (Header, bool) {
	f, err := inputfile.Open(p, "undo journal")
	if err != nil {
		return Header{}, false
	}
	defer f.Close()
	hb, err := io.ReadAll(io.LimitReader(f, maxHeaderLen))
	if err != nil {
		return Header{}, false
	}
	h, _, _, err := parseHeader(hb)
	if err != nil {
		return Header{}, false
	}
	if fi, err := f.Stat(); err == nil && tailFinished(f, fi.Size()) {
		return h, false
	}
	j, err := ReadFile(p)
	if errors.Is(err, ErrTorn) {
		return h, false
	}
	return h, err != nil || j.Incomplete()
}

// tailFinished reports whether a journal's last bytes are an end marker
// that leaves nothing to do: an undone or rolled-forward marker, or an
// applied marker with status 0 right after the prepared marker, counting
// as many writes as the prepared marker has records (see doc.go). It only
// skips work: anything else is read whole.
func tailFinished(f io.ReaderAt, size int64) bool {
	const prepLen = 1 + 4 + 32
	if size < endMarkerLen+prepLen {
		return false
	}
	b := make([]byte, endMarkerLen+prepLen)
	if _, err := f.ReadAt(b, size-int64(len(b))); err != nil {
		return false
	}
	prep, end := b[:prepLen], b[prepLen:]
	switch end[0] {
	case tagUndone, tagRolledForward:
		return end[5] == 0
	case tagApplied:
		return end[5] == statusApplied && prep[0] == tagPrepared &&
			binary.LittleEndian.Uint32(end[1:]) == binary.LittleEndian.Uint32(prep[1:])
	}
	return false
}
