package bitlocker

import (
	"sort"
)

// layout describes how the plaintext view of a volume maps onto the disk
// (sources: libbde documentation "Virtual sector(s)"; dissect.fve
// BitlockerStream and reserved_regions; dislocker src/inouts/sectors.c):
//
//   - Windows 7 and later: the first VirtualizedSectors sectors of the view
//     (the NTFS boot sectors) live, encrypted like any other sector at that
//     place, at VirtualizedOffset; sector 0 of the disk holds the BitLocker
//     header instead.
//   - Vista: sector 0 of the disk is the NTFS boot sector with two fields
//     patched (OEM "-FVE-FS-", MFT mirror cluster replaced by the metadata
//     cluster); the view restores them. The first 8 KiB are not encrypted.
//   - Reserved regions (the three metadata blocks, the relocated boot
//     sectors' home, EOW information, bitmaps and conversion logs, an
//     in-flight conversion region) read as zeros and cannot be written.
//   - Encrypted or plaintext: everything is plaintext when BitLocker is off;
//     with encrypt-on-write, per chunk as the EOW bitmaps say; otherwise
//     bytes below the encrypted size are encrypted and bytes above it are
//     plaintext (a paused or running conversion).
type layout struct {
	ss       int64
	version  int
	reserved []span // sorted, merged

	virtEnd    int64 // v2: view bytes [0, virtEnd) are relocated
	virtOffset int64 // to [virtOffset, virtOffset+virtEnd)

	vistaPlainEnd   int64  // v1: 8192
	vistaMFTMirror  uint64 // v1: value restored at offset 56 of sector 0
	vistaMetaClustr uint64 // v1: value stored there on disk

	allPlain     bool  // BitLocker off (state decrypted)
	encryptedEnd int64 // non-EOW: physical bytes below are encrypted; <=0: all
	eow          *eowInfo
}

type span struct{ off, end int64 }

// segKind classifies a piece of the view.
type segKind int

const (
	segZero      segKind = iota // reserved: reads as zeros
	segPlain                    // stored as is
	segEncrypted                // stored encrypted at phys
	segVistaBoot                // Vista sector 0: stored patched
)

func mergeSpans(in []span) []span {
	var s []span
	for _, x := range in {
		if x.end > x.off {
			s = append(s, x)
		}
	}
	sort.Slice(s, func(i, j int) bool { return s[i].off < s[j].off })
	var out []span
	for _, x := range s {
		if n := len(out); n > 0 && x.off <= out[n-1].end {
			out[n-1].end = max(out[n-1].end, x.end)
			continue
		}
		out = append(out, x)
	}
	return out
}

// segment returns the kind of view offset off (sector aligned), where it is
// stored (phys), and how many bytes from off on (at most maxLen, a multiple
// of the sector size) share that kind and stay contiguous on disk.
func (l *layout) segment(off, maxLen int64) (kind segKind, phys, n int64) {
	if l.version == 1 && off < l.vistaPlainEnd {
		if off < l.ss {
			return segVistaBoot, off, l.ss
		}
		return segPlain, off, min(maxLen, l.vistaPlainEnd-off)
	}
	if off < l.virtEnd {
		n = min(maxLen, l.virtEnd-off)
		phys = l.virtOffset + off
		enc, run := l.encryptedAt(phys, n)
		if enc {
			return segEncrypted, phys, run
		}
		return segPlain, phys, run
	}
	n = maxLen
	for _, r := range l.reserved {
		if off >= r.end {
			continue
		}
		if off >= r.off {
			return segZero, off, min(n, r.end-off)
		}
		n = min(n, r.off-off)
		break
	}
	enc, run := l.encryptedAt(off, n)
	if enc {
		return segEncrypted, off, run
	}
	return segPlain, off, run
}

// encryptedAt reports whether physical offset p is stored encrypted and for
// how many bytes (<= n, whole sectors) that holds.
func (l *layout) encryptedAt(p, n int64) (bool, int64) {
	if l.allPlain {
		return false, n
	}
	if l.version == 1 && p < l.vistaPlainEnd {
		return false, min(n, l.vistaPlainEnd-p)
	}
	if l.eow != nil {
		enc, run, covered := l.eow.encryptedAt(p)
		if !covered {
			// Outside every EOW region (only past the last region, i.e.
			// beyond the volume): treat as plaintext up to the next region.
			next := int64(-1)
			for _, bm := range l.eow.Bitmaps {
				if bm.RegionOffset > p && (next < 0 || bm.RegionOffset < next) {
					next = bm.RegionOffset
				}
			}
			if next > 0 {
				return false, min(n, next-p)
			}
			return false, n
		}
		return enc, max(l.ss, min(n, run/l.ss*l.ss))
	}
	if l.encryptedEnd > 0 {
		if p < l.encryptedEnd {
			return true, min(n, roundUp(l.encryptedEnd, l.ss)-p)
		}
		return false, n
	}
	return true, n
}

// reservedOverlap returns the first reserved span overlapping [off, end) of
// the view, if any, including the home of relocated sectors.
func (l *layout) reservedOverlap(off, end int64) (span, bool) {
	for _, r := range l.reserved {
		if r.off < end && off < r.end {
			// The view's own first sectors [0, virtEnd) are not reserved
			// even though their raw home may overlap nothing here.
			return r, true
		}
	}
	return span{}, false
}

func roundUp(x, m int64) int64 { return (x + m - 1) / m * m }
