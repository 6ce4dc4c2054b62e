package ntfs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
)

// File is an in-use base MFT record together with its extension records
// (when it has an $ATTRIBUTE_LIST) and all its attributes.
type File struct {
	v          *Volume
	Base       *Record
	Extensions []*Record       // extension records, in the order the attribute list names them
	AttrList   []AttrListEntry // nil without an $ATTRIBUTE_LIST
	Attrs      []*Attribute    // every attribute: the base record's, or the attribute list's order
	byRecord   map[uint64]*Record
}

// Ref is the file's MFT reference (record number and sequence number).
func (f *File) Ref() FileRef { return f.Base.Ref() }

// IsDir reports whether the file is a directory (has a $I30 index).
func (f *File) IsDir() bool {
	return f.Base.IsDir() || f.FindAttr(AttrIndexRoot, "$I30") != nil
}

// FindAttr returns the first attribute (lowest VCN extent) of a type and
// name, or nil.
func (f *File) FindAttr(t AttrType, name string) *Attribute {
	var best *Attribute
	for _, a := range f.Attrs {
		if a.Type == t && a.Name == name && (best == nil || a.LowestVCN < best.LowestVCN) {
			best = a
		}
	}
	return best
}

// AttrsOf returns every attribute (every extent) of a type and name,
// sorted by lowest VCN.
func (f *File) AttrsOf(t AttrType, name string) []*Attribute {
	var out []*Attribute
	for _, a := range f.Attrs {
		if a.Type == t && a.Name == name {
			out = append(out, a)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].LowestVCN < out[j].LowestVCN })
	return out
}

// RecordOf returns the record (base or extension) an attribute lives in.
func (f *File) RecordOf(a *Attribute) *Record {
	if r, ok := f.byRecord[a.Record]; ok {
		return r
	}
	return f.Base
}

// OpenRef opens the file with MFT reference ref. A sequence number of 0 in
// ref matches any; otherwise it must equal the record's (a mismatch means
// a stale reference to a deleted and reused record).
func (v *Volume) OpenRef(ref FileRef) (*File, error) {
	rec, err := v.ReadRecord(ref.Record())
	if err != nil {
		return nil, err
	}
	if !rec.InUse() {
		return nil, Corrupt(fmt.Sprintf("MFT record %d", ref.Record()), MFTOffFlags, "flags", "is not in use (stale reference %v)", ref)
	}
	if ref.Seq() != 0 && rec.Sequence != ref.Seq() {
		return nil, Corrupt(fmt.Sprintf("MFT record %d", ref.Record()), MFTOffSequence, "sequence number", "reference %v is stale: MFT record %d has sequence number %d", ref, ref.Record(), rec.Sequence)
	}
	if rec.BaseRef != 0 {
		return nil, Corrupt(fmt.Sprintf("MFT record %d", ref.Record()), MFTOffBaseRef, "base record reference", "is an extension record of %v, not a file", rec.BaseRef)
	}
	return v.fileFromRecord(rec)
}

// maxAttrList bounds an $ATTRIBUTE_LIST read into memory.
const maxAttrList = 4 << 20

func (v *Volume) fileFromRecord(rec *Record) (*File, error) {
	f := &File{v: v, Base: rec, byRecord: map[uint64]*Record{rec.Number: rec}}
	al := rec.FindAttr(AttrAttributeList, "")
	if al == nil {
		f.Attrs = rec.Attributes
		return f, nil
	}
	var val []byte
	if !al.NonResident {
		val = al.Value
	} else {
		if al.DataSize > maxAttrList {
			return nil, Corrupt(fmt.Sprintf("MFT record %d", rec.Number), int64(al.Offset), "$ATTRIBUTE_LIST", "$ATTRIBUTE_LIST of %d bytes is implausibly large", al.DataSize)
		}
		rr, err := newRunReader(v.r, int64(v.boot.ClusterSize), v.boot.TotalClusters(), al.Runs, al.DataSize, al.InitializedSize, "$ATTRIBUTE_LIST")
		if err != nil {
			return nil, err
		}
		val = make([]byte, al.DataSize)
		if _, err := rr.ReadAt(val, 0); err != nil && err != io.EOF {
			return nil, fmt.Errorf("ntfs: MFT record %d: read $ATTRIBUTE_LIST: %w", rec.Number, err)
		}
	}
	entries, err := ParseAttributeList(val)
	if err != nil {
		return nil, fmt.Errorf("ntfs: MFT record %d: %w", rec.Number, err)
	}
	f.AttrList = entries
	for _, e := range entries {
		r, ok := f.byRecord[e.Ref.Record()]
		if !ok {
			r, err = v.ReadRecord(e.Ref.Record())
			if err != nil {
				return nil, fmt.Errorf("ntfs: extension record of %d: %w", rec.Number, err)
			}
			if !r.InUse() || r.BaseRef.Record() != rec.Number || r.Sequence != e.Ref.Seq() {
				return nil, Corrupt(fmt.Sprintf("MFT record %d", rec.Number), -1, "$ATTRIBUTE_LIST", "attribute list names record %v, which is not its in-use extension record", e.Ref)
			}
			f.byRecord[r.Number] = r
			f.Extensions = append(f.Extensions, r)
		}
		var found *Attribute
		for _, a := range r.Attributes {
			if a.Type == e.Type && a.Name == e.Name && a.Instance == e.Instance {
				found = a
				break
			}
		}
		if found == nil {
			return nil, Corrupt(fmt.Sprintf("MFT record %d", rec.Number), int64(e.Offset), "$ATTRIBUTE_LIST", "attribute list entry %v %q (instance %d) not found in record %d", e.Type, e.Name, e.Instance, r.Number)
		}
		f.Attrs = append(f.Attrs, found)
	}
	return f, nil
}

var errNoAttr = errors.New("ntfs: attribute not present")

// AttrReader returns a reader over the whole value of the attribute (type,
// name): a resident value, or the clusters of all its extents, with
// sparse holes and the tail past the initialized size reading as zeros.
// It also returns the value's size. A non-resident value's reader is a
// *RunReader.
func (f *File) AttrReader(t AttrType, name string) (io.ReaderAt, int64, error) {
	ext := f.AttrsOf(t, name)
	if len(ext) == 0 {
		return nil, 0, fmt.Errorf("%w: %v %q", errNoAttr, t, name)
	}
	first := ext[0]
	if !first.NonResident {
		if len(ext) > 1 {
			return nil, 0, Corrupt(fmt.Sprintf("MFT record %d", f.Base.Number), -1, t.String(), "resident %v has several instances", t)
		}
		return bytes.NewReader(first.Value), int64(len(first.Value)), nil
	}
	if first.LowestVCN != 0 {
		return nil, 0, Corrupt(fmt.Sprintf("MFT record %d", f.Base.Number), -1, t.String(), "%v has no extent starting at VCN 0", t)
	}
	var runs []Run
	next := int64(0)
	for _, a := range ext {
		if !a.NonResident || a.LowestVCN != next {
			return nil, 0, Corrupt(fmt.Sprintf("MFT record %d", f.Base.Number), -1, t.String(), "%v extents are not contiguous at VCN %d", t, next)
		}
		runs = append(runs, a.Runs...)
		next = a.HighestVCN + 1
	}
	if first.Encrypted() {
		return nil, 0, ErrEncrypted
	}
	cs := int64(f.v.boot.ClusterSize)
	if first.Compressed() {
		return newCompressedReader(f.v, runs, first)
	}
	rr, err := newRunReader(f.v.r, cs, f.v.boot.TotalClusters(), runs, first.DataSize, first.InitializedSize, fmt.Sprintf("MFT record %d %v", f.Base.Number, t))
	if err != nil {
		return nil, 0, err
	}
	return rr, first.DataSize, nil
}

// FileReader reads a file's data stream. It implements io.Reader,
// io.ReaderAt and io.Seeker.
type FileReader struct {
	ra   io.ReaderAt
	size int64
	off  int64
}

// Size is the stream's length in bytes.
func (r *FileReader) Size() int64 { return r.size }

// ReadAt implements io.ReaderAt.
func (r *FileReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("ntfs: negative read offset")
	}
	if off >= r.size {
		return 0, io.EOF
	}
	short := false
	if int64(len(p)) > r.size-off {
		p = p[:r.size-off]
		short = true
	}
	n, err := r.ra.ReadAt(p, off)
	if err == io.EOF && n == len(p) {
		err = nil
	}
	if err == nil && short {
		err = io.EOF
	}
	return n, err
}

// Read implements io.Reader.
func (r *FileReader) Read(p []byte) (int, error) {
	n, err := r.ReadAt(p, r.off)
	r.off += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

// Seek implements io.Seeker.
func (r *FileReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += r.off
	case io.SeekEnd:
		offset += r.size
	default:
		return 0, errors.New("ntfs: bad whence")
	}
	if offset < 0 {
		return 0, errors.New("ntfs: negative seek position")
	}
	r.off = offset
	return offset, nil
}

// OpenStream returns a reader over the file's $DATA stream of the given
// name ("" = the unnamed, main stream).
func (f *File) OpenStream(name string) (*FileReader, error) {
	if name == "" && f.IsDir() {
		return nil, ErrIsDirectory
	}
	if name == "" {
		// The unnamed stream of these files is a sparse placeholder; the
		// real content lives elsewhere and would read as zeros.
		if a := f.FindAttr(AttrReparsePoint, ""); a != nil && !a.NonResident {
			if rp, err := ParseReparsePoint(a.Value); err == nil {
				switch rp.Tag {
				case ReparseTagWOF:
					return nil, fmt.Errorf("%w: WOF-compressed file (Windows CompactOS or compact /exe)", ErrCompressed)
				case ReparseTagDedup:
					return nil, fmt.Errorf("%w: data deduplication reparse point", ErrCompressed)
				}
			}
		}
	}
	ra, size, err := f.AttrReader(AttrData, name)
	if err != nil {
		if errors.Is(err, errNoAttr) {
			return nil, fmt.Errorf("%w: MFT record %d has no $DATA stream %q", ErrNotFound, f.Base.Number, name)
		}
		return nil, err
	}
	return &FileReader{ra: ra, size: size}, nil
}

// Open returns a reader over the main data stream of the file at path.
func (v *Volume) Open(path string) (*FileReader, error) {
	f, err := v.Lookup(path)
	if err != nil {
		return nil, err
	}
	return f.OpenStream("")
}
