package ntfs

// Filename collation (COLLATION_FILE_NAME, rule 1) orders $I30 keys by
// their names mapped through the volume's $UpCase table, compared as
// unsigned 16-bit units, a shorter name first when one is a prefix of the
// other. Names equal that way (possible only in the POSIX namespace) are
// ordered case-sensitively. Source: ntfs-3g collate.c and unistr.c
// (ntfs_names_full_collate); libfsntfs document "Index key collation".

func upcaseUnit(up []uint16, c uint16) uint16 {
	if int(c) < len(up) {
		return up[c]
	}
	return c
}

// collateNamesIC compares a and b ignoring case (through up): -1, 0 or 1.
func collateNamesIC(up []uint16, a, b []uint16) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		ca, cb := upcaseUnit(up, a[i]), upcaseUnit(up, b[i])
		if ca != cb {
			if ca < cb {
				return -1
			}
			return 1
		}
	}
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	}
	return 0
}

// CollateFileNames is the full $I30 order: case-insensitive first, then
// case-sensitive as a tie-break.
func CollateFileNames(up []uint16, a, b []uint16) int {
	if c := collateNamesIC(up, a, b); c != 0 {
		return c
	}
	for i := range a {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}
