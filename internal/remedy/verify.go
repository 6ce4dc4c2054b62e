package remedy

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/unbrick/unbrick/ntfs"
	"github.com/unbrick/unbrick/ntfs/edit"
)

// commit is step 4 (fix, not a dry run): the undo journal written and
// fsynced, then the staged writes (Opened.Commit: the one write path).
func commit(pf *plannedFix) (*committedFix, error) {
	r := pf.volumeRun
	cf := &committedFix{volumeRun: r, op: pf.op, replayed: pf.replay != nil, services: pf.services}
	for _, i := range pf.faulty {
		cf.deleted = append(cf.deleted, edit.DeletedFile{Path: pf.files[i].Path, Record: pf.files[i].record})
	}
	err := r.timed("write", func() error {
		r.progress(StepJournal)
		c, err := pf.op.Commit(JournalOptions{Dir: r.o.Fix.JournalDir, RunID: r.o.Identity.RunID, Disk: r.diskName, Now: r.o.now(),
			Journaled: func() { r.progress(StepWrite) }})
		if c != nil {
			cf.journalFile, cf.warning = c.JournalFile, c.Warning
		}
		return err
	})
	return cf, err
}

// verify is step 5: the volume re-opened from the disk, from scratch;
// every deleted file gone under every name, its directory still listing,
// the system hive still there, and the journal a replay left clean.
func verify(cf *committedFix) error {
	err := cf.timed("verify", func() error {
		nv, err := cf.op.Reopen()
		if err != nil {
			return verifyFailed(cf, err)
		}
		if err := checkGone(nv, cf.deleted); err != nil {
			return verifyFailed(cf, err)
		}
		if err := checkServices(nv, cf.services); err != nil {
			return verifyFailed(cf, err)
		}
		if _, err := nv.Stat(SystemHive); err != nil {
			return verifyFailed(cf, fmt.Errorf("%s: %w", SystemHive, err))
		}
		return nil
	})
	if err != nil {
		return err
	}
	return verifyReplay(cf)
}

// VerifyDeleted re-opens o from the disk, from scratch (Reopen), and
// checks that every deleted file is gone under every name and that its
// directory still lists: the check fix makes after writing.
func VerifyDeleted(o *Opened, deleted []edit.DeletedFile) error {
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
func checkGone(nv *ntfs.Volume, deleted []edit.DeletedFile) error {
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

// verifyFailed: the writes are on the disk, the check failed; the error
// gives the undo command.
func verifyFailed(cf *committedFix, err error) error {
	return failed(fmt.Errorf("verification after writing failed: %w; run 'unbrick undo --journal %s %s' to put the disk back",
		err, cf.journalFile, cf.t.Path()))
}
