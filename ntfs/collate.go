package ntfs

import "encoding/binary"

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

// CollateULongs is COLLATION_NTOFS_ULONGS (0x13), the order of view
// indexes such as $ObjId:$O: keys are sequences of unsigned little-endian
// 32-bit words compared word by word, the first difference deciding (so a
// GUID key is not ordered like its bytes). Keys must have the same, non-zero
// length, a multiple of 4. Source: ntfs-3g collate.c
// (ntfs_collate_ntofs_ulongs) and layout.h; libfsntfs document, "Collation
// type".
func CollateULongs(a, b []byte) (int, error) {
	if len(a) != len(b) || len(a) == 0 || len(a)%4 != 0 {
		return 0, Corrupt("COLLATION_NTOFS_ULONGS key", -1, "key length", "keys of %d and %d bytes", len(a), len(b))
	}
	for i := 0; i < len(a); i += 4 {
		x, y := binary.LittleEndian.Uint32(a[i:]), binary.LittleEndian.Uint32(b[i:])
		if x != y {
			if x < y {
				return -1, nil
			}
			return 1, nil
		}
	}
	return 0, nil
}
