package ntfs

import "fmt"

// DirEntry is one entry of a directory's $I30 index. Every name of a file
// is its own entry: a file with a long and a DOS (8.3) name appears twice,
// once with NamespaceWin32 and once with NamespaceDOS. FileName is the
// index key, a copy of the file's $FILE_NAME: its times and sizes are as
// of the last name change and are often stale; Stat reads the record.
type DirEntry struct {
	Name      string
	Namespace Namespace
	Ref       FileRef
	IsDir     bool
	FileName  *FileName
}

// IsDOS reports whether the entry is a DOS-only (8.3) alias of a name
// listed in its own entry.
func (d DirEntry) IsDOS() bool { return d.Namespace == NamespaceDOS }

// ReadDir lists the directory at path in index (collation) order by a full
// in-order walk of its $I30 B-tree, DOS names included and marked. The
// root directory's entry for itself (".") is left out.
func (v *Volume) ReadDir(path string) ([]DirEntry, error) {
	f, err := v.Lookup(path)
	if err != nil {
		return nil, err
	}
	return f.ReadDir()
}

// ReadDir lists a directory file (see Volume.ReadDir).
func (f *File) ReadDir() ([]DirEntry, error) {
	ix, err := f.OpenIndex("$I30")
	if err != nil {
		return nil, err
	}
	var out []DirEntry
	var prev *FileName
	err = ix.Walk(func(_ *IndexNode, e *IndexEntry) error {
		fn := e.FileName
		if prev != nil && CollateFileNames(f.v.upcase, prev.NameUTF16, fn.NameUTF16) >= 0 {
			return Corrupt(fmt.Sprintf("directory record %d", f.Base.Number), -1, "index entry", "index entries %q and %q are out of order", prev.Name, fn.Name)
		}
		prev = fn
		if e.FileRef.Record() == f.Base.Number {
			// The root directory indexes itself as ".": not a child.
			return nil
		}
		if fn.Parent.Record() != f.Base.Number {
			return Corrupt(fmt.Sprintf("directory record %d", f.Base.Number), -1, "parent reference", "entry %q names parent %v", fn.Name, fn.Parent)
		}
		out = append(out, DirEntry{
			Name:      fn.Name,
			Namespace: fn.Namespace,
			Ref:       e.FileRef,
			IsDir:     fn.FileAttributes&FileAttrDupDirectory != 0,
			FileName:  fn,
		})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ntfs: read directory: %w", err)
	}
	return out, nil
}
