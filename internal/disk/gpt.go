package disk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"

	"github.com/diskfs/go-diskfs/partition/gpt"
)

// GPT (UEFI specification, chapter 5 "GUID Partition Table (GPT) Disk
// Layout"): LBA 0 holds a protective MBR (one entry of type 0xEE), LBA 1
// the header ("EFI PART", revision 1.0, header size 92, CRC32 of the header
// at 16, my LBA 24, alternate LBA 32, first/last usable 40/48, disk GUID 56,
// entries LBA 72, entry count 80, entry size 84, entries CRC32 88), then
// the entry array; the backup header is in the last LBA. An entry is 128
// bytes: type GUID, unique GUID, first LBA, last LBA (inclusive),
// attributes, 36 UTF-16LE name characters. Linux numbers partitions by
// entry slot (1-based), skipping nothing.
//
// The table itself is parsed by go-diskfs (partition/gpt.Read, which also
// falls back to the backup header when the primary fails its CRCs). What is
// hand-written here, and why:
//   - peekGPTHeader: a guard run before go-diskfs. gpt.Read allocates
//     entry count x entry size bytes straight from the header, so a crafted
//     header with a valid CRC could ask for gigabytes (or overflow int and
//     panic in make); we refuse such headers first. It also tells whether a
//     GPT exists at 512- or 4096-byte sectors without go-diskfs's noisier
//     errors;
//   - content recognition and the type-name table (go-diskfs knows the GUID
//     constants, not what the partition holds).

// GPT partition type GUIDs unbrick names (upper-case, as go-diskfs gives
// them).
const (
	gptTypeESP           = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
	gptTypeMSR           = "E3C9E316-0B5C-4DB8-817D-F92DF00215AE"
	gptTypeBasicData     = "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"
	gptTypeWinRE         = "DE94BBA4-06D1-4D40-A16A-BFD50179D6AC"
	gptTypeLDMMetadata   = "5808C8AA-7E8F-42E0-85D2-E1E90434CFB3"
	gptTypeLDMData       = "AF9B60A0-1431-4F62-BC68-3311714A69AD"
	gptTypeStorageSpaces = "E75CAF8F-F680-4CEE-AFA3-B001E56EFC2D"
)

var gptTypeNames = map[string]string{
	gptTypeESP:                             "EFI system partition",
	gptTypeMSR:                             "Microsoft reserved",
	gptTypeBasicData:                       "Microsoft basic data",
	gptTypeWinRE:                           "Windows RE",
	gptTypeLDMMetadata:                     "Windows LDM metadata",
	gptTypeLDMData:                         "Windows LDM data",
	gptTypeStorageSpaces:                   "Windows Storage Spaces",
	"0FC63DAF-8483-4772-8E79-3D69D8477DE4": "Linux filesystem",
	"0657FD6D-A4AB-43C4-84E5-0933C84B4F4F": "Linux swap",
	"E6D6D379-F507-44C2-A23C-238F2A3DF928": "Linux LVM",
	"CA7D7CCB-63ED-4C53-861C-1742536059CC": "Linux LUKS",
	"21686148-6449-6E6F-744E-656564454649": "BIOS boot",
	"48465300-0000-11AA-AA11-00306543ECAC": "Apple HFS+",
	"7C3457EF-0000-11AA-AA11-00306543ECAC": "Apple APFS",
}

// maxGPTEntryBytes bounds the entry array we let go-diskfs allocate: the
// usual array is 128 x 128 bytes = 16 KiB.
const maxGPTEntryBytes = 4 << 20

// gptHeaderState is what peekGPTHeader found at one LBA.
type gptHeaderState int

const (
	gptAbsent  gptHeaderState = iota // no "EFI PART" signature
	gptBad                           // signature, but the header fails its CRC or layout
	gptOK                            // signature, CRC and sane sizes
	gptHostile                       // valid CRC but sizes we refuse to allocate
)

// peekGPTHeader checks the GPT header at byte offset off.
func (t *Target) peekGPTHeader(off int64, ss int) (gptHeaderState, string) {
	if off < 0 || off+int64(ss) > t.size {
		return gptAbsent, ""
	}
	h := make([]byte, ss)
	if t.readFull(h, off) != nil || !bytes.Equal(h[:8], []byte("EFI PART")) {
		return gptAbsent, ""
	}
	hsize := binary.LittleEndian.Uint32(h[12:])
	if hsize < 92 || int(hsize) > ss {
		return gptBad, fmt.Sprintf("header size %d", hsize)
	}
	want := binary.LittleEndian.Uint32(h[16:])
	hc := make([]byte, hsize)
	copy(hc, h[:hsize])
	copy(hc[16:20], []byte{0, 0, 0, 0})
	if crc32.ChecksumIEEE(hc) != want {
		return gptBad, "header CRC32 mismatch"
	}
	count := uint64(binary.LittleEndian.Uint32(h[80:]))
	esize := uint64(binary.LittleEndian.Uint32(h[84:]))
	if esize != gpt.PartitionEntrySize {
		return gptHostile, fmt.Sprintf("partition entry size %d (only %d is supported)", esize, gpt.PartitionEntrySize)
	}
	if count == 0 || count*esize > maxGPTEntryBytes {
		return gptHostile, fmt.Sprintf("%d partition entries", count)
	}
	if lba := binary.LittleEndian.Uint64(h[72:]); lba > 1<<40 {
		return gptHostile, fmt.Sprintf("partition entries at LBA %d", lba)
	}
	return gptOK, ""
}

// gptSectorSizes is the order in which sector sizes are tried.
func (t *Target) gptSectorSizes() []int {
	if t.sectorSize == 4096 {
		return []int{4096, 512}
	}
	return []int{512, 4096}
}

// scanGPT returns (nil, nil) when there is no GPT at any sector size.
func (t *Target) scanGPT() ([]Candidate, error) {
	var errs []string
	for _, ss := range t.gptSectorSizes() {
		prim, pwhy := t.peekGPTHeader(int64(ss), ss)
		last := (t.size/int64(ss) - 1) * int64(ss)
		back, bwhy := t.peekGPTHeader(last, ss)
		if prim == gptAbsent && back == gptAbsent {
			continue
		}
		if prim == gptHostile || back == gptHostile {
			why := pwhy
			if back == gptHostile {
				why = bwhy
			}
			errs = append(errs, fmt.Sprintf("GPT at %d-byte sectors: refusing a header that declares %s", ss, why))
			continue
		}
		if prim != gptOK && back != gptOK {
			errs = append(errs, fmt.Sprintf("GPT at %d-byte sectors: primary header invalid (%s), backup header %s", ss, orNone(pwhy), backupWhy(back, bwhy)))
			continue
		}
		tbl, err := gpt.Read(&sectionFile{t: t}, ss, ss)
		if err != nil {
			errs = append(errs, fmt.Sprintf("GPT at %d-byte sectors: %v", ss, err))
			continue
		}
		return t.gptCandidates(tbl, ss), nil
	}
	if len(errs) > 0 {
		return nil, errors.New(strings.Join(errs, "; "))
	}
	return nil, nil
}

func orNone(s string) string {
	if s == "" {
		return "bad"
	}
	return s
}

func backupWhy(s gptHeaderState, why string) string {
	switch s {
	case gptAbsent:
		return "absent (image truncated?)"
	case gptBad:
		return "invalid (" + why + ")"
	}
	return "ok"
}

func (t *Target) gptCandidates(tbl *gpt.Table, ss int) []Candidate {
	out := []Candidate{}
	for _, p := range tbl.Partitions {
		typ := strings.ToUpper(string(p.Type))
		c := Candidate{
			Partition:     p.Index,
			Scheme:        SchemeGPT,
			SectorSize:    ss,
			TypeGUID:      typ,
			PartitionGUID: p.GUID,
			Name:          printable(p.Name),
			Label:         printable(p.Name),
			Attributes:    p.Attributes,
			TypeName:      gptTypeNames[typ],
		}
		if c.TypeName == "" {
			c.TypeName = "GPT type " + typ
		}
		const maxLBA = (1 << 62) / 4096
		if p.Start == 0 || p.End < p.Start || p.End >= maxLBA {
			c.Kind = Other
			c.Note = fmt.Sprintf("invalid entry: LBA %d to %d", p.Start, p.End)
			out = append(out, c)
			continue
		}
		c.Offset = int64(p.Start) * int64(ss)
		c.Size = int64(p.End-p.Start+1) * int64(ss)
		switch typ {
		case gptTypeLDMMetadata, gptTypeLDMData:
			c.Kind = DynamicDisk
		case gptTypeStorageSpaces:
			c.Kind = StorageSpaces
		}
		if tbl.RecoveredFromBackup {
			c.Note = "read from the backup GPT: the primary GPT is damaged"
		}
		t.fill(&c)
		out = append(out, c)
	}
	return out
}
