package disk

// MayHoldWindows reports whether a candidate that unbrick could not
// identify as BitLocker or NTFS (Kind Other or Empty, a damaged first
// sector, a partition that starts or ends past the end of the image) could
// still be a Windows system volume, judged by where it came from: a
// partition whose type Windows uses for its volumes (GPT "Microsoft basic
// data", MBR 0x07 or hidden NTFS 0x17), a partition type unbrick does not
// know, or a whole target with no partition table. Such a volume must be
// reported, never silently dropped: a fleet report must not count a host as
// fine when its Windows volume was simply not recognised.
//
// Partitions whose type says they hold something else (EFI system,
// Microsoft reserved, Windows RE, Linux, swap, BIOS boot, Apple) are not
// Windows system volumes, whatever their content.
func (c Candidate) MayHoldWindows() bool {
	if c.Kind != Other && c.Kind != Empty {
		return false
	}
	switch c.Scheme {
	case SchemeGPT:
		switch c.TypeGUID {
		case gptTypeBasicData:
			return true
		case "00000000-0000-0000-0000-000000000000":
			return false // an unused entry
		}
		_, known := gptTypeNames[c.TypeGUID]
		return !known
	case SchemeMBR:
		switch c.MBRType {
		case 0x07, 0x17:
			return true
		case 0x00, 0x05, 0x0f, 0x85:
			return false // empty slot, extended containers
		}
		_, known := mbrTypeNames[c.MBRType]
		return !known
	}
	return false
}

// Unrecognized explains, for a candidate MayHoldWindows accepts, what was
// found instead of a BitLocker or NTFS volume.
func (c Candidate) Unrecognized() string {
	what := "no BitLocker or NTFS signature at the start of the volume"
	switch {
	case c.Note != "":
		what = c.Note
	case c.Kind == Empty:
		what = "the first sector of the volume is all zero bytes"
	case c.Truncated:
		what = "no BitLocker or NTFS signature, and the image ends before the partition does"
	}
	return what
}
