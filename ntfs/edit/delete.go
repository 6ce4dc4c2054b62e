package edit

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/unbrick/unbrick/ntfs"
	"github.com/unbrick/unbrick/ntfs/internal/utf16le"
)

// DeleteOptions control PlanDelete.
type DeleteOptions struct {
	// Unclean and Hibernated are the policies for an unclean journal and a
	// live hibernation image (default: refuse).
	Unclean    ntfs.UncleanPolicy
	Hibernated ntfs.HibernatedPolicy
	// Now gives the time written into the parent directory's
	// $STANDARD_INFORMATION (modification and MFT-change times); default
	// time.Now.
	Now func() time.Time
}

// PlanDelete plans the deletion of the file at path: the exact sector
// writes, in crash-safe order, with before- and after-images. Nothing is
// written; Apply carries the plan out. A file with an object ID also
// leaves the $Extend\$ObjId index (objid.go). Files this package does not
// handle (directories, reparse points, hard links, system files) and
// unsafe volume states (unclean journal, live hibernation image, stale
// $MFTMirr) are refused with a *ntfs.RefusedError unless opts allows the
// state. A missing file is ntfs.ErrNotFound.
func PlanDelete(v *ntfs.Volume, path string, opts DeleteOptions) (*Plan, error) {
	if err := checkMFTMirr(v); err != nil {
		return nil, err
	}
	p := newPlanner(v)
	notes, _, err := p.prepare(opts.Unclean, opts.Hibernated)
	if err != nil {
		return nil, err
	}
	f, err := v.Lookup(path)
	if err != nil {
		return nil, fmt.Errorf("ntfs: %s: %w", path, err)
	}
	d, err := p.planDeleteFile(f, path, opts)
	if err != nil {
		return nil, err
	}
	plan, err := p.finish()
	if err != nil {
		return nil, err
	}
	plan.Deleted = append(plan.Deleted, *d)
	plan.Notes = append(plan.Notes, notes...)
	return plan, nil
}

// targetName is one $FILE_NAME of the file to delete.
type targetName struct {
	fn   *ntfs.FileName
	ns   uint8
	name []uint16
}

// checkDeletable refuses what this package does not delete and returns the
// file's names (DOS names first) and its parent reference.
func checkDeletable(f *ntfs.File, path string) ([]targetName, ntfs.FileRef, error) {
	n := f.Base.Number
	switch {
	case !f.Base.InUse():
		return nil, 0, ntfs.Corrupt(fmt.Sprintf("MFT record %d", n), ntfs.MFTOffFlags, "flags", "is not in use")
	case f.Base.BaseRef != 0:
		return nil, 0, ntfs.Corrupt(fmt.Sprintf("MFT record %d", n), ntfs.MFTOffBaseRef, "base record reference", "is an extension record")
	case n < 24 || f.Base.Flags&(ntfs.RecordInExtend|ntfs.RecordViewIndex) != 0:
		return nil, 0, refuse("", "%s is an NTFS system file (MFT record %d)", path, n)
	case f.IsDir():
		return nil, 0, refuse("Delete the files inside it one by one", "%s is a directory; this tool deletes files only", path)
	case f.FindAttr(ntfs.AttrReparsePoint, "") != nil:
		return nil, 0, refuse("", "%s is a reparse point (symbolic link, junction, deduplicated or cloud file); removing its $Reparse index entry is not implemented", path)
	}
	for _, a := range f.Attrs {
		if a.Type == ntfs.AttrStandardInformation && !a.NonResident {
			if si, err := ntfs.ParseStandardInformation(a.Value); err == nil && si.FileAttributes&ntfs.FileAttrReparsePoint != 0 {
				return nil, 0, refuse("", "%s is marked as a reparse point", path)
			}
		}
	}
	var names []targetName
	var parent ntfs.FileRef
	nonDOS := 0
	for _, a := range f.AttrsOf(ntfs.AttrFileName, "") {
		if a.NonResident {
			return nil, 0, ntfs.Corrupt(fmt.Sprintf("MFT record %d", n), -1, "$FILE_NAME", "non-resident $FILE_NAME")
		}
		fn, err := ntfs.ParseFileName(a.Value)
		if err != nil {
			return nil, 0, fmt.Errorf("ntfs: MFT record %d: %w", n, err)
		}
		if parent == 0 {
			parent = fn.Parent
		} else if fn.Parent != parent {
			return nil, 0, refuse("", "%s has names in two directories (hard link): not deleting", path)
		}
		ns := uint8(fn.Namespace)
		if ns != uint8(ntfs.NamespaceDOS) {
			nonDOS++
		}
		names = append(names, targetName{fn: fn, ns: ns, name: fn.NameUTF16})
	}
	if len(names) == 0 {
		return nil, 0, ntfs.Corrupt(fmt.Sprintf("MFT record %d", n), -1, "$FILE_NAME", "has no $FILE_NAME")
	}
	dos := 0
	for _, t := range names {
		if t.ns == uint8(ntfs.NamespaceDOS) {
			dos++
		}
	}
	switch {
	case nonDOS > 1:
		return nil, 0, refuse("", "%s has %d hard links; deleting one link is not implemented", path, nonDOS)
	case dos > 1 || (dos == 1 && !hasNS(names, ntfs.NamespaceWin32)):
		return nil, 0, ntfs.Corrupt(fmt.Sprintf("MFT record %d", n), -1, "$FILE_NAME", "a DOS name without its Win32 name")
	case int(f.Base.LinkCount) != len(names):
		return nil, 0, ntfs.Corrupt(fmt.Sprintf("MFT record %d", n), ntfs.MFTOffLinkCount, "link count", "link count %d but %d $FILE_NAME attributes (run chkdsk)", f.Base.LinkCount, len(names))
	}
	// DOS name first, as ntfs-3g removes them.
	sort.SliceStable(names, func(i, j int) bool {
		return names[i].ns == uint8(ntfs.NamespaceDOS) && names[j].ns != uint8(ntfs.NamespaceDOS)
	})
	return names, parent, nil
}

func hasNS(names []targetName, ns ntfs.Namespace) bool {
	for _, t := range names {
		if t.ns == uint8(ns) {
			return true
		}
	}
	return false
}

// planDeleteFile records the commits that delete f.
func (p *planner) planDeleteFile(f *ntfs.File, path string, opts DeleteOptions) (*DeletedFile, error) {
	v := p.v
	names, parentRef, err := checkDeletable(f, path)
	if err != nil {
		return nil, err
	}
	if parentRef.Record() == ntfs.RecordExtend {
		return nil, refuse("", "%s is an NTFS metadata file in $Extend", path)
	}
	dir, err := v.OpenRef(parentRef)
	if err != nil {
		return nil, fmt.Errorf("ntfs: parent directory of %s: %w", path, err)
	}
	if !dir.IsDir() {
		return nil, ntfs.Corrupt(fmt.Sprintf("MFT record %d", parentRef.Record()), ntfs.MFTOffFlags, "flags", "parent %v of %s is not a directory", parentRef, path)
	}
	// Parent times first, so that every later commit of the parent's base
	// record carries them.
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	pri, err := p.rec(dir.Base.Number)
	if err != nil {
		return nil, err
	}
	siOff, err := pri.findAttr(ntfs.AttrStandardInformation, "", -1)
	if err != nil {
		return nil, err
	}
	si, err := pri.residentValue(siOff)
	if err != nil || len(si) < 32 {
		return nil, ntfs.Corrupt(fmt.Sprintf("parent directory record %d", dir.Base.Number), int64(siOff), "$STANDARD_INFORMATION", "bad $STANDARD_INFORMATION")
	}
	parentBefore := append([]byte(nil), si...)
	t := ntfsTimestamp(now())
	binary.LittleEndian.PutUint64(si[8:], t)  // last data change
	binary.LittleEndian.PutUint64(si[16:], t) // last MFT change

	ra := dir.FindAttr(ntfs.AttrIndexRoot, "$I30")
	if ra == nil {
		return nil, ntfs.Corrupt(fmt.Sprintf("parent directory record %d", dir.Base.Number), -1, "$INDEX_ROOT", "has no $I30 index root")
	}
	rootRec, err := p.rec(ra.Record)
	if err != nil {
		return nil, err
	}
	tree, err := newDirTree(p, dir, rootRec)
	if err != nil {
		return nil, err
	}
	// The object ID's $O entry is found before anything is planned, so
	// that a missing or damaged $ObjId refuses the whole delete.
	obj, err := p.findObjectID(f, path)
	if err != nil {
		return nil, err
	}
	ref := f.Ref()
	d := &DeletedFile{Path: path, Record: f.Base.Number, Sequence: f.Base.Sequence, ParentRecord: dir.Base.Number}
	for _, tn := range names {
		label := fmt.Sprintf("%q (%s)", utf16le.Decode(unitsToBytes(tn.name)), ntfs.Namespace(tn.ns))
		d.Names = append(d.Names, utf16le.Decode(unitsToBytes(tn.name)))
		pth, err := tree.findName(tn.name, tn.ns, ref)
		if errors.Is(err, errNameNotIndexed) {
			return nil, refuse("Run chkdsk on Windows first", "%s: name %s is not in its directory's index (the volume is inconsistent)", path, label)
		}
		if err != nil {
			return nil, err
		}
		// Blocks emptied by this name's removal are freed once the parent
		// no longer points to them.
		if err := tree.removeEntry(pth, label); err != nil {
			return nil, wrapSplit(err, path)
		}
	}
	d.IndexNodesEdit = tree.commits
	// Then the $ObjId entry (as ntfs-3g dir.c ntfs_delete does, once the
	// last name is gone): the file is unreachable by name, its record
	// still in use, so a cut before or after this step leaves an orphan
	// record, never an index entry naming a freed record.
	if obj != nil {
		if err := obj.remove(); err != nil {
			return nil, err
		}
		d.ObjectID = obj.id
		d.IndexNodesEdit += obj.tree.commits
	}

	// Free the base record, then its extension records (an $ATTRIBUTE_LIST
	// file): in use cleared, sequence number advanced (0xFFFF wraps to 1, 0
	// stays 0: ntfs-3g mft.c ntfs_mft_record_free), no links. Base first:
	// once it is free nothing reads its attribute list, so extension
	// records still marked in use are orphans (a leak), never a base
	// record naming freed extensions.
	recs := append([]*ntfs.Record{f.Base}, f.Extensions...)
	var mftBits []bitRange
	for k, r := range recs {
		ri, err := p.rec(r.Number)
		if err != nil {
			return nil, err
		}
		seq := r.Sequence
		switch seq {
		case 0xFFFF:
			seq = 1
		case 0:
		default:
			seq++
		}
		ri.put16(ntfs.MFTOffFlags, ri.u16(ntfs.MFTOffFlags)&^ntfs.RecordInUse)
		ri.put16(ntfs.MFTOffSequence, seq)
		ri.put16(ntfs.MFTOffLinkCount, 0)
		what := fmt.Sprintf("MFT record %d (%s): freed (in use cleared, sequence %d -> %d, links 0)", r.Number, path, r.Sequence, seq)
		if k == 0 {
			d.NewSequence = seq
		} else {
			what = fmt.Sprintf("MFT record %d (extension record of %d): freed (in use cleared, sequence %d -> %d)", r.Number, f.Base.Number, r.Sequence, seq)
		}
		if err := p.commitRecordImage(ri, what); err != nil {
			return nil, err
		}
		mftBits = append(mftBits, bitRange{int64(r.Number), 1})
	}
	mft, err := v.OpenRef(ntfs.MakeRef(ntfs.RecordMFT, 0))
	if err != nil {
		return nil, err
	}
	if err := p.clearBits(mft, ntfs.AttrBitmap, "", mftBits, fmt.Sprintf("$MFT:$BITMAP record(s) of %s freed", path)); err != nil {
		return nil, err
	}
	// Clusters of every non-resident attribute (every extent), and of a
	// non-resident $ATTRIBUTE_LIST itself.
	nonres := append([]*ntfs.Attribute(nil), f.Attrs...)
	if al := f.Base.FindAttr(ntfs.AttrAttributeList, ""); al != nil {
		listed := false
		for _, a := range f.Attrs {
			listed = listed || a == al
		}
		if !listed {
			nonres = append(nonres, al)
		}
	}
	var clusters []bitRange
	for _, a := range nonres {
		if !a.NonResident {
			continue
		}
		for _, r := range runRanges(a.Runs) {
			if r.Start+r.Len > v.Boot().TotalClusters() {
				return nil, ntfs.Corrupt(path, -1, "run list", "run at cluster %d (+%d) lies past the volume", r.Start, r.Len)
			}
			clusters = append(clusters, r)
			d.FreedClusters += r.Len
		}
	}
	if a := f.FindAttr(ntfs.AttrData, ""); a != nil && a.NonResident {
		d.Size = a.DataSize
	}
	if a := f.FindAttr(ntfs.AttrData, ""); a != nil && !a.NonResident {
		d.Size = int64(len(a.Value))
	}
	bm, err := v.OpenRef(ntfs.MakeRef(ntfs.RecordBitmap, 0))
	if err != nil {
		return nil, err
	}
	if err := p.clearBits(bm, ntfs.AttrData, "", clusters, fmt.Sprintf("$Bitmap: clusters of %s freed", path)); err != nil {
		return nil, err
	}
	// The parent's times, unless a commit of its base record already
	// carried them.
	if !p.committed(fmt.Sprintf("rec:%d", dir.Base.Number)) && !bytes.Equal(parentBefore, si) {
		if err := p.commitRecordImage(pri, fmt.Sprintf("MFT record %d (parent directory): modification times", dir.Base.Number)); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func (p *planner) committed(key string) bool {
	for _, c := range p.commits {
		if c.key == key {
			return true
		}
	}
	return false
}

func wrapSplit(err error, path string) error {
	var ns *needsSplitError
	if errors.As(err, &ns) {
		return refuse("Delete it with Windows (or chkdsk-checked tools) instead", "deleting %s: %v", path, ns)
	}
	return err
}

// ntfsTimestamp converts a time to NTFS time (100 ns units since 1601).
func ntfsTimestamp(t time.Time) uint64 {
	const epochDelta = 116444736000000000 // 1601-01-01 to 1970-01-01 in 100 ns
	return uint64(t.UnixNano()/100 + epochDelta)
}

// checkMFTMirr refuses when $MFTMirr does not match the records of $MFT
// Windows keeps in step (records 0-3; see ntfs.MFTMirror), compared over each
// record's bytes in use, as ntfs-3g does when it mounts ("$MFTMirr does
// not match $MFT"). Copies past record 3 are not compared: Windows lets
// them go stale when the mirror holds more (clusters above 4 KiB).
func checkMFTMirr(v *ntfs.Volume) error {
	const fix = "Run chkdsk on Windows (or ntfsfix) to repair the mirror, then retry"
	m, err := v.MFTMirror()
	if err != nil {
		return refuse(fix, "%v", err)
	}
	if m.InStep() < ntfs.MirrorInStep {
		return refuse(fix, "$MFTMirr holds %d MFT record(s), fewer than the %d Windows keeps: the volume is inconsistent", m.Held, ntfs.MirrorInStep)
	}
	rs := v.Boot().RecordSize
	read := func(exts []ntfs.Extent, what string) ([]byte, error) {
		b := make([]byte, 0, rs)
		for _, e := range exts {
			c := make([]byte, e.Length)
			if n, err := v.Device().ReadAt(c, e.Offset); n < len(c) {
				return nil, fmt.Errorf("ntfs: read %s: %w", what, eofIsUnexpected(err))
			}
			b = append(b, c...)
		}
		if len(b) != rs {
			return nil, ntfs.Corrupt(what, -1, "run list", "%d of %d bytes mapped", len(b), rs)
		}
		return b, nil
	}
	for i := 0; i < m.InStep(); i++ {
		exts, err := v.RecordExtents(uint64(i))
		if err != nil {
			return err
		}
		a, err := read(exts, fmt.Sprintf("MFT record %d", i))
		if err != nil {
			return err
		}
		if exts, err = m.RecordExtents(uint64(i), rs); err != nil {
			return err
		}
		b, err := read(exts, fmt.Sprintf("$MFTMirr record %d", i))
		if err != nil {
			return err
		}
		l := rs
		if string(a[:4]) == "FILE" {
			if u := int(binary.LittleEndian.Uint32(a[24:])); u > 0 && u <= rs {
				l = u
			}
		}
		if !bytes.Equal(a[:l], b[:l]) {
			return refuse(fix, "$MFTMirr does not match $MFT (record %d): the volume is inconsistent", i)
		}
	}
	return nil
}
