package bitlocker

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// BitLocker's on-disk identifiers, defined once: internal/disk recognises
// volumes with them (libbde documentation, "Overview"; dissect.fve
// bde/c_bde.py). GUIDs are as stored on disk (mixed-endian GUID bytes).
const (
	// Signature is the OEM ID at byte 3 of a BitLocker volume (Vista and
	// Windows 7+) and the first 8 bytes of every FVE metadata block.
	Signature = "-FVE-FS-"
	// ToGoSignature is the OEM ID of a BitLocker To Go discovery volume
	// (a FAT32 volume, as Windows writes it).
	ToGoSignature = "MSWIN4.1"
)

var (
	// IdentifierGUID 4967d63b-2e29-4ad8-8399-f6a339e3d001 marks a
	// Windows 7+ volume header (and BitLocker To Go, at offset 0x1A8).
	IdentifierGUID = GUID{0x3b, 0xd6, 0x67, 0x49, 0x29, 0x2e, 0xd8, 0x4a, 0x83, 0x99, 0xf6, 0xa3, 0x39, 0xe3, 0xd0, 0x01}
	// EOWIdentifierGUID 92a84d3b-dd80-4d0e-9e4e-b1e3284eaed8 marks a
	// volume that uses "used disk space only" (encrypt-on-write)
	// conversion; its recognition structure also carries the two EOW
	// information offsets.
	EOWIdentifierGUID = GUID{0x3b, 0x4d, 0xa8, 0x92, 0x80, 0xdd, 0x0e, 0x4d, 0x9e, 0x4e, 0xb1, 0xe3, 0x28, 0x4e, 0xae, 0xd8}
)

var (
	bitlockerGUID = IdentifierGUID
	eowGUID       = EOWIdentifierGUID
	fveSignature  = []byte(Signature)
	ntfsSignature = []byte("NTFS    ")
	toGoSignature = []byte(ToGoSignature)
)

// volumeHeader is the decoded first sector of a BitLocker volume.
//
// Windows 7 and later (version 2): OEM "-FVE-FS-", a FAT32-like BPB, and at
// offset 160 the BitLocker GUID followed by the three FVE metadata block
// offsets (uint64 each, bytes from the volume start). An EOW volume has the
// EOW GUID there instead, followed by the three metadata offsets and two EOW
// information offsets.
//
// Windows Vista (version 1): an NTFS boot sector whose OEM field says
// "-FVE-FS-" and whose MFT-mirror field (offset 56) holds the cluster number
// of the first FVE metadata block; there is no GUID.
type volumeHeader struct {
	Version           int // 1 = Vista, 2 = Windows 7 and later
	BytesPerSector    int
	SectorsPerCluster int
	HiddenSectors     uint32
	EOW               bool
	MetadataOffsets   [3]uint64 // v2 only; v1 learns the others from block 1
	EOWOffsets        [2]uint64
	// Vista only:
	TotalSectors64  uint64 // NTFS total sectors (the volume is one sector more)
	MFTCluster      uint64
	MetadataCluster uint64 // cluster of FVE metadata block 1
}

// ClusterSize returns BytesPerSector * SectorsPerCluster.
func (h *volumeHeader) ClusterSize() int { return h.BytesPerSector * h.SectorsPerCluster }

// parseVolumeHeader decodes sector 0. It returns ErrNotBitLocker or
// ErrBitLockerToGo for volumes it does not handle, and a *CorruptError for a
// BitLocker header with impossible fields.
func parseVolumeHeader(b []byte) (*volumeHeader, error) {
	if len(b) < 512 {
		return nil, fmt.Errorf("volume header: %d bytes, need 512: %w", len(b), ErrNotBitLocker)
	}
	oem := b[3:11]
	if bytes.Equal(oem, toGoSignature) {
		// BitLocker To Go: a FAT32 "discovery volume" with the BitLocker
		// GUID at offset 424 (libbde documentation, "BitLocker To Go").
		if bytes.Contains(b[:512], bitlockerGUID[:]) || bytes.Contains(b[:512], eowGUID[:]) {
			return nil, ErrBitLockerToGo
		}
		return nil, ErrNotBitLocker
	}
	if !bytes.Equal(oem, fveSignature) {
		return nil, ErrNotBitLocker
	}
	h := &volumeHeader{
		BytesPerSector:    int(binary.LittleEndian.Uint16(b[11:])),
		SectorsPerCluster: int(b[13]),
		HiddenSectors:     binary.LittleEndian.Uint32(b[28:]),
	}
	switch h.BytesPerSector {
	case 512, 1024, 2048, 4096:
	default:
		return nil, corruptf("BitLocker volume header", "bytes per sector %d is not 512, 1024, 2048 or 4096", h.BytesPerSector)
	}
	// Like the Windows driver (as dissect.fve describes it), look for the
	// identifying GUIDs rather than trusting fixed offsets.
	if i := bytes.Index(b[:512], eowGUID[:]); i >= 0 && i+16+40 <= 512 {
		h.Version = 2
		h.EOW = true
		for k := range 3 {
			h.MetadataOffsets[k] = binary.LittleEndian.Uint64(b[i+16+8*k:])
		}
		for k := range 2 {
			h.EOWOffsets[k] = binary.LittleEndian.Uint64(b[i+40+8*k:])
		}
		return h, nil
	}
	if i := bytes.Index(b[:512], bitlockerGUID[:]); i >= 0 && i+16+24 <= 512 {
		h.Version = 2
		for k := range 3 {
			h.MetadataOffsets[k] = binary.LittleEndian.Uint64(b[i+16+8*k:])
		}
		return h, nil
	}
	// Vista: the NTFS BPB is intact apart from the two patched fields.
	h.Version = 1
	if h.SectorsPerCluster == 0 || h.SectorsPerCluster&(h.SectorsPerCluster-1) != 0 || h.SectorsPerCluster > 128 {
		return nil, corruptf("BitLocker (Vista) volume header", "sectors per cluster %d is not a power of two up to 128", h.SectorsPerCluster)
	}
	h.TotalSectors64 = binary.LittleEndian.Uint64(b[40:])
	h.MFTCluster = binary.LittleEndian.Uint64(b[48:])
	h.MetadataCluster = binary.LittleEndian.Uint64(b[56:])
	if h.MetadataCluster == 0 || h.MetadataCluster > 1<<48 {
		return nil, corruptf("BitLocker (Vista) volume header", "FVE metadata cluster %d is implausible", h.MetadataCluster)
	}
	return h, nil
}
