package edit

import (
	"bytes"
	"fmt"
	"sort"

	"github.com/unbrick/unbrick/ntfs"
)

// Overwriting bytes of an existing file's data in place (PlanOverwrite):
// the change unbrick makes to a registry hive (package internal/regf plans
// which bytes). Nothing about the file changes but those bytes: no
// allocation, no size or initialized-size change, no run list change. A
// non-resident stream's bytes are written in its clusters (through the run
// list: ntfs.RunReader.Extents), only the sectors that hold changed bytes;
// a resident stream's bytes are in its MFT record, which is written whole
// with a fresh update sequence number (and its $MFTMirr copy when the
// mirror holds it), as every record write of this package is.
//
// Not changed: $STANDARD_INFORMATION and $FILE_NAME times (the file's
// modification time stays as Windows left it), the $UsnJrnl change journal,
// which is not written by any edit of this package.
//
// Refused (*ntfs.RefusedError, nothing planned): a directory, a
// compressed or encrypted stream (its clusters do not hold the bytes
// as read), a WOF or dedup placeholder, bytes in a sparse hole or at or
// past the initialized size (they read as zeros and have no clusters, or
// would need the initialized size moved), overlapping writes, and the same
// volume states PlanDelete refuses (the write gate). Bytes that no longer
// hold FileWrite.Before are a *FileChangedError.

// FileWrite is a change of existing bytes of a stream: at Offset the
// stream holds Before now and is to hold After (same length).
type FileWrite struct {
	Offset int64
	Before []byte
	After  []byte
}

// OverwriteOptions control PlanOverwrite.
type OverwriteOptions struct {
	// Stream names the $DATA stream ("" = the unnamed, main stream).
	Stream string
	// Unclean and Hibernated are the policies for an unclean journal and a
	// live hibernation image (default: refuse), as for PlanDelete.
	Unclean    ntfs.UncleanPolicy
	Hibernated ntfs.HibernatedPolicy
}

// FileChangedError: the file does not hold a FileWrite's before-image.
// Nothing was planned.
type FileChangedError struct {
	Path   string
	Offset int64 // offset in the stream of the FileWrite
}

func (e *FileChangedError) Error() string {
	return fmt.Sprintf("%s: the bytes at offset %#x are not the expected before-image (the file changed since it was read): nothing was planned; read it and plan again", e.Path, e.Offset)
}

// PlanOverwrite plans writing each FileWrite's After over the bytes of the
// file at path, in place. Nothing is written; Apply carries the plan out.
func PlanOverwrite(v *ntfs.Volume, path string, writes []FileWrite, opts OverwriteOptions) (*Plan, error) {
	if err := checkMFTMirr(v); err != nil {
		return nil, err
	}
	f, err := v.Lookup(path)
	if err != nil {
		return nil, fmt.Errorf("ntfs: %s: %w", path, err)
	}
	r, err := f.OpenStream(opts.Stream) // refuses directories, WOF/dedup placeholders, encrypted streams
	if err != nil {
		return nil, fmt.Errorf("ntfs: %s: %w", path, err)
	}
	ext := f.AttrsOf(ntfs.AttrData, opts.Stream)
	first := ext[0] // OpenStream found the stream
	if first.Compressed() {
		return nil, refuse("", "%s: the stream is compressed: its clusters do not hold the bytes as read, so they cannot be changed in place", path)
	}
	ws := append([]FileWrite(nil), writes...)
	sort.SliceStable(ws, func(i, j int) bool { return ws[i].Offset < ws[j].Offset })
	for i, w := range ws {
		if len(w.After) == 0 || len(w.Before) != len(w.After) {
			return nil, fmt.Errorf("ntfs: %s: write at %#x: before-image of %d bytes, after-image of %d", path, w.Offset, len(w.Before), len(w.After))
		}
		end := w.Offset + int64(len(w.After))
		if w.Offset < 0 || end > r.Size() {
			return nil, refuse("", "%s: write %#x..%#x lies outside the %d-byte stream (this edit never changes a file's size)", path, w.Offset, end, r.Size())
		}
		if first.NonResident && end > first.InitializedSize {
			return nil, refuse("", "%s: write %#x..%#x reaches past the initialized size %d (those bytes read as zeros and are not stored)", path, w.Offset, end, first.InitializedSize)
		}
		if i > 0 && ws[i-1].Offset+int64(len(ws[i-1].After)) > w.Offset {
			return nil, fmt.Errorf("ntfs: %s: writes at %#x and %#x overlap", path, ws[i-1].Offset, w.Offset)
		}
		cur := make([]byte, len(w.Before))
		if n, err := r.ReadAt(cur, w.Offset); n < len(cur) {
			return nil, fmt.Errorf("ntfs: %s: read %d bytes at %#x: %w", path, len(cur), w.Offset, eofIsUnexpected(err))
		}
		if !bytes.Equal(cur, w.Before) {
			return nil, &FileChangedError{Path: path, Offset: w.Offset}
		}
	}

	p := newPlanner(v)
	notes, _, err := p.prepare(opts.Unclean, opts.Hibernated)
	if err != nil {
		return nil, err
	}
	if first.NonResident {
		ra, _, err := f.AttrReader(ntfs.AttrData, opts.Stream)
		if err != nil {
			return nil, err
		}
		rr, ok := ra.(*ntfs.RunReader)
		if !ok {
			return nil, fmt.Errorf("ntfs: %s: no run list reader for the stream", path)
		}
		for _, w := range ws {
			exts, err := rr.Extents(w.Offset, len(w.After))
			if err != nil {
				return nil, refuse("", "%s: bytes %#x..%#x are not all stored in clusters (sparse hole?): %v", path, w.Offset, w.Offset+int64(len(w.After)), err)
			}
			pos := 0
			for _, e := range exts {
				what := fmt.Sprintf("%s data bytes %#x..%#x (MFT record %d)", path, w.Offset+int64(pos), w.Offset+int64(pos+e.Length), f.Base.Number)
				if err := p.commitVolumeBytes(fmt.Sprintf("data:%d:%d", f.Base.Number, e.Offset), e.Offset, w.After[pos:pos+e.Length], what); err != nil {
					return nil, err
				}
				pos += e.Length
			}
		}
	} else {
		num := f.RecordOf(first).Number
		ri, err := p.rec(num)
		if err != nil {
			return nil, err
		}
		off, err := ri.findAttr(ntfs.AttrData, opts.Stream, int(first.Instance))
		if err != nil {
			return nil, err
		}
		val, err := ri.residentValue(off)
		if err != nil {
			return nil, err
		}
		for _, w := range ws {
			if w.Offset+int64(len(w.After)) > int64(len(val)) {
				return nil, fmt.Errorf("ntfs: %s: resident value of %d bytes changed under the planner", path, len(val))
			}
			copy(val[w.Offset:], w.After)
		}
		if err := p.commitRecordImage(ri, fmt.Sprintf("MFT record %d (%s): resident data overwritten in place", num, path)); err != nil {
			return nil, err
		}
	}
	plan, err := p.finish()
	if err != nil {
		return nil, err
	}
	plan.Notes = append(plan.Notes, notes...)
	return plan, nil
}
