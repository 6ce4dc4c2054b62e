package image

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/diskfs/go-diskfs/filesystem"
)

// fatGeometry is the part of a FAT boot sector (BPB) that decides the FAT
// type. Field offsets and the cluster-count rule are from Microsoft's "FAT:
// General Overview of On-Disk Format" (fatgen103), section 3 ("FAT Type
// Determination"): the type is decided by the count of data clusters alone,
// < 4085 FAT12, < 65525 FAT16, otherwise FAT32.
type fatGeometry struct {
	BytesPerSector    uint32
	SectorsPerCluster uint32
	ReservedSectors   uint32
	NumFATs           uint32
	RootEntries       uint32
	TotalSectors      uint32
	FATSectors        uint32
	HiddenSectors     uint32
}

func parseFATBootSector(b []byte) (*fatGeometry, error) {
	if len(b) < 512 {
		return nil, fmt.Errorf("FAT boot sector: %d bytes, need 512", len(b))
	}
	if b[510] != 0x55 || b[511] != 0xAA {
		return nil, fmt.Errorf("FAT boot sector: no 55 AA signature")
	}
	g := &fatGeometry{
		BytesPerSector:    uint32(binary.LittleEndian.Uint16(b[11:])),
		SectorsPerCluster: uint32(b[13]),
		ReservedSectors:   uint32(binary.LittleEndian.Uint16(b[14:])),
		NumFATs:           uint32(b[16]),
		RootEntries:       uint32(binary.LittleEndian.Uint16(b[17:])),
		TotalSectors:      uint32(binary.LittleEndian.Uint16(b[19:])),
		FATSectors:        uint32(binary.LittleEndian.Uint16(b[22:])),
		HiddenSectors:     binary.LittleEndian.Uint32(b[28:]),
	}
	if g.TotalSectors == 0 {
		g.TotalSectors = binary.LittleEndian.Uint32(b[32:])
	}
	if g.FATSectors == 0 {
		g.FATSectors = binary.LittleEndian.Uint32(b[36:])
	}
	switch g.BytesPerSector {
	case 512, 1024, 2048, 4096:
	default:
		return nil, fmt.Errorf("FAT boot sector: %d bytes per sector", g.BytesPerSector)
	}
	if g.SectorsPerCluster == 0 || g.SectorsPerCluster&(g.SectorsPerCluster-1) != 0 || g.NumFATs == 0 || g.FATSectors == 0 {
		return nil, fmt.Errorf("FAT boot sector: implausible geometry %+v", *g)
	}
	if g.metaSectors() >= g.TotalSectors {
		return nil, fmt.Errorf("FAT boot sector: reserved+FAT+root (%d sectors) fill the volume (%d)", g.metaSectors(), g.TotalSectors)
	}
	return g, nil
}

func (g *fatGeometry) rootDirSectors() uint32 {
	return (g.RootEntries*32 + g.BytesPerSector - 1) / g.BytesPerSector
}

func (g *fatGeometry) metaSectors() uint32 {
	return g.ReservedSectors + g.NumFATs*g.FATSectors + g.rootDirSectors()
}

// Clusters is the count of data clusters.
func (g *fatGeometry) Clusters() uint32 {
	return (g.TotalSectors - g.metaSectors()) / g.SectorsPerCluster
}

// Type is the FAT type the cluster count makes this volume, whatever its
// BPB label says.
func (g *fatGeometry) Type() filesystem.Type {
	switch c := g.Clusters(); {
	case c < 4085:
		return filesystem.TypeFat12
	case c < 65525:
		return filesystem.TypeFat16
	default:
		return filesystem.TypeFat32
	}
}

// fatEntries is how many cluster entries one FAT can hold.
func (g *fatGeometry) fatEntries() uint64 {
	bits := uint64(16)
	switch g.Type() {
	case filesystem.TypeFat12:
		return uint64(g.FATSectors) * uint64(g.BytesPerSector) * 2 / 3
	case filesystem.TypeFat32:
		bits = 32
	}
	return uint64(g.FATSectors) * uint64(g.BytesPerSector) * 8 / bits
}

func fatTypeName(t filesystem.Type) string {
	switch t {
	case filesystem.TypeFat12:
		return "FAT12"
	case filesystem.TypeFat16:
		return "FAT16"
	case filesystem.TypeFat32:
		return "FAT32"
	}
	return "unknown"
}

// chooseFATType picks FAT16 or FAT32 for a volume of size bytes so that the
// cluster count (with go-diskfs' cluster-size tables) lands in that type's
// range: FAT16 while 4085 <= clusters < 65525, FAT32 only from 65525
// clusters up. Sizes where neither fits are refused.
func chooseFATType(size int64) (filesystem.Type, error) {
	const mib = 1 << 20
	sectors := uint32(size / 512)
	if size <= 2048*mib {
		// go-diskfs FAT16: 512 root entries, 4 reserved sectors, 2 FATs,
		// sectors per cluster by size (filesystem/fat16/fat16.go).
		spc := uint32(64)
		for _, s := range []struct {
			max int64
			spc uint32
		}{{32 * mib, 2}, {128 * mib, 4}, {256 * mib, 8}, {512 * mib, 16}, {1024 * mib, 32}} {
			if size <= s.max {
				spc = s.spc
				break
			}
		}
		data := sectors - 4 - 32
		fat := (data/spc*2 + 511) / 512
		if c := (data - 2*fat) / spc; c >= 4085 && c < 65525 {
			return filesystem.TypeFat16, nil
		}
	}
	// FAT32 in go-diskfs uses 512-byte clusters up to 260 MiB: 65525
	// clusters need at least ~33 MiB.
	if size >= 40*mib {
		return filesystem.TypeFat32, nil
	}
	return 0, fmt.Errorf("no FAT type fits a %d-byte volume (FAT16 needs 4085..65524 clusters, FAT32 65525 or more)", size)
}

// checkFAT reads back the boot sector of a FAT volume at off and checks
// what go-diskfs v1.9.4 does not: the cluster count puts the volume in the
// type we asked for (no "FAT32" below 65525 clusters), and each FAT has an
// entry for every cluster (diskfs/go-diskfs#418 leaves some sizes two short).
func checkFAT(r io.ReaderAt, off int64, want filesystem.Type) (*fatGeometry, error) {
	b := make([]byte, 512)
	if _, err := r.ReadAt(b, off); err != nil {
		return nil, fmt.Errorf("read FAT boot sector: %w", err)
	}
	g, err := parseFATBootSector(b)
	if err != nil {
		return nil, err
	}
	if got := g.Type(); got != want {
		return nil, fmt.Errorf("FAT volume has %d clusters, which makes it %s, not the %s that was asked for", g.Clusters(), fatTypeName(got), fatTypeName(want))
	}
	if need := uint64(g.Clusters()) + 2; g.fatEntries() < need {
		return nil, fmt.Errorf("FAT holds %d entries but the volume has %d clusters (+2 reserved): the FAT is too small", g.fatEntries(), g.Clusters())
	}
	return g, nil
}

// fixupFAT repairs what go-diskfs v1.9.4 writes differently from the FAT
// specification (flagged by fsck.fat): the ".." entry of a directory whose
// parent is the root must point to cluster 0 (fatgen103, "FAT Directory
// Structure"); on FAT16 its Create marks cluster 2 as end-of-chain as if
// the root directory lived there (it does not: FAT12/16 roots have their
// own region), leaking that cluster; and the BPB hidden-sectors field
// should hold the partition's first LBA. Only for volumes this package
// has just created.
func fixupFAT(rw interface {
	io.ReaderAt
	io.WriterAt
}, off int64, startLBA uint32) error {
	b := make([]byte, 512)
	if _, err := rw.ReadAt(b, off); err != nil {
		return err
	}
	g, err := parseFATBootSector(b)
	if err != nil {
		return err
	}
	binary.LittleEndian.PutUint32(b[28:], startLBA)
	if _, err := rw.WriteAt(b, off); err != nil {
		return fmt.Errorf("write FAT boot sector: %w", err)
	}
	bps := int64(g.BytesPerSector)
	clusterBytes := bps * int64(g.SectorsPerCluster)
	dataStart := off + int64(g.metaSectors())*bps
	var root []byte
	if g.Type() == filesystem.TypeFat32 {
		// Root directory in the data area; its first cluster is enough for
		// the few entries this image's root holds.
		rc := binary.LittleEndian.Uint32(b[44:])
		root = make([]byte, clusterBytes)
		if _, err := rw.ReadAt(root, dataStart+int64(rc-2)*clusterBytes); err != nil {
			return err
		}
	} else {
		root = make([]byte, int64(g.rootDirSectors())*bps)
		if _, err := rw.ReadAt(root, off+int64(g.ReservedSectors+g.NumFATs*g.FATSectors)*bps); err != nil {
			return err
		}
	}
	cluster2Used := false
	for i := 0; i+32 <= len(root); i += 32 {
		e := root[i : i+32]
		if e[0] == 0 {
			break
		}
		if e[0] != 0xE5 && e[11] != 0x0F && binary.LittleEndian.Uint16(e[26:]) == 2 && binary.LittleEndian.Uint16(e[20:]) == 0 {
			cluster2Used = true
		}
		if e[0] == 0xE5 || e[11] == 0x0F || e[11]&0x10 == 0 || e[0] == '.' {
			continue
		}
		cl := uint32(binary.LittleEndian.Uint16(e[20:]))<<16 | uint32(binary.LittleEndian.Uint16(e[26:]))
		if cl < 2 || cl-2 >= g.Clusters() {
			continue
		}
		at := dataStart + int64(cl-2)*clusterBytes + 32
		dd := make([]byte, 32)
		if _, err := rw.ReadAt(dd, at); err != nil {
			return err
		}
		if string(dd[:11]) != "..         " {
			continue
		}
		binary.LittleEndian.PutUint16(dd[20:], 0)
		binary.LittleEndian.PutUint16(dd[26:], 0)
		if _, err := rw.WriteAt(dd, at); err != nil {
			return err
		}
	}
	if g.Type() == filesystem.TypeFat16 && !cluster2Used {
		return freeOrphanCluster2(rw, off, g)
	}
	return nil
}

// freeOrphanCluster2 clears FAT16 entry 2 in every FAT copy when it is an
// end-of-chain mark that no other FAT entry links to. go-diskfs allocates
// files from the first free cluster, so on a volume it created no file
// starts at cluster 2 (it was never free); the caller checked the root.
func freeOrphanCluster2(rw interface {
	io.ReaderAt
	io.WriterAt
}, off int64, g *fatGeometry) error {
	fatBytes := int64(g.FATSectors) * int64(g.BytesPerSector)
	fat := make([]byte, fatBytes)
	first := off + int64(g.ReservedSectors)*int64(g.BytesPerSector)
	if _, err := rw.ReadAt(fat, first); err != nil {
		return err
	}
	if binary.LittleEndian.Uint16(fat[4:]) < 0xFFF8 {
		return nil
	}
	for c := uint32(3); c < g.Clusters()+2 && int(c)*2+2 <= len(fat); c++ {
		if binary.LittleEndian.Uint16(fat[c*2:]) == 2 {
			return nil
		}
	}
	for i := uint32(0); i < g.NumFATs; i++ {
		if _, err := rw.WriteAt([]byte{0, 0}, first+int64(i)*fatBytes+4); err != nil {
			return err
		}
	}
	return nil
}
