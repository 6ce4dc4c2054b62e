package ntfs

import (
	"fmt"
	"io"

	"github.com/unbrick/unbrick/ntfs/internal/utf16le"
)

// Volume is an open NTFS volume on an io.ReaderAt. It holds no mutable
// state beyond what Open read, so it may be used from several goroutines.
type Volume struct {
	r      io.ReaderAt
	size   int64
	boot   *BootSector
	mft    *RunReader // $MFT's unnamed $DATA
	nrecs  uint64     // records that $MFT's data size holds
	upcase []uint16   // $UpCase, 65536 entries
	info   VolumeInfo
	// $MFTMirr (delete_helpers.go), or why it cannot be used: only the
	// write side needs it, so a damaged mirror does not stop Open.
	mirr    *MFTMirror
	mirrErr error
}

// VolumeInfo describes an open volume: geometry from the boot sector,
// label from $VOLUME_NAME, version and flags from $VOLUME_INFORMATION.
type VolumeInfo struct {
	Label          string
	Major, Minor   uint8
	Flags          uint16 // VolumeDirty etc.
	Serial         uint64
	BytesPerSector int
	ClusterSize    int
	RecordSize     int
	IndexBlockSize int
	TotalClusters  int64
	MFTLCN         int64
	MFTMirrLCN     int64
	MFTRecords     uint64 // records $MFT's data holds
}

// Dirty reports whether the volume dirty flag (chkdsk scheduled) is set.
func (i VolumeInfo) Dirty() bool { return i.Flags&VolumeDirty != 0 }

// Open opens the NTFS volume that occupies r from offset 0 to size (the
// partition or decrypted BitLocker volume). It validates the boot sector,
// maps $MFT through its own run list (and attribute list), and reads
// $Volume and $UpCase.
func Open(r io.ReaderAt, size int64) (*Volume, error) {
	sec := make([]byte, 512)
	if n, err := r.ReadAt(sec, 0); n < len(sec) {
		return nil, fmt.Errorf("ntfs: read boot sector: %w", eofIsUnexpected(err))
	}
	boot, err := ParseBootSector(sec)
	if err != nil {
		return nil, err
	}
	if size > 0 && size < boot.VolumeSize() {
		return nil, fmt.Errorf("%w: %d bytes available, boot sector says %d", ErrTruncated, size, boot.VolumeSize())
	}
	v := &Volume{r: r, size: size, boot: boot}
	if err := v.openMFT(); err != nil {
		return nil, err
	}
	if err := v.readVolumeInfo(); err != nil {
		return nil, err
	}
	if err := v.loadUpcase(); err != nil {
		return nil, err
	}
	v.mirr, v.mirrErr = v.loadMirror()
	return v, nil
}

// Boot returns the validated boot sector geometry.
func (v *Volume) Boot() *BootSector { b := *v.boot; return &b }

// Info returns the volume's label, version, flags and geometry.
func (v *Volume) Info() VolumeInfo { return v.info }

// Upcase returns the volume's $UpCase table (65536 entries; do not modify).
func (v *Volume) Upcase() []uint16 { return v.upcase }

// Device returns the reader the volume was opened on (the volume's bytes,
// offset 0 = boot sector). The write side plans against it.
func (v *Volume) Device() io.ReaderAt { return v.r }

func eofIsUnexpected(err error) error {
	if err == nil || err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (v *Volume) openMFT() error {
	b := v.boot
	buf := make([]byte, b.RecordSize)
	off := b.MFTLCN * int64(b.ClusterSize)
	if n, err := v.r.ReadAt(buf, off); n < len(buf) {
		return fmt.Errorf("ntfs: read $MFT record 0 at byte %d: %w", off, eofIsUnexpected(err))
	}
	rec, err := ParseRecord(buf, RecordMFT)
	if err != nil {
		return fmt.Errorf("ntfs: $MFT: %w", err)
	}
	if !rec.InUse() {
		return Corrupt("MFT record 0", MFTOffFlags, "flags", "$MFT record 0 is not marked in use")
	}
	var data *Attribute
	for _, a := range rec.Attributes {
		if a.Type == AttrData && a.Name == "" && a.LowestVCN == 0 {
			data = a
			break
		}
	}
	if data == nil || !data.NonResident {
		return Corrupt("MFT record 0", -1, "$DATA", "$MFT record 0 has no non-resident $DATA attribute")
	}
	if len(data.Runs) == 0 || data.Runs[0].Sparse() || data.Runs[0].LCN != b.MFTLCN {
		return Corrupt("MFT record 0", -1, "$DATA", "$MFT's run list does not start at the boot sector's $MFT LCN %d", b.MFTLCN)
	}
	// First map $MFT with the base extent alone; that is enough to reach
	// the extension records an attribute list names (they must lie in it).
	v.mft, err = newRunReader(v.r, int64(b.ClusterSize), b.TotalClusters(), data.Runs, data.DataSize, data.InitializedSize, "$MFT")
	if err != nil {
		return err
	}
	v.nrecs = uint64(data.DataSize) / uint64(b.RecordSize)
	if rec.FindAttr(AttrAttributeList, "") != nil {
		f, err := v.fileFromRecord(rec)
		if err != nil {
			return fmt.Errorf("ntfs: $MFT attribute list: %w", err)
		}
		ra, _, err := f.AttrReader(AttrData, "")
		if err != nil {
			return fmt.Errorf("ntfs: $MFT data: %w", err)
		}
		rr, ok := ra.(*RunReader)
		if !ok {
			return Corrupt("MFT record 0", -1, "$DATA", "$MFT data is not a plain non-resident attribute")
		}
		rr.what = "$MFT"
		v.mft = rr
	}
	return nil
}

// ReadRecord reads MFT record n through $MFT's run list, checks and
// removes its fixups and parses its header and attributes. It does not
// require the record to be in use.
func (v *Volume) ReadRecord(n uint64) (*Record, error) {
	if n >= v.nrecs {
		return nil, Corrupt(fmt.Sprintf("MFT record %d", n), -1, "", "does not exist ($MFT holds %d records)", v.nrecs)
	}
	buf := make([]byte, v.boot.RecordSize)
	if _, err := v.mft.ReadAt(buf, int64(n)*int64(v.boot.RecordSize)); err != nil {
		return nil, fmt.Errorf("ntfs: read MFT record %d: %w", n, err)
	}
	return ParseRecord(buf, n)
}

// Extent is a byte range of the volume.
type Extent struct {
	Offset int64
	Length int
}

// RecordExtents returns where MFT record n lies on the volume: one extent,
// or several when a record is larger than a cluster and $MFT is
// fragmented inside it.
func (v *Volume) RecordExtents(n uint64) ([]Extent, error) {
	if n >= v.nrecs {
		return nil, Corrupt(fmt.Sprintf("MFT record %d", n), -1, "", "does not exist")
	}
	return v.mft.Extents(int64(n)*int64(v.boot.RecordSize), v.boot.RecordSize)
}

// MFTRecords is the number of records $MFT's data holds.
func (v *Volume) MFTRecords() uint64 { return v.nrecs }

func (v *Volume) readVolumeInfo() error {
	b := v.boot
	v.info = VolumeInfo{
		Serial: b.SerialNumber, BytesPerSector: b.BytesPerSector, ClusterSize: b.ClusterSize,
		RecordSize: b.RecordSize, IndexBlockSize: b.IndexBlockSize, TotalClusters: b.TotalClusters(),
		MFTLCN: b.MFTLCN, MFTMirrLCN: b.MFTMirrLCN, MFTRecords: v.nrecs,
	}
	f, err := v.OpenRef(MakeRef(RecordVolume, 0))
	if err != nil {
		return fmt.Errorf("ntfs: $Volume: %w", err)
	}
	a := f.FindAttr(AttrVolumeInformation, "")
	if a == nil || a.NonResident {
		return Corrupt("MFT record 3", -1, "$VOLUME_INFORMATION", "$Volume has no resident $VOLUME_INFORMATION")
	}
	vi, err := ParseVolumeInformation(a.Value)
	if err != nil {
		return err
	}
	v.info.Major, v.info.Minor, v.info.Flags = vi.Major, vi.Minor, vi.Flags
	if a := f.FindAttr(AttrVolumeName, ""); a != nil && !a.NonResident {
		v.info.Label = utf16le.Decode(a.Value)
	}
	return nil
}
