package edit

import (
	"encoding/binary"
	"fmt"

	"github.com/unbrick/unbrick/ntfs"
)

// Journal reset and hibernation discard, as commits placed before a
// delete's own (the delete must never be exposed to a journal replay).
//
// Reset (--unclean=reset) does what ntfsfix does (ntfs-3g ntfsprogs/
// ntfsfix.c: set_dirty_flag, then empty_journal; libntfs-3g/logfile.c
// ntfs_empty_logfile): first VOLUME_IS_DIRTY is set in $Volume's
// $VOLUME_INFORMATION (record 3, written to $MFT and then to its $MFTMirr
// copy), then every byte of $LogFile's data is set to 0xFF, from the start.
// An all-0xFF journal is "empty": nothing to replay, as after mkntfs. The
// dirty flag makes Windows run chkdsk at next boot, which repairs whatever
// the discarded journal would have fixed. A power cut during the reset
// leaves the dirty flag set, so chkdsk still runs.
//
// Discard (--hibernated=discard) zeroes the first 4096 bytes of
// hiberfil.sys's data (the header with its "hibr"/"HIBR" signature): the
// boot loader then finds no image to resume and Windows cold-boots; the
// hibernated session is lost. ntfs-3g's remove_hiberfile deletes the file
// instead; zeroing the header changes less and Windows rewrites the file
// at its next hibernation.

// volumeDirtyFlag is VOLUME_IS_DIRTY in $VOLUME_INFORMATION's flags (+10).
const volumeDirtyFlag = 0x0001

// commitSetDirty sets the dirty flag (if not set yet).
func (p *planner) commitSetDirty() error {
	ri, err := p.rec(ntfs.RecordVolume)
	if err != nil {
		return err
	}
	off, err := ri.findAttr(ntfs.AttrVolumeInformation, "", -1)
	if err != nil {
		return err
	}
	val, err := ri.residentValue(off)
	if err != nil {
		return err
	}
	if len(val) < 12 {
		return ntfs.Corrupt("$VOLUME_INFORMATION", -1, "", "$VOLUME_INFORMATION is %d bytes", len(val))
	}
	flags := binary.LittleEndian.Uint16(val[10:])
	if flags&volumeDirtyFlag != 0 {
		return nil
	}
	binary.LittleEndian.PutUint16(val[10:], flags|volumeDirtyFlag)
	return p.commitRecordImage(ri, fmt.Sprintf("MFT record 3 ($Volume): dirty flag set (flags 0x%04x -> 0x%04x)", flags, flags|volumeDirtyFlag))
}

// commitEmptyJournal fills $LogFile's data with 0xFF.
func (p *planner) commitEmptyJournal() error {
	lf, err := p.v.OpenRef(ntfs.MakeRef(ntfs.RecordLogFile, 0))
	if err != nil {
		return fmt.Errorf("ntfs: $LogFile: %w", err)
	}
	ra, size, err := lf.AttrReader(ntfs.AttrData, "")
	if err != nil {
		return fmt.Errorf("ntfs: $LogFile data: %w", err)
	}
	rr, ok := ra.(*ntfs.RunReader)
	if !ok {
		return refuse("", "$LogFile's data is resident or compressed; this tool cannot empty it")
	}
	exts, err := rr.Extents(0, int(size))
	if err != nil {
		return fmt.Errorf("ntfs: $LogFile: %w", err)
	}
	ss := int64(p.ss)
	for _, e := range exts {
		if e.Offset%ss != 0 || int64(e.Length)%ss != 0 {
			return ntfs.Corrupt("$LogFile", -1, "$DATA", "$LogFile extent %#x+%d is not sector aligned", e.Offset, e.Length)
		}
		p.commitFillBytes(fmt.Sprintf("fill:%d", e.Offset), e.Offset, int64(e.Length), 0xFF, "$LogFile emptied (0xFF)")
	}
	return nil
}

// commitDiscardHiber zeroes hiberfil.sys's first page.
func (p *planner) commitDiscardHiber() error {
	f, err := p.v.Lookup("/hiberfil.sys")
	if err != nil {
		return fmt.Errorf("ntfs: hiberfil.sys: %w", err)
	}
	a := f.FindAttr(ntfs.AttrData, "")
	if a == nil || !a.NonResident {
		return refuse("Boot Windows and shut it down fully instead", "hiberfil.sys has no non-resident data to invalidate (not implemented for a resident or missing stream)")
	}
	ra, size, err := f.AttrReader(ntfs.AttrData, "")
	if err != nil {
		return err
	}
	rr, ok := ra.(*ntfs.RunReader)
	if !ok {
		return refuse("Boot Windows and shut it down fully instead", "hiberfil.sys is compressed or encrypted; not invalidating it")
	}
	n := min(size, ntfs.HiberHeaderSize)
	n = (n + int64(p.ss) - 1) / int64(p.ss) * int64(p.ss)
	if n > a.AllocatedSize {
		n = a.AllocatedSize
	}
	exts, err := rr.Extents(0, int(n))
	if err != nil {
		return fmt.Errorf("ntfs: hiberfil.sys: %w", err)
	}
	for _, e := range exts {
		if err := p.commitVolumeBytes(fmt.Sprintf("bytes:%d", e.Offset), e.Offset, make([]byte, e.Length), "hiberfil.sys header zeroed (hibernation image invalidated)"); err != nil {
			return err
		}
	}
	return nil
}

// prepare checks the journal state against the policies and records the
// reset/discard commits they call for. It returns the notes for the plan.
func (p *planner) prepare(unclean ntfs.UncleanPolicy, hib ntfs.HibernatedPolicy) ([]string, *ntfs.JournalState, error) {
	js, err := p.v.JournalState()
	if err != nil {
		return nil, nil, err
	}
	notes, err := js.WriteGate(unclean, hib)
	if err != nil {
		return nil, js, err
	}
	if js.Hibernation.Live() {
		if err := p.commitDiscardHiber(); err != nil {
			return nil, js, err
		}
	}
	if !js.Clean {
		if err := p.commitSetDirty(); err != nil {
			return nil, js, err
		}
		if err := p.commitEmptyJournal(); err != nil {
			return nil, js, err
		}
	}
	return notes, js, nil
}

// PlanJournalReset plans only what the policies call for (discarding a
// live hibernation image, emptying an unclean journal and setting the dirty
// flag), without deleting anything. With a clean journal and no hibernation
// image the plan is empty. A state the policies do not allow is refused.
func PlanJournalReset(v *ntfs.Volume, unclean ntfs.UncleanPolicy, hib ntfs.HibernatedPolicy) (*Plan, error) {
	if err := checkMFTMirr(v); err != nil {
		return nil, err
	}
	p := newPlanner(v)
	notes, _, err := p.prepare(unclean, hib)
	if err != nil {
		return nil, err
	}
	plan, err := p.finish()
	if err != nil {
		return nil, err
	}
	plan.Notes = append(plan.Notes, notes...)
	return plan, nil
}
