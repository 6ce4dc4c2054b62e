package undo

import (
	"bytes"
	"crypto/sha256"
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
// skips the parse: anything else is read whole.
//
// The tag and count checks alone are not enough. A journal cut after its
// prepared marker (a fix killed while writing) ends with the last
// record's CRC byte, then 'P', then the record count; read as an end
// marker, that CRC byte is its tag and the count's top byte (0) its
// status. A CRC byte of 'U' or 'F', about one journal in 128, made such
// an interrupted journal look finished, and the next fix skipped rolling
// it forward. So a tail that looks finished must also carry its checksum:
// every end marker ends with the SHA-256 of every journal byte before
// that field, which a prepared marker (its sum leaves out its own tag and
// count) never matches.
func tailFinished(f io.ReaderAt, size int64) bool {
	if !tailLooksFinished(f, size) {
		return false
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, size-sha256.Size)); err != nil {
		return false
	}
	sum := make([]byte, sha256.Size)
	if _, err := f.ReadAt(sum, size-sha256.Size); err != nil {
		return false
	}
	return bytes.Equal(h.Sum(nil), sum)
}

// tailLooksFinished is tailFinished's tag and count check.
func tailLooksFinished(f io.ReaderAt, size int64) bool {
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
