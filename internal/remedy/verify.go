package remedy

import (
	"errors"
	"fmt"
	"io"
	"path"

	"github.com/unbrick/unbrick/bitlocker"
	"github.com/unbrick/unbrick/ntfs"
)

// reopen opens the volume again from the target, from scratch: a new
// section, a new BitLocker volume unlocked with the key the first one
// unwrapped (no second stretch), a new NTFS volume.
func (p *pipeline) reopen() (*ntfs.Volume, error) {
	sec := p.t.Section(p.c)
	var view io.ReaderAt = sec
	size := sec.Size()
	if p.bl != nil {
		bl, err := bitlocker.Open(sec, size)
		if err != nil {
			return nil, fmt.Errorf("re-open BitLocker: %w", err)
		}
		if err := bl.Unlock(p.bl.ReuseKey()); err != nil {
			return nil, fmt.Errorf("re-unlock BitLocker with the key already unwrapped: %w", err)
		}
		view, size = bl, bl.Size()
	}
	nv, err := ntfs.Open(view, size)
	if err != nil {
		return nil, fmt.Errorf("re-open NTFS: %w", err)
	}
	return nv, nil
}

// verify re-opens the volume from the disk and checks that every deleted
// file is gone under every name, that its directory still lists, and that
// the system hive is still there.
func (p *pipeline) verify() error {
	nv, err := p.reopen()
	if err != nil {
		return p.verifyFailed(err)
	}
	dirs := map[string]bool{}
	for _, i := range p.faulty {
		f := p.v.Files[i]
		if _, err := nv.Stat(f.Path); err == nil {
			return p.verifyFailed(fmt.Errorf("%s is still there", f.Path))
		} else if !errors.Is(err, ntfs.ErrNotFound) {
			return p.verifyFailed(fmt.Errorf("look up %s: %w", f.Path, err))
		}
		dirs[path.Dir(f.Path)] = true
	}
	gone := map[uint64]string{}
	for _, i := range p.faulty {
		gone[p.v.Files[i].record] = p.v.Files[i].Path
	}
	for d := range dirs {
		ents, err := nv.ReadDir(d)
		if err != nil {
			return p.verifyFailed(fmt.Errorf("list %s: %w", d, err))
		}
		for _, e := range ents {
			if f, ok := gone[e.Ref.Record()]; ok {
				return p.verifyFailed(fmt.Errorf("%s/%s (a name of deleted %s) is still listed", d, e.Name, f))
			}
		}
	}
	if _, err := nv.Stat(SystemHive); err != nil {
		return p.verifyFailed(fmt.Errorf("%s: %w", SystemHive, err))
	}
	return nil
}

func (p *pipeline) verifyFailed(err error) error {
	return failed(fmt.Errorf("verification after writing failed: %w; run 'unbrick undo --journal %s %s' to put the disk back",
		err, p.v.JournalFile, p.t.Path()))
}
