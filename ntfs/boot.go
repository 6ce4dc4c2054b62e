package ntfs

import (
	"encoding/binary"
	"fmt"
	"math/bits"
)

// BootSector holds the validated geometry from an NTFS boot sector.
// Offsets (libfsntfs format document, "Volume header"; ntfs-3g layout.h
// NTFS_BOOT_SECTOR): 0x03 OEM id "NTFS    ", 0x0B bytes per sector, 0x0D
// sectors per cluster, 0x28 total sectors, 0x30 $MFT LCN, 0x38 $MFTMirr LCN,
// 0x40 clusters per MFT record, 0x44 clusters per index block, 0x48 serial.
type BootSector struct {
	BytesPerSector    int
	SectorsPerCluster int
	ClusterSize       int
	TotalSectors      int64
	MFTLCN            int64
	MFTMirrLCN        int64
	RecordSize        int // bytes per MFT record (1024 or 4096 in practice)
	IndexBlockSize    int // bytes per $INDEX_ALLOCATION block (4096 in practice)
	SerialNumber      uint64
	HiddenSectors     uint32
}

// TotalClusters is the number of clusters the volume has.
func (b *BootSector) TotalClusters() int64 {
	return b.TotalSectors / int64(b.SectorsPerCluster)
}

// VolumeSize is the size in bytes the boot sector claims (without the
// backup boot sector that follows the last counted sector).
func (b *BootSector) VolumeSize() int64 {
	return b.TotalSectors * int64(b.BytesPerSector)
}

// ParseBootSector validates and decodes an NTFS boot sector (at least the
// first 512 bytes of the volume).
func ParseBootSector(s []byte) (*BootSector, error) {
	if len(s) < 512 {
		return nil, fmt.Errorf("%w: boot sector shorter than 512 bytes", ErrNotNTFS)
	}
	if string(s[3:11]) != "NTFS    " {
		return nil, ErrNotNTFS
	}
	b := &BootSector{}
	bps := int(binary.LittleEndian.Uint16(s[0x0b:]))
	if bps < 256 || bps > 4096 || bits.OnesCount(uint(bps)) != 1 {
		return nil, badBoot(0x0B, "bytes per sector", "bytes per sector is %d (must be a power of two from 256 to 4096)", bps)
	}
	b.BytesPerSector = bps
	spc := int(s[0x0d])
	switch {
	case spc == 0:
		return nil, badBoot(0x0D, "sectors per cluster", "sectors per cluster is 0")
	case spc > 0x80:
		// Clusters over 64 KiB: the byte is a negative power of two
		// (Windows 10 1709 and later; ntfs-3g bootsect.c).
		shift := 256 - spc
		if shift > 20 {
			return nil, badBoot(0x0D, "sectors per cluster", "sectors per cluster code 0x%02x is out of range", spc)
		}
		spc = 1 << shift
	case bits.OnesCount(uint(spc)) != 1:
		return nil, badBoot(0x0D, "sectors per cluster", "sectors per cluster is %d (must be a power of two)", spc)
	}
	b.SectorsPerCluster = spc
	b.ClusterSize = bps * spc
	if b.ClusterSize > 2<<20 {
		return nil, badBoot(0x0D, "sectors per cluster", "cluster size %d exceeds 2 MiB", b.ClusterSize)
	}
	if binary.LittleEndian.Uint16(s[510:]) != 0xaa55 {
		return nil, badBoot(0x1FE, "end-of-sector marker", "end-of-sector marker 0x55AA missing")
	}
	b.TotalSectors = int64(binary.LittleEndian.Uint64(s[0x28:]))
	if b.TotalSectors <= 0 || b.TotalSectors > maxVCN {
		return nil, badBoot(0x28, "total sectors", "total sectors %d out of range", b.TotalSectors)
	}
	if b.TotalClusters() == 0 {
		return nil, badBoot(0x28, "total sectors", "volume of %d sectors is smaller than one cluster", b.TotalSectors)
	}
	b.MFTLCN = int64(binary.LittleEndian.Uint64(s[0x30:]))
	b.MFTMirrLCN = int64(binary.LittleEndian.Uint64(s[0x38:]))
	if b.MFTLCN <= 0 || b.MFTLCN >= b.TotalClusters() {
		return nil, badBoot(0x30, "$MFT LCN", "$MFT LCN %d outside the volume's %d clusters", b.MFTLCN, b.TotalClusters())
	}
	if b.MFTMirrLCN <= 0 || b.MFTMirrLCN >= b.TotalClusters() {
		return nil, badBoot(0x38, "$MFTMirr LCN", "$MFTMirr LCN %d outside the volume's %d clusters", b.MFTMirrLCN, b.TotalClusters())
	}
	var err error
	if b.RecordSize, err = clustersOrShift(int8(s[0x40]), b.ClusterSize, "MFT record size", 0x40); err != nil {
		return nil, err
	}
	if b.IndexBlockSize, err = clustersOrShift(int8(s[0x44]), b.ClusterSize, "index block size", 0x44); err != nil {
		return nil, err
	}
	b.SerialNumber = binary.LittleEndian.Uint64(s[0x48:])
	b.HiddenSectors = binary.LittleEndian.Uint32(s[0x1c:])
	return b, nil
}

// clustersOrShift decodes the boot sector's size encoding: a positive value
// counts clusters, a negative value n means 2^-n bytes.
func clustersOrShift(c int8, clusterSize int, what string, off int64) (int, error) {
	var size int
	switch {
	case c > 0:
		size = int(c) * clusterSize
	case c < 0 && c >= -31:
		size = 1 << uint(-c)
	default:
		return 0, badBoot(off, what, "%s code %d is invalid", what, c)
	}
	// Multi-sector records are protected in 512-byte strides.
	if size < 512 || size > 65536 || bits.OnesCount(uint(size)) != 1 {
		return 0, badBoot(off, what, "%s %d bytes is out of range (512 to 65536, power of two)", what, size)
	}
	return size, nil
}

func badBoot(off int64, field, format string, args ...any) error {
	return Corrupt("boot sector", off, field, format, args...)
}
