package durable

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// SyncDir makes the directory entries of dir (files created, renamed or
// removed in it) durable. It fails when dir is missing or not a
// directory. See the package documentation for what it does on each
// platform.
func SyncDir(dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("sync directory %s: %w (check that the directory exists and is readable)", dir, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("sync directory %s: not a directory", dir)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("sync directory %s: %w (check the permissions of the directory and the health of its file system)", dir, err)
	}
	return nil
}

// Rename replaces newpath by oldpath atomically and durably: once it has
// returned, a power cut leaves newpath with the content oldpath had.
// oldpath's data must have been flushed already ((*os.File).Sync, as
// WriteFile does). Both paths should be on one volume; across volumes the
// move is not atomic and is refused on Unix.
func Rename(oldpath, newpath string) error {
	if err := rename(oldpath, newpath); err != nil {
		return fmt.Errorf("replace %s by %s: %w", newpath, oldpath, err)
	}
	return nil
}

// WriteFile replaces the file at path by data atomically and durably: a
// temporary file beside it (path + ".tmp") is written, flushed and
// renamed over path with Rename. A power cut leaves the old or the new
// content, and perhaps the temporary file, never a mix. perm applies to
// a newly created file.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return fmt.Errorf("write %s: %w (check that its directory exists and is writable)", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w (is the disk full?)", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("flush %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err := Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// MkdirAll creates dir and any missing parents (like os.MkdirAll) and
// makes each new directory's entry durable with SyncDir on its parent.
// A dir that already exists is left as it is.
func MkdirAll(dir string, perm fs.FileMode) error {
	dir = filepath.Clean(dir)
	// Find the directories that do not exist yet, innermost first.
	var missing []string
	for d := dir; ; {
		_, err := os.Stat(d)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("create directory %s: %w", dir, err)
		}
		missing = append(missing, d)
		parent := filepath.Dir(d)
		if parent == d {
			break
		}
		d = parent
	}
	if err := os.MkdirAll(dir, perm); err != nil {
		return fmt.Errorf("create directory %s: %w (check the permissions of its parent)", dir, err)
	}
	// Outermost first, so each entry is durable before the one inside it.
	for i := len(missing) - 1; i >= 0; i-- {
		if err := SyncDir(filepath.Dir(missing[i])); err != nil {
			return fmt.Errorf("create directory %s: %w", dir, err)
		}
	}
	return nil
}
