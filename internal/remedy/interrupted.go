package remedy

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/unbrick/unbrick/internal/undo"
)

// finishInterrupted looks in the journal directory for the undo journal of
// an earlier fix of this volume on this disk that stopped half-way (killed,
// power cut, failed write) and finishes it before anything else: the
// journal's after-images are written from the state the disk is in (undo
// RollForward, checked against their SHA-256), so the volume is back in
// the state that fix planned, never left with the half-deleted file an
// interrupted fix leaves. A disk that changed since is refused with the
// undo command to run. The value says whether the disk was written (the
// caller re-opens the file system then). A dry run only says what it
// would do.
func finishInterrupted(r *volumeRun, op *Opened) (interruptedFix, error) {
	var f interruptedFix
	dir := r.o.Fix.JournalDir
	if dir == "" {
		return f, nil
	}
	h := undo.Header{VolumeID: op.VolumeID, TargetSize: r.t.Size(), PartitionOffset: r.c.Offset, PartitionSize: op.Section.Size()}
	var paths []string
	var err error
	if r.o.journals != nil || r.o.journalsErr != nil {
		paths, err = r.o.journals.Find(h), r.o.journalsErr
	} else {
		paths, err = undo.FindIncomplete(dir, h)
	}
	if err != nil {
		// Without the journal directory unbrick can neither see an
		// interrupted fix nor write an undo journal: write nothing.
		return f, refused("cannot read the undo journal directory %s to look for interrupted fixes (%v): nothing was written; pass a writable --journal DIR", dir, err)
	}
	for _, path := range paths {
		j, err := undo.ReadFile(path)
		if err == nil && !sameDisk(j.Header.Target, r.diskName, r.t.Path()) {
			// A disk cloned from the same template shares the volume ID
			// and geometry: that journal belongs to the other disk.
			f.notes = append(f.notes, fmt.Sprintf("undo journal %s of an interrupted fix belongs to another disk (%s): left alone", path, j.Header.Target))
			continue
		}
		run := ""
		if j != nil {
			run = j.Header.RunID
		}
		res, err := undo.RollForward(path, r.t, r.t.Size(), undo.RollForwardOptions{Sync: r.t.Sync, Check: !r.writing(), TargetName: r.t.Path()})
		switch {
		case errors.Is(err, undo.ErrFinished), errors.Is(err, undo.ErrTorn):
			continue
		case errors.Is(err, undo.ErrMismatch), errors.Is(err, undo.ErrNoAfterImages), errors.Is(err, undo.ErrCorrupt),
			errors.Is(err, undo.ErrWrongTarget), errors.Is(err, undo.ErrNotJournal):
			f.journalFile = path
			return f, stoppedAs(StatusRefused, fmt.Errorf("an earlier fix of this volume (run %s) was interrupted and cannot be finished: %w; nothing was written", run, err))
		case err != nil:
			f.journalFile = path
			return f, failed(fmt.Errorf("finish the interrupted fix of run %s (journal %s): %w", run, path, err))
		}
		if !r.writing() {
			f.notes = append(f.notes, fmt.Sprintf("dry run: would first finish the interrupted fix of run %s (journal %s): %d of its %d writes are on the disk, %d to write",
				run, path, res.From, res.Records, res.Writes))
			continue
		}
		f.finishedRun, f.journalFile = run, path
		f.notes = append(f.notes, fmt.Sprintf("finished the interrupted fix of run %s from its undo journal %s: %d of its %d writes were on the disk, wrote the other %d (%d bytes) and checked them",
			run, path, res.From, res.Records, res.Writes, res.Bytes))
		f.wrote = f.wrote || res.Writes > 0
	}
	return f, nil
}

// interruptedFix is what finishInterrupted did.
type interruptedFix struct {
	finishedRun string // the run whose fix this run finished
	// journalFile is the undo journal finished, or the one that could
	// not be.
	journalFile string
	wrote       bool // the disk was written
	notes       []string
}

// sameDisk reports whether a journal's target identity ("PATH" or "PATH
// [MODEL serial SERIAL]", as commit writes it) names the disk being fixed
// (diskName, the target's model and serial; targetPath): the same model
// and serial for a block device (its path may change from one boot to the
// next), else the same file.
func sameDisk(identity, diskName, targetPath string) bool {
	path, disk := identity, ""
	if i := strings.LastIndex(identity, " ["); i >= 0 && strings.HasSuffix(identity, "]") {
		path, disk = identity[:i], identity[i+2:len(identity)-1]
	}
	if disk != "" || diskName != "" {
		return disk == diskName
	}
	if path == targetPath {
		return true
	}
	a, err1 := os.Stat(path)
	b, err2 := os.Stat(targetPath)
	if err1 == nil && err2 == nil {
		return os.SameFile(a, b)
	}
	pa, err1 := filepath.Abs(path)
	pb, err2 := filepath.Abs(targetPath)
	return err1 == nil && err2 == nil && pa == pb
}
