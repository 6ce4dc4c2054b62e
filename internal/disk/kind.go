package disk

// Kind says what a Candidate holds, judged by its content (and, for the
// unsupported container formats, by its partition type).
type Kind int

// Kinds of candidate volumes. BitLocker and NTFS are what unbrick works
// on; the others are reported so that a user sees what was found.
const (
	// Other: no volume unbrick recognises (unknown content, empty, swap...).
	Other Kind = iota
	// BitLocker: a BitLocker volume ("-FVE-FS-" at offset 3; Vista or
	// Windows 7+ layout).
	BitLocker
	// NTFS: a plain NTFS volume ("NTFS    " at offset 3).
	NTFS
	// BitLockerToGo: a BitLocker To Go volume (FAT-looking "MSWIN4.1"
	// discovery volume carrying FVE metadata). Not supported yet.
	BitLockerToGo
	// FAT: a FAT12/16/32 file system, such as the EFI system partition.
	FAT
	// ExFAT: an exFAT file system.
	ExFAT
	// ReFS: a Windows ReFS volume. Not supported.
	ReFS
	// DynamicDisk: a Windows dynamic disk (LDM): MBR type 0x42 or the
	// GPT LDM metadata/data types. Volumes on it are not supported.
	DynamicDisk
	// StorageSpaces: a Windows Storage Spaces pool member. Not supported.
	StorageSpaces
	// LUKS: a Linux LUKS encrypted volume. Not supported.
	LUKS
	// Empty: the first sector of the partition is all zero bytes.
	Empty
)

var kindNames = map[Kind]string{
	Other:         "other",
	BitLocker:     "BitLocker",
	NTFS:          "NTFS",
	BitLockerToGo: "BitLocker To Go",
	FAT:           "FAT",
	ExFAT:         "exFAT",
	ReFS:          "ReFS",
	DynamicDisk:   "dynamic disk (LDM)",
	StorageSpaces: "Storage Spaces",
	LUKS:          "LUKS",
	Empty:         "empty",
}

// String is a human-readable name ("BitLocker", "NTFS", "dynamic disk (LDM)"...).
func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return "unknown kind"
}

// Unsupported reports whether the kind may hold a Windows volume that
// unbrick cannot open (so a user must be told), as opposed to content that
// is simply not a Windows system volume (FAT, empty, other).
func (k Kind) Unsupported() bool {
	switch k {
	case BitLockerToGo, ReFS, DynamicDisk, StorageSpaces, LUKS:
		return true
	}
	return false
}
