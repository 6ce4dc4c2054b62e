package image

import (
	"fmt"
	"os"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/filesystem"
	"github.com/diskfs/go-diskfs/partition/gpt"
)

// hybridLayout is where the USB view of the ISO puts its two GPT
// partitions, in 512-byte sectors (image/doc.go, "Hybrid ISO").
type hybridLayout struct {
	ESPStart, ESPEnd   uint64 // the El Torito EFI boot image, inside the ISO volume
	LogsStart, LogsEnd uint64 // after the ISO volume, 1 MiB aligned
	Total              int64  // file size: LOGS end + 1 MiB for the backup GPT
}

// planHybrid lays out the USB view of an ISO whose volume is volBytes
// long and whose EFI boot image (espBytes) starts at 2048-byte block
// imageLBA.
func planHybrid(volBytes int64, imageLBA uint32, espBytes, logsBytes int64) hybridLayout {
	var h hybridLayout
	h.ESPStart = uint64(imageLBA) * (isoBlock / 512)
	h.ESPEnd = h.ESPStart + uint64(espBytes/512) - 1
	logsOff := roundUp(volBytes, mib)
	h.LogsStart = uint64(logsOff / 512)
	h.LogsEnd = h.LogsStart + uint64(logsBytes/512) - 1
	h.Total = logsOff + logsBytes + mib
	return h
}

// makeHybrid turns the finished ISO p (its file cut to the volume size
// volBytes) into a file that is also a USB disk image: it appends the
// LOGS volume and writes a GPT into the ISO's system area (blocks 0-15,
// which ISO 9660 leaves to the medium's own use) whose partition 1 is the
// El Torito EFI boot image, in place, and partition 2 the LOGS volume. A
// CD drive reads the ISO 9660 volume and El Torito and never the GPT
// (its sectors are 2048 bytes, so GPT's LBA 1 is zero there); a disk
// with 512-byte sectors shows the GPT, so firmware boots the same shim
// from partition 1, and unbrick finds LOGS as on a stick.
func (b *builder) makeHybrid(p string, volBytes int64, eb *elToritoBoot, espBytes int64, espType filesystem.Type) (hybridLayout, filesystem.Type, error) {
	logsBytes := int64(b.o.LogsMiB) * mib
	logsType, err := chooseFATType(logsBytes)
	if err != nil {
		return hybridLayout{}, 0, fmt.Errorf("LOGS: %w", err)
	}
	h := planHybrid(volBytes, eb.ImageLBA, espBytes, logsBytes)
	if int64(h.ESPEnd+1)*512 > volBytes {
		return h, 0, fmt.Errorf("EFI boot image at block %d (%d bytes) runs past the ISO volume (%d bytes)", eb.ImageLBA, espBytes, volBytes)
	}
	if err := os.Truncate(p, h.Total); err != nil {
		return h, 0, fmt.Errorf("extend to %d bytes for the LOGS partition: %w", h.Total, err)
	}
	d, err := diskfs.Open(p, diskfs.WithOpenMode(diskfs.ReadWrite))
	if err != nil {
		return h, 0, err
	}
	table := &gpt.Table{
		ProtectiveMBR:      true,
		LogicalSectorSize:  512,
		PhysicalSectorSize: 512,
		Partitions: []*gpt.Partition{
			{Index: 1, Start: h.ESPStart, End: h.ESPEnd, Type: gpt.EFISystemPartition, Name: espPartName},
			{Index: 2, Start: h.LogsStart, End: h.LogsEnd, Type: gpt.MicrosoftBasicData, Name: LogsPartName},
		},
	}
	if err := d.Partition(table); err != nil {
		d.Close()
		return h, 0, fmt.Errorf("write GPT: %w", err)
	}
	if err := b.writeLogs(d, 2, logsType); err != nil {
		d.Close()
		return h, 0, err
	}
	if err := d.Close(); err != nil {
		return h, 0, err
	}
	if err := finishFAT(p, int64(h.LogsStart)*512, uint32(h.LogsStart), logsType); err != nil {
		return h, 0, fmt.Errorf("LOGS: %w", err)
	}
	// The GPT went into the system area only: the ISO side must read as
	// before (volume descriptors, catalog, the boot image's FAT).
	f, err := os.Open(p)
	if err != nil {
		return h, 0, err
	}
	defer f.Close()
	again, err := readElTorito(f)
	if err != nil {
		return h, 0, fmt.Errorf("after writing the GPT: %w", err)
	}
	if *again != *eb {
		return h, 0, fmt.Errorf("after writing the GPT the El Torito entry reads %+v, was %+v", *again, *eb)
	}
	if _, err := checkFAT(f, int64(h.ESPStart)*512, espType); err != nil {
		return h, 0, fmt.Errorf("after writing the GPT, EFI boot image: %w", err)
	}
	return h, logsType, nil
}
