package ntfs

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
)

// SplitPath splits a path with "/" or "\" separators into its components,
// dropping empty ones and ".". A leading drive letter ("C:") is ignored.
func SplitPath(path string) []string {
	if len(path) >= 2 && path[1] == ':' && (path[0]|0x20) >= 'a' && (path[0]|0x20) <= 'z' {
		path = path[2:]
	}
	var out []string
	for _, c := range strings.FieldsFunc(path, func(r rune) bool { return r == '/' || r == '\\' }) {
		if c != "." {
			out = append(out, c)
		}
	}
	return out
}

// Lookup finds the file at path ("/" or "\" separated, case-insensitive
// through $UpCase, relative to the root directory) by B-tree descent of
// each directory's $I30 index. It returns an error wrapping ErrNotFound
// when a component does not exist, ErrNotDirectory when a non-final
// component is not a directory.
func (v *Volume) Lookup(path string) (*File, error) {
	return v.lookup(path, nil)
}

// lookupStats counts the work a lookup did (tests).
type lookupStats struct {
	nodesRead int
	records   int
}

func (v *Volume) lookup(path string, st *lookupStats) (*File, error) {
	f, err := v.OpenRef(MakeRef(RecordRoot, 0))
	if err != nil {
		return nil, fmt.Errorf("ntfs: root directory: %w", err)
	}
	stack := []*File{f}
	parts := SplitPath(path)
	for i, name := range parts {
		cur := stack[len(stack)-1]
		if name == ".." {
			if len(stack) > 1 {
				stack = stack[:len(stack)-1]
			}
			continue
		}
		done := strings.Join(parts[:i], "/")
		ix, err := cur.OpenIndex("$I30")
		if err != nil {
			if errors.Is(err, ErrNotDirectory) {
				return nil, fmt.Errorf("%w: %q", ErrNotDirectory, "/"+done)
			}
			return nil, fmt.Errorf("ntfs: open directory %q: %w", "/"+done, err)
		}
		hit, err := ix.FindName(utf16.Encode([]rune(name)))
		if st != nil {
			st.nodesRead += ix.NodesRead
		}
		if err != nil {
			if errors.Is(err, ErrNotFound) {
				return nil, fmt.Errorf("%w: %q has no entry %q", ErrNotFound, "/"+done, name)
			}
			return nil, fmt.Errorf("ntfs: search %q in %q: %w", name, "/"+done, err)
		}
		next, err := v.OpenRef(hit.Entry.FileRef)
		if st != nil {
			st.records++
		}
		if err != nil {
			return nil, fmt.Errorf("ntfs: %q in %q: %w", name, "/"+done, err)
		}
		stack = append(stack, next)
	}
	return stack[len(stack)-1], nil
}

// LookupEntry finds the directory entry for path's last component: the
// parent directory's index, and the hit (entry, node, path of nodes).
// Deleting a name needs exactly this.
func (v *Volume) LookupEntry(path string) (*Index, *IndexHit, error) {
	parts := SplitPath(path)
	if len(parts) == 0 {
		return nil, nil, fmt.Errorf("ntfs: the root directory has no directory entry")
	}
	dir, err := v.Lookup(strings.Join(parts[:len(parts)-1], "/"))
	if err != nil {
		return nil, nil, err
	}
	ix, err := dir.OpenIndex("$I30")
	if err != nil {
		return nil, nil, err
	}
	hit, err := ix.FindName(utf16.Encode([]rune(parts[len(parts)-1])))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %q", err, path)
	}
	return ix, hit, nil
}
