// Package mst is the multi-sector transfer protection NTFS puts on every
// structure larger than a sector that it writes in one piece: MFT records
// (FILE), index blocks (INDX), and $LogFile restart (RSTR) and record
// (RCRD) pages. It is the one definition of that header and of the fixup
// scheme, shared by ntfs (FILE, INDX), ntfs/logfile (RSTR, RCRD) and the
// writers in ntfs/edit and ntfs/replay.
//
// Every such structure starts with a 4-byte signature, the offset (+4)
// and entry count (+6) of its update sequence array (USA) and, for FILE,
// INDX and RCRD, the $LogFile LSN of its last change (+8). The last two
// bytes of every 512-byte stride (whatever the sector size) hold the
// update sequence number USA[0]; the real bytes are kept in USA[1..n]. A
// stride whose tail differs from USA[0] was not written with the others:
// a torn write (libfsntfs "update sequence"; ntfs-3g mst.c).
package mst

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Stride is the update sequence stride: always 512 bytes (ntfs-3g
// NTFS_BLOCK_SIZE).
const Stride = 512

// Header field offsets, common to FILE, INDX, RSTR and RCRD.
const (
	OffMagic     = 0x00 // 4-byte signature: "FILE", "INDX", "RSTR", "RCRD"
	OffUSAOffset = 0x04 // uint16: offset of the update sequence array
	OffUSACount  = 0x06 // uint16: entries in the array (strides + 1)
	OffLSN       = 0x08 // uint64: $LogFile LSN of the last change (FILE, INDX, RCRD)
)

// Error says which header field is wrong and where; callers wrap it in
// their own typed error naming the structure.
type Error struct {
	Field  string
	Offset int64
	Msg    string
}

func (e *Error) Error() string { return e.Msg }

// Unprotect checks and removes the update sequence protection of b in
// place: the last two bytes of every 512-byte stride must equal USA[0]
// and are replaced by USA[1..n]. It returns the USA offset, count and the
// update sequence number.
func Unprotect(b []byte) (usaOff, usaCount int, usn uint16, err *Error) {
	if len(b) < Stride || len(b)%Stride != 0 {
		return 0, 0, 0, &Error{"", -1, fmt.Sprintf("size %d is not a multiple of %d", len(b), Stride)}
	}
	usaOff = int(binary.LittleEndian.Uint16(b[OffUSAOffset:]))
	usaCount = int(binary.LittleEndian.Uint16(b[OffUSACount:]))
	strides := len(b) / Stride
	if usaCount != strides+1 {
		return 0, 0, 0, &Error{"update sequence array count", OffUSACount, fmt.Sprintf("update sequence array has %d entries, want %d for %d bytes", usaCount, strides+1, len(b))}
	}
	if usaOff < 8 || usaOff%2 != 0 || usaOff+2*usaCount > Stride-2 {
		return 0, 0, 0, &Error{"update sequence array offset", OffUSAOffset, fmt.Sprintf("update sequence array offset %d is invalid", usaOff)}
	}
	usn = binary.LittleEndian.Uint16(b[usaOff:])
	for i := 0; i < strides; i++ {
		tail := i*Stride + Stride - 2
		if got := binary.LittleEndian.Uint16(b[tail:]); got != usn {
			return 0, 0, 0, &Error{"update sequence number", int64(tail), fmt.Sprintf("update sequence mismatch in 512-byte stride %d (0x%04x, want 0x%04x): torn write or bad sector", i, got, usn)}
		}
	}
	for i := 0; i < strides; i++ {
		tail := i*Stride + Stride - 2
		copy(b[tail:tail+2], b[usaOff+2+2*i:])
	}
	return usaOff, usaCount, usn, nil
}

// NextUSN is the update sequence number a writer stamps next: incremented,
// skipping 0 and 0xFFFF (ntfs-3g mst.c ntfs_mst_pre_write_fixup).
func NextUSN(usn uint16) uint16 {
	usn++
	if usn == 0 || usn == 0xFFFF {
		usn = 1
	}
	return usn
}

// Protect returns the on-disk form of a clean (fixed-up) structure: a
// copy with the update sequence number advanced from usn, each 512-byte
// stride's last two bytes saved into the update sequence array and
// replaced by the new number. It also returns the new number.
func Protect(clean []byte, usaOff, usaCount int, usn uint16) ([]byte, uint16, error) {
	strides := len(clean) / Stride
	if len(clean)%Stride != 0 || usaCount != strides+1 || usaOff < 8 || usaOff+2*usaCount > Stride-2 {
		return nil, 0, fmt.Errorf("update sequence array (offset %d, %d entries) does not fit a %d-byte structure", usaOff, usaCount, len(clean))
	}
	b := append([]byte(nil), clean...)
	n := NextUSN(usn)
	binary.LittleEndian.PutUint16(b[usaOff:], n)
	for i := 0; i < strides; i++ {
		tail := i*Stride + Stride - 2
		copy(b[usaOff+2+2*i:], b[tail:tail+2])
		binary.LittleEndian.PutUint16(b[tail:], n)
	}
	return b, n, nil
}

// ProtectInPlace protects the clean structure b in place, taking the USA
// offset, count and current number from its header, advancing the number
// as NextUSN does.
func ProtectInPlace(b []byte) error {
	usaOff := int(binary.LittleEndian.Uint16(b[OffUSAOffset:]))
	usaCount := int(binary.LittleEndian.Uint16(b[OffUSACount:]))
	if usaCount != len(b)/Stride+1 || usaOff+2*usaCount > len(b) {
		return errors.New("update sequence array does not fit")
	}
	usn := NextUSN(binary.LittleEndian.Uint16(b[usaOff:]))
	binary.LittleEndian.PutUint16(b[usaOff:], usn)
	for i := 1; i < usaCount; i++ {
		tail := i*Stride - 2
		copy(b[usaOff+2*i:], b[tail:tail+2])
		binary.LittleEndian.PutUint16(b[tail:], usn)
	}
	return nil
}
