package ntfs

import "fmt"

// $MFTMirr (record 1) backs up the first records of $MFT. Two counts
// matter, both derived here and nowhere else:
//
//   - Held: the records whose copies the mirror's $DATA holds. ntfs-3g
//     (bootsect.c) sizes the mirror as 4 records, or one cluster's worth
//     when a cluster holds more, and its mount (volume.c,
//     ntfs_device_mount) cuts that to what a read of $MFTMirr's $DATA returns,
//     i.e. the attribute's data size; its record writes (mft.c) then copy
//     every record below that count to the mirror, and so do our plans.
//     Windows gives the mirror's $DATA 4 records whatever the cluster size
//     (libfsntfs "New Technologies File System (NTFS)": "Back up of the
//     first 4 entries of the Master File Table"; a 2 MiB-cluster volume
//     formatted by Windows 10 was reported with a mirror cluster that
//     differs from $MFT at record 24; not observed here: no Windows
//     machine); mkntfs makes it one whole
//     cluster (observed: -c 65536 gives 64 records, -c 2097152 2048).
//   - InStep: the records that must match before anything is written:
//     min(held, 4). Windows keeps only records 0-3 in step (ntfs-3g
//     volume.c: "Windows 10 does not update the full $MFTMirr any more"),
//     so on a volume whose mirror holds more (large clusters) the copies
//     past record 3 may be stale without the volume being inconsistent.
//
// Every record a plan (ntfs/edit) writes below Held gets its mirror copy written in
// the same commit, so the inStep records (a subset) still match after any
// prefix of a plan.

// MirrorInStep is how many $MFTMirr records Windows keeps in step.
const MirrorInStep = 4

// MFTMirror is $MFTMirr's layout as a plan uses it: Held, and where each
// held record's copy lies.
type MFTMirror struct {
	Held int        // records whose copies the mirror's $DATA holds
	data *RunReader // the mirror's $DATA
}

// InStep is how many records must match $MFT: min(Held, 4).
func (m *MFTMirror) InStep() int { return min(m.Held, MirrorInStep) }

// RecordExtents returns where record n's copy lies (n < Held; rs is the
// MFT record size).
func (m *MFTMirror) RecordExtents(n uint64, rs int) ([]Extent, error) {
	if n >= uint64(m.Held) {
		return nil, fmt.Errorf("internal error: $MFTMirr does not hold record %d", n)
	}
	return m.data.Extents(int64(n)*int64(rs), rs)
}

// loadMirror reads $MFTMirr's record (Open calls it once; the result or
// the error is kept for the write side).
func (v *Volume) loadMirror() (*MFTMirror, error) {
	f, err := v.OpenRef(MakeRef(RecordMFTMirr, 0))
	if err != nil {
		return nil, fmt.Errorf("$MFTMirr: %w", err)
	}
	a := f.FindAttr(AttrData, "")
	if a == nil || !a.NonResident || len(a.Runs) == 0 || a.Runs[0].Sparse() {
		return nil, Corrupt("$MFTMirr", -1, "$DATA", "has no non-resident $DATA")
	}
	if a.Runs[0].LCN != v.boot.MFTMirrLCN {
		return nil, Corrupt("$MFTMirr", -1, "$DATA", "data starts at cluster %d, the boot sector says %d", a.Runs[0].LCN, v.boot.MFTMirrLCN)
	}
	ra, size, err := f.AttrReader(AttrData, "")
	if err != nil {
		return nil, fmt.Errorf("$MFTMirr data: %w", err)
	}
	rr, ok := ra.(*RunReader)
	if !ok {
		return nil, Corrupt("$MFTMirr", -1, "$DATA", "data is not a plain non-resident attribute")
	}
	cs, rs := v.boot.ClusterSize, v.boot.RecordSize
	capacity := 4
	if cs > 4*rs {
		capacity = cs / rs
	}
	held := int(min(int64(capacity), size/int64(rs)))
	return &MFTMirror{Held: held, data: rr}, nil
}

// MFTMirror returns $MFTMirr's layout (read when the volume was opened),
// or why $MFTMirr is unusable.
func (v *Volume) MFTMirror() (*MFTMirror, error) {
	if v.mirr == nil {
		return nil, fmt.Errorf("ntfs: $MFTMirr is unusable: %w", v.mirrErr)
	}
	return v.mirr, nil
}

// MirrorRecords is the mirror's Held, or 0 when $MFTMirr is unusable.
func (v *Volume) MirrorRecords() int {
	if v.mirr == nil {
		return 0
	}
	return v.mirr.Held
}
