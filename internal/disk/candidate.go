package disk

import (
	"errors"
	"fmt"
	"strings"
)

// Partitioning schemes a Candidate can come from.
const (
	SchemeVolume = "volume" // the whole target is one volume (Partition 0)
	SchemeGPT    = "gpt"
	SchemeMBR    = "mbr"
)

// ErrUnrecognized is returned (wrapped) by Candidates when the target has
// no volume signature at offset 3, no valid GPT and no valid MBR.
var ErrUnrecognized = errors.New("no volume signature, GPT or valid MBR partition table found")

// Candidate is one volume (or partition) found on a Target.
type Candidate struct {
	// Partition is the partition-table entry number as Linux numbers it:
	// 1-based GPT entry slot, MBR primary 1-4, MBR logical from 5; 0 means
	// the whole target is one volume.
	Partition int
	// Offset and Size locate the volume in the target, in bytes. Size is
	// what the partition table (or, for Partition 0, the larger of the
	// target size and the size the volume header declares) says, so
	// Offset+Size may lie past the end of a truncated image (see Short).
	Offset, Size int64
	// Kind is judged by content (BitLocker / NTFS boot sector...), except
	// for the LDM and Storage Spaces partition types.
	Kind Kind
	// Label is the FAT label from the boot sector, else the GPT partition
	// name (the NTFS label lives in $Volume, read by package ntfs).
	Label string
	// TypeName names the partition type ("Microsoft basic data",
	// "MBR 0x07 (NTFS/exFAT/HPFS)", "whole target").
	TypeName string
	// Scheme is SchemeVolume, SchemeGPT or SchemeMBR.
	Scheme string
	// SectorSize is the logical sector size the partition table is in
	// (512 or 4096); for a whole-volume target the device's, else 512.
	SectorSize int
	// GPT only.
	TypeGUID, PartitionGUID, Name string
	Attributes                    uint64
	// MBR only.
	MBRType byte
	Active  bool
	Logical bool
	// Declared is the volume size the volume's own header declares (NTFS
	// total sectors + backup boot sector, BitLocker encrypted volume size);
	// 0 when unknown.
	Declared int64
	// Note says what is unusual: unsupported format, starts past the end
	// of the image, and so on. Empty when nothing is.
	Note string
	// Truncated is true when the target ends before Offset+Size.
	Truncated bool
}

// String is a one-line summary: "partition 3: offset 52428800 (LBA 102400),
// 62.9 MiB, BitLocker, "Basic data partition"".
func (c Candidate) String() string {
	var b strings.Builder
	if c.Partition == 0 {
		b.WriteString("whole target")
	} else {
		fmt.Fprintf(&b, "partition %d", c.Partition)
	}
	fmt.Fprintf(&b, ": offset %d", c.Offset)
	if c.SectorSize > 0 && c.Partition != 0 {
		fmt.Fprintf(&b, " (LBA %d)", c.Offset/int64(c.SectorSize))
	}
	fmt.Fprintf(&b, ", %s, %s", humanSize(c.Size), c.Kind)
	if c.Label != "" {
		fmt.Fprintf(&b, ", %q", c.Label)
	}
	if c.TypeName != "" && c.Partition != 0 {
		fmt.Fprintf(&b, " [%s]", c.TypeName)
	}
	if c.Truncated {
		b.WriteString(", image ends before its end")
	}
	if c.Note != "" {
		fmt.Fprintf(&b, " (%s)", c.Note)
	}
	return b.String()
}

func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f := float64(n)
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB", "PiB"} {
		f /= unit
		if f < unit {
			return fmt.Sprintf("%.1f %s", f, u)
		}
	}
	return fmt.Sprintf("%.1f EiB", f/unit)
}

// Candidates lists the volumes on the target, in this order of detection:
//  1. a volume signature at offset 3 of sector 0 ("-FVE-FS-", "NTFS    ",
//     a BitLocker To Go discovery volume; also LUKS, ReFS, exFAT): the
//     whole target is one volume, Partition 0;
//  2. a GPT, with 512- and 4096-byte logical sectors (a device's own
//     sector size first), primary header or else the backup;
//  3. a validated MBR (status bytes 0x00/0x80, entries non-overlapping and
//     starting inside the target), with logical partitions in an extended
//     partition;
//  4. a FAT boot sector at sector 0 (a "superfloppy"): Partition 0.
//
// The result is computed once and cached; it is safe to call from
// several goroutines. An error wrapping ErrUnrecognized
// means nothing was found; other errors are read errors or a broken table.
func (t *Target) Candidates() ([]Candidate, error) {
	t.scanOnce.Do(func() { t.cands, t.scanErr = t.scan() })
	if t.scanErr != nil {
		return nil, t.scanErr
	}
	out := make([]Candidate, len(t.cands))
	copy(out, t.cands)
	return out, nil
}

func (t *Target) scan() ([]Candidate, error) {
	if t.size < 512 {
		return nil, fmt.Errorf("%s: %d bytes is too small for a disk or volume: %w", t.path, t.size, ErrUnrecognized)
	}
	s0 := make([]byte, 512)
	if err := t.readFull(s0, 0); err != nil {
		return nil, fmt.Errorf("%s: read sector 0: %w", t.path, err)
	}
	readVol := func(p []byte, off int64) error { return t.readFull(p, off) }
	vi := identify(s0, readVol)
	switch vi.kind {
	case BitLocker, NTFS, BitLockerToGo, LUKS, ReFS, ExFAT:
		return []Candidate{t.wholeVolume(vi)}, nil
	}

	cands, gptErr := t.scanGPT()
	if gptErr == nil && cands != nil {
		return cands, nil
	}
	mcands, mbrErr := t.scanMBR(s0)
	if mbrErr == nil && mcands != nil {
		return mcands, nil
	}
	if gptErr != nil {
		return nil, fmt.Errorf("%s: %w", t.path, gptErr)
	}
	if vi.kind == FAT {
		return []Candidate{t.wholeVolume(vi)}, nil
	}
	if mbrErr != nil {
		return nil, fmt.Errorf("%s: %w (%v)", t.path, ErrUnrecognized, mbrErr)
	}
	return nil, fmt.Errorf("%s: %w", t.path, ErrUnrecognized)
}

func (t *Target) wholeVolume(vi volumeInfo) Candidate {
	c := Candidate{
		Partition:  0,
		Offset:     0,
		Size:       t.size,
		Kind:       vi.kind,
		Label:      vi.label,
		TypeName:   "whole target",
		Scheme:     SchemeVolume,
		SectorSize: 512,
		Declared:   vi.declared,
	}
	if t.sectorSize > 0 {
		c.SectorSize = t.sectorSize
	}
	if vi.declared > c.Size {
		c.Size = vi.declared
		c.Truncated = true
	}
	t.noteKind(&c)
	return c
}

// fill identifies the content of a partition candidate and sets Kind,
// Label (when the content has one), Declared, Truncated and Note.
func (t *Target) fill(c *Candidate) {
	if c.Offset+c.Size > t.size {
		c.Truncated = true
	}
	if c.Kind == DynamicDisk || c.Kind == StorageSpaces {
		t.noteKind(c)
		return
	}
	if c.Offset >= t.size {
		c.Kind = Other
		c.Note = "starts past the end of the image"
		return
	}
	b := make([]byte, 512)
	if err := t.readFull(b, c.Offset); err != nil {
		c.Kind = Other
		c.Note = fmt.Sprintf("first sector unreadable: %v", err)
		return
	}
	base := c.Offset
	vi := identify(b, func(p []byte, off int64) error {
		if off < 0 || off >= c.Size {
			return errors.New("outside the partition")
		}
		return t.readFull(p, base+off)
	})
	c.Kind = vi.kind
	c.Declared = vi.declared
	if vi.label != "" {
		c.Label = vi.label
	}
	if vi.note != "" {
		c.Note = vi.note
	}
	t.noteKind(c)
}

func (t *Target) noteKind(c *Candidate) {
	if c.Note != "" {
		return
	}
	switch c.Kind {
	case BitLockerToGo:
		c.Note = "BitLocker To Go (FAT) volumes are not supported yet"
	case DynamicDisk:
		c.Note = "Windows dynamic disk (LDM) volumes are not supported"
	case StorageSpaces:
		c.Note = "Windows Storage Spaces pools are not supported"
	case LUKS:
		c.Note = "LUKS-encrypted (Linux) volume, not supported"
	case ReFS:
		c.Note = "ReFS volumes are not supported"
	}
}
