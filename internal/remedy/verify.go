package remedy

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/unbrick/unbrick/ntfs"
)

// verify re-opens the volume from the disk and checks that every deleted
// file is gone under every name, that its directory still lists, and that
// the system hive is still there.
func (p *pipeline) verify() error {
	nv, err := p.op.Reopen()
	if err != nil {
		return p.verifyFailed(err)
	}
	var gone []ntfs.DeletedFile
	for _, i := range p.faulty {
		gone = append(gone, ntfs.DeletedFile{Path: p.v.Files[i].Path, Record: p.v.Files[i].record})
	}
	if err := checkGone(nv, gone); err != nil {
		return p.verifyFailed(err)
	}
	if _, err := nv.Stat(SystemHive); err != nil {
		return p.verifyFailed(fmt.Errorf("%s: %w", SystemHive, err))
	}
	return nil
}

// VerifyDeleted re-opens o from the disk, from scratch (Reopen), and
// checks that every deleted file is gone under every name and that its
// directory still lists: the check fix makes after writing.
func VerifyDeleted(o *Opened, deleted []ntfs.DeletedFile) error {
	nv, err := o.Reopen()
	if err == nil {
		err = checkGone(nv, deleted)
	}
	if err != nil {
		return fmt.Errorf("verification after writing failed: %w", err)
	}
	return nil
}

// checkGone: no deleted path resolves, and no directory entry of their
// directories points at a deleted record.
func checkGone(nv *ntfs.Volume, deleted []ntfs.DeletedFile) error {
	dirs := map[string]bool{}
	gone := map[uint64]string{}
	for _, f := range deleted {
		p := strings.ReplaceAll(f.Path, "\\", "/")
		if _, err := nv.Stat(p); err == nil {
			return fmt.Errorf("%s is still there", f.Path)
		} else if !errors.Is(err, ntfs.ErrNotFound) {
			return fmt.Errorf("look up %s: %w", f.Path, err)
		}
		dirs[path.Dir(p)] = true
		gone[f.Record] = f.Path
	}
	for d := range dirs {
		ents, err := nv.ReadDir(d)
		if err != nil {
			return fmt.Errorf("list %s: %w", d, err)
		}
		for _, e := range ents {
			if f, ok := gone[e.Ref.Record()]; ok {
				return fmt.Errorf("%s/%s (a name of deleted %s) is still listed", d, e.Name, f)
			}
		}
	}
	return nil
}

func (p *pipeline) verifyFailed(err error) error {
	return failed(fmt.Errorf("verification after writing failed: %w; run 'unbrick undo --journal %s %s' to put the disk back",
		err, p.v.JournalFile, p.t.Path()))
}
