package disk

import (
	"bytes"
	"encoding/binary"
	"strings"

	"github.com/unbrick/unbrick/bitlocker"
)

// Volume boot sector facts used here (Microsoft FAT and NTFS boot sector
// layouts; BitLocker layouts as documented by libbde's "BitLocker Drive
// Encryption (BDE) format" and dislocker):
//   - bytes 3..10 are the OEM / file-system signature: "-FVE-FS-" for
//     BitLocker (Vista boot jump EB 52 90, Windows 7+ EB 58 90), "NTFS    ",
//     "EXFAT   ", "MSWIN4.1" (FAT written by Windows; also the BitLocker To
//     Go discovery volume);
//   - bytes 11..12: bytes per sector; NTFS total sectors at 0x28 (8 bytes);
//   - Windows 7+ BitLocker: the three FVE metadata block offsets at 0xB0,
//     0xB8, 0xC0; BitLocker To Go: at 0x1B8, 0x1C0, 0x1C8 with the BitLocker
//     identifier GUID at 0x1A8; Vista: the first at 0x38;
//   - an FVE metadata block starts with "-FVE-FS-", version at 10 (1 Vista,
//     2 Windows 7+) and the encrypted volume size at 16 (8 bytes).
//   - LUKS: "LUKS" BA BE at byte 0; ReFS: "ReFS" 00 00 00 00 at byte 3.
var (
	sigBitLocker = []byte(bitlocker.Signature)
	sigNTFS      = []byte("NTFS    ")
	sigExFAT     = []byte("EXFAT   ")
	sigMSWIN41   = []byte(bitlocker.ToGoSignature)
	sigReFS      = []byte("ReFS\x00\x00\x00\x00")
	sigLUKS      = []byte("LUKS\xba\xbe")
	sigFAT32     = []byte("FAT32   ")
	sigFAT1x     = []byte("FAT1")
)

// bitLockerIdentifiers are the GUIDs (on-disk byte order) BitLocker writes
// into its boot sector (bitlocker.IdentifierGUID and, on volumes converted
// with "used space only", bitlocker.EOWIdentifierGUID).
var bitLockerIdentifiers = [][]byte{bitlocker.IdentifierGUID[:], bitlocker.EOWIdentifierGUID[:]}

// volumeInfo is what a first sector (and, for BitLocker, an FVE metadata
// block header) says about a volume.
type volumeInfo struct {
	kind  Kind
	label string // FAT label from the boot sector, if any
	// declared is the volume size the volume's own header declares (NTFS
	// total sectors + the backup boot sector; BitLocker encrypted volume
	// size), 0 when unknown.
	declared int64
	// note explains a volume whose header is damaged.
	note string
}

// hasVolumeSignature reports whether sector 0 carries a volume signature
// at offset 3 that makes the whole target one volume.
func hasVolumeSignature(b []byte) bool {
	if len(b) < 512 {
		return false
	}
	sig := b[3:11]
	return bytes.Equal(sig, sigBitLocker) || bytes.Equal(sig, sigNTFS)
}

// identify classifies a volume from its first sector; readAt reads
// relative to the volume start (for FVE metadata block headers) and may be
// nil.
func identify(b []byte, readAt func(p []byte, off int64) error) volumeInfo {
	if len(b) < 512 {
		return volumeInfo{kind: Other}
	}
	if bytes.HasPrefix(b, sigLUKS) {
		return volumeInfo{kind: LUKS}
	}
	sig := b[3:11]
	switch {
	case bytes.Equal(sig, sigBitLocker):
		vi := volumeInfo{kind: BitLocker}
		var offs []int64
		if b[0] == 0xeb && b[1] == 0x52 { // Vista layout
			offs = []int64{int64(binary.LittleEndian.Uint64(b[0x38:]))}
		} else {
			for i := 0; i < 3; i++ {
				offs = append(offs, int64(binary.LittleEndian.Uint64(b[0xb0+8*i:])))
			}
		}
		vi.declared = fveDeclaredSize(offs, readAt)
		return vi
	case bytes.Equal(sig, sigNTFS):
		vi := volumeInfo{kind: NTFS}
		bps := int64(binary.LittleEndian.Uint16(b[11:]))
		total := binary.LittleEndian.Uint64(b[0x28:])
		if bps >= 256 && bps <= 4096 && bps&(bps-1) == 0 && total > 0 && total < 1<<48 {
			vi.declared = (int64(total) + 1) * bps
		}
		return vi
	case bytes.Equal(sig, sigReFS):
		return volumeInfo{kind: ReFS}
	case bytes.Equal(sig, sigExFAT):
		return volumeInfo{kind: ExFAT}
	}
	if bytes.Equal(sig, sigMSWIN41) && isBitLockerToGo(b, readAt) {
		return volumeInfo{kind: BitLockerToGo}
	}
	// A Windows 7+ BitLocker header carries the BitLocker identifier at
	// 0xA0 and a FAT32-like BPB: with its "-FVE-FS-" signature damaged it
	// must not pass for a FAT data volume.
	for _, id := range bitLockerIdentifiers {
		if bytes.Equal(b[0xa0:0xb0], id) {
			return volumeInfo{kind: Other, note: "a BitLocker volume header whose signature is damaged (not \"-FVE-FS-\")"}
		}
	}
	if b[510] == 0x55 && b[511] == 0xaa {
		if bytes.Equal(b[0x52:0x5a], sigFAT32) {
			return volumeInfo{kind: FAT, label: fatLabel(b[0x47:0x52])}
		}
		if bytes.HasPrefix(b[0x36:0x3e], sigFAT1x) {
			return volumeInfo{kind: FAT, label: fatLabel(b[0x2b:0x36])}
		}
	}
	if allZero(b) {
		return volumeInfo{kind: Empty}
	}
	return volumeInfo{kind: Other}
}

// isBitLockerToGo: "MSWIN4.1" plus the BitLocker identifier at 0x1A8 or an
// FVE metadata block where the To Go header points.
func isBitLockerToGo(b []byte, readAt func(p []byte, off int64) error) bool {
	for _, id := range bitLockerIdentifiers {
		if bytes.Equal(b[0x1a8:0x1b8], id) {
			return true
		}
	}
	if readAt == nil {
		return false
	}
	var hdr [8]byte
	for i := 0; i < 3; i++ {
		off := int64(binary.LittleEndian.Uint64(b[0x1b8+8*i:]))
		if off <= 0 {
			continue
		}
		if readAt(hdr[:], off) == nil && bytes.Equal(hdr[:], sigBitLocker) {
			return true
		}
	}
	return false
}

// fveDeclaredSize reads the FVE metadata block headers at offs and returns
// the first non-zero encrypted volume size found, or 0.
func fveDeclaredSize(offs []int64, readAt func(p []byte, off int64) error) int64 {
	if readAt == nil {
		return 0
	}
	var h [24]byte
	for _, off := range offs {
		if off <= 0 {
			continue
		}
		if readAt(h[:], off) != nil || !bytes.Equal(h[:8], sigBitLocker) {
			continue
		}
		if v := binary.LittleEndian.Uint16(h[10:]); v != 1 && v != 2 {
			continue
		}
		size := binary.LittleEndian.Uint64(h[16:])
		if size > 0 && size < 1<<56 && int64(size) > off {
			return int64(size)
		}
	}
	return 0
}

func fatLabel(b []byte) string {
	s := strings.TrimRight(string(b), " \x00")
	if s == "NO NAME" {
		return ""
	}
	return printable(s)
}

// printable replaces control and non-ASCII bytes so a label from disk can
// be printed safely.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return '?'
		}
		return r
	}, s)
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
