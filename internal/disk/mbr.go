package disk

import (
	"errors"
	"fmt"
	"sort"

	"github.com/diskfs/go-diskfs/partition/mbr"
)

// MBR: sector 0 ends in 55 AA and holds four 16-byte entries at 446:
// status (0x00, or 0x80 = active), CHS start, type, CHS end, first LBA
// (4 bytes), sector count (4 bytes). Types 0x05, 0x0F and 0x85 are
// extended partitions: a chain of EBRs, each an MBR-like sector whose entry
// 1 is a logical partition (start relative to that EBR) and whose entry 2
// points to the next EBR (start relative to the extended partition).
// Linux numbers primaries 1-4 by slot and logical partitions from 5 in
// chain order.
//
// go-diskfs (partition/mbr.Read) decodes each sector's four entries and
// rejects status bytes other than 0x00/0x80. What is hand-written here, and
// why: go-diskfs does not follow extended partitions at all, and does not
// validate anything else; a volume boot sector also ends in 55 AA, so we
// check that entries do not overlap, do not cover sector 0, start inside
// the target, and that logical partitions stay inside their extended
// partition. The EBR chain is walked by handing go-diskfs a view of the
// target that starts at each EBR.

var mbrTypeNames = map[byte]string{
	0x01: "FAT12",
	0x04: "FAT16 (<32 MiB)",
	0x05: "extended (CHS)",
	0x06: "FAT16",
	0x07: "NTFS/exFAT/HPFS",
	0x0b: "FAT32 (CHS)",
	0x0c: "FAT32 (LBA)",
	0x0e: "FAT16 (LBA)",
	0x0f: "extended (LBA)",
	0x11: "hidden FAT12",
	0x17: "hidden NTFS",
	0x1b: "hidden FAT32",
	0x1c: "hidden FAT32 (LBA)",
	0x27: "Windows RE (hidden NTFS)",
	0x42: "Windows dynamic disk (LDM)",
	0x82: "Linux swap",
	0x83: "Linux",
	0x85: "Linux extended",
	0x8e: "Linux LVM",
	0xee: "GPT protective",
	0xef: "EFI system",
	0xfd: "Linux RAID",
}

func mbrTypeName(t byte) string {
	if n, ok := mbrTypeNames[t]; ok {
		return fmt.Sprintf("MBR 0x%02x (%s)", t, n)
	}
	return fmt.Sprintf("MBR 0x%02x", t)
}

func isExtended(t byte) bool { return t == 0x05 || t == 0x0f || t == 0x85 }

// maxLogical bounds the EBR chain walk (a loop in the chain is an error).
const maxLogical = 128

type mbrEntry struct {
	num          int
	typ          byte
	active       bool
	start, count uint64 // absolute LBA, sectors
	logical      bool
}

// scanMBR returns (nil, nil) when sector 0 has no 55 AA signature, and an
// error when it has one but the table does not validate.
func (t *Target) scanMBR(s0 []byte) ([]Candidate, error) {
	if s0[510] != 0x55 || s0[511] != 0xaa {
		return nil, nil
	}
	ss := 512
	if t.sectorSize > 0 {
		ss = t.sectorSize
	}
	tbl, err := mbr.Read(&sectionFile{t: t}, ss, ss)
	if err != nil {
		return nil, fmt.Errorf("not a valid MBR: %w", err)
	}
	diskSectors := uint64(t.size) / uint64(ss)
	var entries []mbrEntry
	var ext *mbrEntry
	for _, p := range tbl.Partitions {
		if p.Type == 0 {
			continue
		}
		e := mbrEntry{num: p.Index, typ: byte(p.Type), active: p.Bootable, start: uint64(p.Start), count: uint64(p.Size)}
		if e.typ == 0xee {
			return nil, errors.New("protective MBR (type 0xEE) but no valid GPT at 512- or 4096-byte sectors (primary and backup headers both unusable)")
		}
		if e.start == 0 || e.count == 0 {
			return nil, fmt.Errorf("not a valid MBR: entry %d starts at LBA %d with %d sectors", e.num, e.start, e.count)
		}
		if t.device && e.start+e.count > diskSectors {
			return nil, fmt.Errorf("not a valid MBR: entry %d (LBA %d + %d) ends past the end of the disk (%d sectors)", e.num, e.start, e.count, diskSectors)
		}
		if isExtended(e.typ) {
			if ext != nil {
				return nil, fmt.Errorf("not a valid MBR: two extended partitions (%d and %d)", ext.num, e.num)
			}
			ee := e
			ext = &ee
		}
		entries = append(entries, e)
	}
	if len(entries) == 0 {
		return nil, errors.New("MBR signature but no partition entries")
	}
	if err := checkOverlap(entries); err != nil {
		return nil, fmt.Errorf("not a valid MBR: %w", err)
	}
	inside := false
	for _, e := range entries {
		if e.start < diskSectors {
			inside = true
		}
	}
	if !inside {
		return nil, fmt.Errorf("not a valid MBR: no entry starts inside the %d-sector target", diskSectors)
	}
	var logical []mbrEntry
	var chainNote string
	if ext != nil {
		logical, err = t.walkEBR(*ext, ss)
		if err != nil {
			// The primaries are still good; report the broken chain.
			chainNote = err.Error()
		}
	}
	out := []Candidate{}
	for _, e := range append(entries, logical...) {
		if isExtended(e.typ) {
			continue // a container, not a volume
		}
		c := Candidate{
			Partition:  e.num,
			Offset:     int64(e.start) * int64(ss),
			Size:       int64(e.count) * int64(ss),
			Scheme:     SchemeMBR,
			SectorSize: ss,
			MBRType:    e.typ,
			Active:     e.active,
			Logical:    e.logical,
			TypeName:   mbrTypeName(e.typ),
		}
		if e.typ == 0x42 {
			c.Kind = DynamicDisk
		}
		t.fill(&c)
		out = append(out, c)
	}
	if chainNote != "" && len(out) == 0 {
		return nil, errors.New(chainNote)
	}
	if chainNote != "" {
		// Attach the note to the last primary so a listing shows it.
		out[len(out)-1].Note = joinNote(out[len(out)-1].Note, chainNote)
	}
	return out, nil
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

func checkOverlap(es []mbrEntry) error {
	s := append([]mbrEntry(nil), es...)
	sort.Slice(s, func(i, j int) bool { return s[i].start < s[j].start })
	for i := 1; i < len(s); i++ {
		if s[i-1].start+s[i-1].count > s[i].start {
			return fmt.Errorf("partitions %d and %d overlap", s[i-1].num, s[i].num)
		}
	}
	return nil
}

// walkEBR follows the EBR chain of the extended partition ext.
func (t *Target) walkEBR(ext mbrEntry, ss int) ([]mbrEntry, error) {
	var out []mbrEntry
	seen := map[uint64]bool{}
	ebr := ext.start
	extEnd := ext.start + ext.count
	for n := 0; ; n++ {
		if n >= maxLogical {
			return out, fmt.Errorf("extended partition %d: more than %d logical partitions (loop in the EBR chain?)", ext.num, maxLogical)
		}
		if seen[ebr] {
			return out, fmt.Errorf("extended partition %d: EBR chain loops back to LBA %d", ext.num, ebr)
		}
		seen[ebr] = true
		off := int64(ebr) * int64(ss)
		if off+512 > t.size {
			return out, fmt.Errorf("extended partition %d: EBR at LBA %d is past the end of the image", ext.num, ebr)
		}
		tbl, err := mbr.Read(&sectionFile{t: t, base: off}, ss, ss)
		if err != nil {
			return out, fmt.Errorf("extended partition %d: EBR at LBA %d: %v", ext.num, ebr, err)
		}
		p1, p2 := tbl.Partitions[0], tbl.Partitions[1]
		if p1.Type != 0 && p1.Size > 0 {
			e := mbrEntry{num: 5 + len(out), typ: byte(p1.Type), active: p1.Bootable,
				start: ebr + uint64(p1.Start), count: uint64(p1.Size), logical: true}
			if p1.Start == 0 || e.start+e.count > extEnd {
				return out, fmt.Errorf("extended partition %d: logical partition %d (LBA %d + %d) lies outside it", ext.num, e.num, e.start, e.count)
			}
			out = append(out, e)
		}
		if p2.Type == 0 || p2.Size == 0 {
			return out, nil
		}
		if !isExtended(byte(p2.Type)) {
			return out, fmt.Errorf("extended partition %d: EBR at LBA %d links with type 0x%02x", ext.num, ebr, byte(p2.Type))
		}
		next := ext.start + uint64(p2.Start)
		if p2.Start == 0 || next >= extEnd {
			return out, fmt.Errorf("extended partition %d: EBR link to LBA %d lies outside it", ext.num, next)
		}
		ebr = next
	}
}
