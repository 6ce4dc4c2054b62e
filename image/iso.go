package image

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/disk"
	"github.com/diskfs/go-diskfs/filesystem"
	"github.com/diskfs/go-diskfs/filesystem/iso9660"
)

// Paths in the ISO 9660 tree (Rock Ridge names) besides the ESP files,
// and the volume identifier (ECMA-119 d-characters: A-Z, 0-9, _).
const (
	isoBootImage = "/boot/efi.img"
	isoCatalog   = "/boot/boot.cat"
	isoReadme    = "/README.txt"
	isoVolumeID  = "UNBRICK"
	isoBlock     = 2048
)

// buildISO writes the UEFI-bootable ISO 9660 image: the boot files both
// in the ISO 9660 tree and in a FAT image that the El Torito catalog
// names as its UEFI (platform 0xEF) no-emulation boot entry. The firmware
// starts shim from the FAT image; grub, started from a CD, takes the
// whole CD as its device and reads /EFI/debian/grub.cfg, the kernel and
// the initramfs from the ISO 9660 tree (image/doc.go, "ISO image").
func (b *builder) buildISO() (*Result, error) {
	o := b.o
	bf, err := b.bootFiles()
	if err != nil {
		return nil, err
	}
	espSz, espType, err := isoBootImageSize(bf.content, o.ESPFat32)
	if err != nil {
		return nil, fmt.Errorf("EFI boot image: %w", err)
	}
	if espSz > maxElToritoCount*512 {
		b.say("EFI boot image %d MiB is over %d sectors: the catalog says 0 (up to the end of the CD)", espSz/mib, maxElToritoCount)
	}
	tmp, err := os.MkdirTemp("", "unbrick-iso-")
	if err != nil {
		return nil, fmt.Errorf("temporary directory for the ISO: %w", err)
	}
	defer os.RemoveAll(tmp)

	// The El Torito EFI boot image: a FAT volume without partition table,
	// the same files as the USB image's ESP.
	efiPath := filepath.Join(tmp, "efi.img")
	ed, err := diskfs.Create(efiPath, espSz, diskfs.SectorSizeDefault)
	if err != nil {
		return nil, fmt.Errorf("create the EFI boot image in %s: %w (is the temporary directory full? set TMPDIR)", tmp, err)
	}
	if err := b.writeESP(ed, 0, espType, bf); err != nil {
		ed.Close()
		return nil, err
	}
	if err := ed.Close(); err != nil {
		return nil, fmt.Errorf("close the EFI boot image: %w", err)
	}
	if err := finishFAT(efiPath, 0, 0, espType); err != nil {
		return nil, fmt.Errorf("EFI boot image: %w", err)
	}
	efiImg, err := os.ReadFile(efiPath)
	if err != nil {
		return nil, fmt.Errorf("EFI boot image: %w", err)
	}
	readme := isoReadmeText()

	// Upper bound of the ISO size: every file rounded up to a block, plus
	// 1 MiB for the system area, volume descriptors, directories, path
	// tables and the catalog. The file is cut to the volume size after.
	est := roundUp(int64(len(efiImg)), isoBlock) + roundUp(int64(len(readme)), isoBlock) + mib
	for _, f := range bf.files {
		est += roundUp(int64(len(f.data)), isoBlock)
	}
	d, partial, cleanup, keep, err := createPartial(o.Out, est)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	d.LogicalBlocksize = isoBlock
	ws := filepath.Join(tmp, "iso")
	if err := os.Mkdir(ws, 0o755); err != nil {
		return nil, err
	}
	fs, err := d.CreateFilesystem(disk.FilesystemSpec{Partition: 0, FSType: filesystem.TypeISO9660, WorkDir: ws})
	if err != nil {
		return nil, fmt.Errorf("create ISO 9660 file system: %w", err)
	}
	iso, ok := fs.(*iso9660.FileSystem)
	if !ok {
		return nil, fmt.Errorf("create ISO 9660 file system: go-diskfs returned %T", fs)
	}
	for _, f := range bf.files {
		if err := writeFSFile(iso, f.path, f.data); err != nil {
			return nil, fmt.Errorf("ISO: %w", err)
		}
	}
	if err := writeFSFile(iso, isoBootImage, efiImg); err != nil {
		return nil, fmt.Errorf("ISO: %w", err)
	}
	if err := writeFSFile(iso, isoReadme, readme); err != nil {
		return nil, fmt.Errorf("ISO: %w", err)
	}
	err = iso.Finalize(iso9660.FinalizeOptions{
		RockRidge:        true,
		VolumeIdentifier: isoVolumeID,
		ElTorito: &iso9660.ElTorito{
			BootCatalog:     isoCatalog[1:],
			HideBootCatalog: true,
			Entries: []*iso9660.ElToritoEntry{{
				Platform:  iso9660.EFI,
				Emulation: iso9660.NoEmulation,
				BootFile:  isoBootImage[1:],
			}},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("write ISO 9660 file system: %w", err)
	}
	if err := d.Close(); err != nil {
		return nil, fmt.Errorf("close %s: %w", partial, err)
	}
	keep()
	vol, eb, err := finishISO(partial, espType)
	if err != nil {
		os.Remove(partial)
		return nil, fmt.Errorf("ISO %s: %w", partial, err)
	}
	h, logsType, err := b.makeHybrid(partial, vol, eb, espSz, espType)
	if err != nil {
		os.Remove(partial)
		return nil, fmt.Errorf("ISO %s, USB view: %w", partial, err)
	}
	if err := os.Rename(partial, o.Out); err != nil {
		os.Remove(partial)
		return nil, err
	}
	b.say("wrote %s (%.1f MiB: ISO 9660 volume %.1f MiB with EFI boot image %d MiB %s; as a disk, GPT with that image as ESP and LOGS %d MiB %s)",
		o.Out, float64(h.Total)/float64(mib), float64(vol)/float64(mib), espSz/mib, fatTypeName(espType), o.LogsMiB, fatTypeName(logsType))
	return &Result{
		Size: h.Total, ISOVolumeSize: vol, ESPSize: espSz, ESPType: fatTypeName(espType),
		LogsSize: int64(o.LogsMiB) * mib, LogsType: fatTypeName(logsType),
		InitrdSize: bf.initrdSize, Modules: bf.mods.Ordered, MissingModules: bf.mods.Missing,
	}, nil
}

// maxElToritoCount is the largest sector count (512-byte sectors) an El
// Torito entry can hold.
const maxElToritoCount = 0xFFFF

// isoBootImageSize is the size and FAT type of the ISO's EFI boot image:
// the content plus 5% and 2 MiB for FAT overhead, rounded up to whole MiB,
// at least 8 MiB (the CD is read-only: no room to swap a kernel is
// needed), so that a usual boot chain stays under 32 MiB, the most the
// catalog's sector count can describe. With fat32, FAT32 of at least 40
// MiB as for the ESP.
func isoBootImageSize(content int64, fat32 bool) (int64, filesystem.Type, error) {
	if fat32 {
		return espSize(content, true)
	}
	size := max((content+content*5/100+2*mib+mib-1)/mib*mib, 8*mib) // FAT16 needs 4085 clusters
	typ, err := chooseFATType(size)
	return size, typ, err
}

func roundUp(n, to int64) int64 { return (n + to - 1) / to * to }

// elToritoBoot is the initial boot entry of an ISO image, as readElTorito
// finds it.
type elToritoBoot struct {
	VolumeBlocks uint32 // volume space size, 2048-byte blocks (PVD)
	CatalogLBA   uint32 // boot catalog, 2048-byte block
	Platform     byte   // platform ID of the catalog's section (0xEF = UEFI)
	Media        byte   // boot media type (0 = no emulation)
	ImageLBA     uint32 // load RBA of the boot image, 2048-byte block
	SectorCount  uint16 // sector count, 512-byte sectors (0: up to the end of the medium)
}

// readElTorito reads the primary volume descriptor, the El Torito boot
// record and the boot catalog of an ISO 9660 image and returns its initial
// (default) entry. Offsets are from ECMA-119 8.4 (primary volume
// descriptor) and 8.2 (boot record), and the El Torito specification
// (boot record volume descriptor, validation entry, initial/default
// entry).
func readElTorito(r io.ReaderAt) (*elToritoBoot, error) {
	var eb elToritoBoot
	bootRecord := false
	blk := make([]byte, isoBlock)
	// Volume descriptors start at block 16 and end with type 255.
	for lba := int64(16); lba < 16+32; lba++ {
		if _, err := r.ReadAt(blk, lba*isoBlock); err != nil {
			return nil, fmt.Errorf("read volume descriptor at block %d: %w", lba, err)
		}
		if string(blk[1:6]) != "CD001" {
			return nil, fmt.Errorf("block %d: no ISO 9660 volume descriptor (CD001): not an ISO image", lba)
		}
		switch blk[0] {
		case 1:
			eb.VolumeBlocks = binary.LittleEndian.Uint32(blk[80:])
			if bs := binary.LittleEndian.Uint16(blk[128:]); bs != isoBlock {
				return nil, fmt.Errorf("logical block size %d, want %d", bs, isoBlock)
			}
		case 0:
			if string(bytes.TrimRight(blk[7:39], "\x00")) == "EL TORITO SPECIFICATION" {
				eb.CatalogLBA = binary.LittleEndian.Uint32(blk[0x47:])
				bootRecord = true
			}
		}
		if blk[0] == 255 {
			break
		}
	}
	if eb.VolumeBlocks == 0 {
		return nil, fmt.Errorf("no primary volume descriptor")
	}
	if !bootRecord {
		return nil, fmt.Errorf("no El Torito boot record: the image is not bootable")
	}
	cat := make([]byte, 64)
	if _, err := r.ReadAt(cat, int64(eb.CatalogLBA)*isoBlock); err != nil {
		return nil, fmt.Errorf("read boot catalog at block %d: %w", eb.CatalogLBA, err)
	}
	var sum uint16
	for i := 0; i < 32; i += 2 {
		sum += binary.LittleEndian.Uint16(cat[i:])
	}
	if cat[0] != 1 || cat[0x1e] != 0x55 || cat[0x1f] != 0xAA || sum != 0 {
		return nil, fmt.Errorf("boot catalog at block %d: bad validation entry (header %#x, key %#x %#x, checksum %#x)", eb.CatalogLBA, cat[0], cat[0x1e], cat[0x1f], sum)
	}
	eb.Platform = cat[1]
	e := cat[32:]
	if e[0] != 0x88 {
		return nil, fmt.Errorf("boot catalog: initial entry is not bootable (indicator %#x)", e[0])
	}
	eb.Media = e[1]
	eb.SectorCount = binary.LittleEndian.Uint16(e[6:])
	eb.ImageLBA = binary.LittleEndian.Uint32(e[8:])
	if eb.ImageLBA == 0 || eb.ImageLBA >= eb.VolumeBlocks {
		return nil, fmt.Errorf("boot catalog: boot image at block %d, outside the volume (%d blocks)", eb.ImageLBA, eb.VolumeBlocks)
	}
	return &eb, nil
}

// finishISO reads back what go-diskfs wrote: one UEFI no-emulation boot
// entry whose image is a FAT volume of type want (checkFAT); it then cuts
// the file to the volume size recorded in the primary volume descriptor
// (createPartial made it larger) and returns that size and the entry.
func finishISO(p string, want filesystem.Type) (int64, *elToritoBoot, error) {
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		return 0, nil, err
	}
	defer f.Close()
	eb, err := readElTorito(f)
	if err != nil {
		return 0, nil, err
	}
	if eb.Platform != 0xEF || eb.Media != 0 {
		return 0, nil, fmt.Errorf("boot entry has platform %#x media %#x, want UEFI (0xEF) without emulation", eb.Platform, eb.Media)
	}
	if _, err := checkFAT(f, int64(eb.ImageLBA)*isoBlock, want); err != nil {
		return 0, nil, fmt.Errorf("EFI boot image at block %d: %w", eb.ImageLBA, err)
	}
	size := int64(eb.VolumeBlocks) * isoBlock
	fi, err := f.Stat()
	if err != nil {
		return 0, nil, err
	}
	if fi.Size() < size {
		return 0, nil, fmt.Errorf("volume is %d bytes but the file only %d", size, fi.Size())
	}
	if err := f.Truncate(size); err != nil {
		return 0, nil, err
	}
	return size, eb, f.Sync()
}

func isoReadmeText() []byte {
	return bytes.ReplaceAll([]byte(`unbrick boot CD (UEFI, Secure Boot)

This file is two things at once.

As a CD (burned, a VM's virtual CD drive, a server's virtual media) it holds
only the boot chain (shim, grub, kernel, unbrick as /init) and cannot be
written. Settings, keys, rules, logs and undo journals then live on a
separate LOGS disk: build it with

    unbrick image build --format logs --out logs.img --keys KEYS.csv

and attach it beside the CD (a second virtual disk, or a USB stick), or build
the ISO with --config-url to fetch them over the network. At boot unbrick
looks for the partition named LOGS on every disk; without one (and without
--config-url) it stops and says so. The CD itself is never changed.

Written whole to a USB stick (dd, Rufus in "DD Image" mode, or another
writer that copies the image byte for byte), it is an unbrick stick: its LOGS partition (drive
UNBRICK) holds the settings, keys and rules given when it was built, and
the logs and undo journals of each run. Rufus' "ISO Image" mode copies files
instead and makes a stick without a LOGS partition, which stops at boot.
`), []byte("\n"), []byte("\r\n"))
}
