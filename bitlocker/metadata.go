package bitlocker

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// FVE metadata block ("information"), one of three identical copies:
//
//	block header (64 bytes)
//	 0  8  "-FVE-FS-"
//	 8  2  header size: v2 in 16-byte units, v1 in bytes; covers block
//	       header + dataset, i.e. the bytes the CRC-32 protects
//	10  2  version: 1 (Vista) or 2 (Windows 7 and later)
//	12  2  current state  (1 decrypted, 2 switching, 3 paused, 4 encrypted, 5 switching)
//	14  2  next state     (1 decrypted, 4 encrypted)
//	16  8  encrypted volume size ("state offset"): bytes below it are encrypted
//	24  4  convert size ("state size"): conversion log / in-flight region
//	28  4  number of virtualized (relocated) boot sectors
//	32 24  offsets of metadata blocks 1, 2, 3
//	56  8  v2: offset of the relocated boot sectors; v1: NTFS MFT mirror cluster
//	dataset (metadata header, 48 bytes, then entries)
//	 0  4  dataset size      4  4  version (1)
//	 8  4  start of entries 12  4  end of entries (both relative to the dataset)
//	16 16  volume GUID      32  4  next nonce counter
//	36  2  encryption method 38 2 (unknown, 0)
//	40  8  creation time (FILETIME)
//	validation, right after the header-size bytes
//	 0  2  size   2  2  version   4  4  CRC-32 (IEEE) of the header-size bytes
//	 8 ..  an AES-CCM entry (VMK-wrapped) holding SHA-256 of the same bytes
//
// Sources: libbde documentation ("FVE metadata block header", "FVE metadata
// header"); dissect.fve bde/c_bde.py (FVE_INFORMATION, FVE_DATASET,
// FVE_VALIDATION) and bde/information.py (CRC-32 and SHA-256 checks);
// dislocker include/dislocker/metadata/metadata.priv.h. The CRC-32 layout
// was confirmed on every corpus volume (v1 and v2).
const (
	blockHeaderSize   = 64
	datasetHeaderSize = 48
	validationSize    = 8
	// v2 metadata blocks are 64 KiB (rounded up to whole sectors); v1 blocks
	// are 16 KiB rounded up to whole clusters (dislocker metadata.c, dissect
	// reserved_regions).
	metadataBlockSizeV2 = 0x10000
	metadataBlockSizeV1 = 0x4000
)

// FVE states (dissect.fve FVE_STATE; dislocker names 3 "EOW activated" and 5
// "switch paused", but the corpus and dissect's Vista/7 volumes show 3 with a
// paused conversion).
const (
	stateDecrypted      = 1
	stateSwitchingDirty = 2
	statePaused         = 3
	stateEncrypted      = 4
	stateSwitching      = 5
)

type blockHeader struct {
	HeaderSize         uint16
	Version            uint16
	CurrentState       uint16
	NextState          uint16
	EncryptedSize      uint64
	ConvertSize        uint32
	VirtualizedSectors uint32
	MetadataOffsets    [3]uint64
	VirtualizedOffset  uint64 // v2; for v1 this field is the MFT mirror cluster
}

type datasetHeader struct {
	Size        uint32
	Version     uint32
	StartOffset uint32
	EndOffset   uint32
	VolumeGUID  GUID
	NextNonce   uint32
	Method      uint16
	MethodHigh  uint16
	Created     uint64
}

// metadataBlock is one decoded, checksum-verified copy of the metadata.
type metadataBlock struct {
	Index      int   // 0, 1, 2
	Offset     int64 // volume offset the copy was read from
	Block      blockHeader
	Dataset    datasetHeader
	Entries    []entry
	protected  []byte  // the CRC-protected bytes (block header + dataset)
	validation []entry // entries after the validation header (SHA-256 datum)
}

// parseMetadataBlock decodes a metadata block held in b.
func parseMetadataBlock(b []byte) (*metadataBlock, error) {
	le := binary.LittleEndian
	if len(b) < blockHeaderSize+datasetHeaderSize+validationSize {
		return nil, fmt.Errorf("%d bytes, too short for a metadata block", len(b))
	}
	if !bytes.Equal(b[:8], fveSignature) {
		return nil, errors.New("no -FVE-FS- signature")
	}
	m := &metadataBlock{}
	h := &m.Block
	h.HeaderSize = le.Uint16(b[8:])
	h.Version = le.Uint16(b[10:])
	h.CurrentState = le.Uint16(b[12:])
	h.NextState = le.Uint16(b[14:])
	h.EncryptedSize = le.Uint64(b[16:])
	h.ConvertSize = le.Uint32(b[24:])
	h.VirtualizedSectors = le.Uint32(b[28:])
	for k := range 3 {
		h.MetadataOffsets[k] = le.Uint64(b[32+8*k:])
	}
	h.VirtualizedOffset = le.Uint64(b[56:])

	var size int
	switch h.Version {
	case 1:
		size = int(h.HeaderSize)
	case 2:
		size = int(h.HeaderSize) << 4
	default:
		return nil, fmt.Errorf("metadata version %d: %w (known: 1 Vista, 2 Windows 7 and later)", h.Version, ErrUnsupported)
	}
	if size < blockHeaderSize+datasetHeaderSize || size+validationSize > len(b) {
		return nil, fmt.Errorf("header size %d bytes does not fit the %d-byte block", size, len(b))
	}
	vsize := int(le.Uint16(b[size:]))
	crc := le.Uint32(b[size+4:])
	if got := crc32.ChecksumIEEE(b[:size]); got != crc {
		return nil, fmt.Errorf("CRC-32 mismatch (stored %08x, computed %08x)", crc, got)
	}
	m.protected = b[:size]
	if end := size + vsize; vsize > validationSize && end <= len(b) {
		// The integrity datum; damage here is not fatal (the CRC held).
		m.validation, _ = parseEntries(b[size+validationSize:end], 0)
	}

	d := b[blockHeaderSize:size]
	ds := &m.Dataset
	ds.Size = le.Uint32(d)
	ds.Version = le.Uint32(d[4:])
	ds.StartOffset = le.Uint32(d[8:])
	ds.EndOffset = le.Uint32(d[12:])
	ds.VolumeGUID = guidAt(d[16:])
	ds.NextNonce = le.Uint32(d[32:])
	ds.Method = le.Uint16(d[36:])
	ds.MethodHigh = le.Uint16(d[38:])
	ds.Created = le.Uint64(d[40:])
	if ds.Size < datasetHeaderSize || int64(ds.Size) > int64(len(d)) {
		return nil, fmt.Errorf("dataset size %d does not fit the %d bytes the header size covers", ds.Size, len(d))
	}
	if ds.StartOffset < datasetHeaderSize || ds.EndOffset < ds.StartOffset || ds.EndOffset > ds.Size {
		return nil, fmt.Errorf("dataset entry range %d..%d is outside its %d bytes", ds.StartOffset, ds.EndOffset, ds.Size)
	}
	es, err := parseEntries(d[ds.StartOffset:ds.EndOffset], 0)
	if err != nil {
		return nil, err
	}
	m.Entries = es
	return m, nil
}

// metadataBlockSize returns the size of the region each metadata copy
// reserves: 64 KiB rounded up to a whole sector for v2, 16 KiB rounded up to
// a whole cluster for v1.
func metadataBlockSize(h *volumeHeader, version int) int64 {
	if version == 1 {
		c := int64(h.ClusterSize())
		return (metadataBlockSizeV1 + c - 1) / c * c
	}
	s := int64(h.BytesPerSector)
	return (metadataBlockSizeV2 + s - 1) / s * s
}

// metadataCopyStatus records what happened to each copy.
type metadataCopyStatus struct {
	Offset int64
	Err    error // nil = valid
}

// readMetadata reads the three metadata copies and returns the first valid
// one (block 1, else 2, else 3) together with the status of each copy.
// imageSize is the number of bytes r can deliver.
func readMetadata(r io.ReaderAt, imageSize int64, h *volumeHeader) (*metadataBlock, []metadataCopyStatus, error) {
	var offsets []int64
	if h.Version == 2 {
		for _, o := range h.MetadataOffsets {
			offsets = append(offsets, int64(o))
		}
	} else {
		offsets = append(offsets, int64(h.MetadataCluster)*int64(h.ClusterSize()))
	}
	status := make([]metadataCopyStatus, 0, 3)
	var chosen *metadataBlock
	blockSize := metadataBlockSize(h, h.Version)
	buf := make([]byte, blockSize)
	for i := 0; i < len(offsets) && i < 3; i++ {
		off := offsets[i]
		st := metadataCopyStatus{Offset: off}
		m, err := readMetadataBlock(r, imageSize, off, buf)
		if err == nil && int(m.Block.Version) != h.Version {
			err = fmt.Errorf("metadata version %d does not match the volume header (version %d)", m.Block.Version, h.Version)
		}
		if h.Version == 1 && i == 0 {
			// Vista: block 1 names the other two copies. Learn them even
			// from a damaged block 1 if its offsets look sane.
			var first [3]uint64
			if m != nil {
				first = m.Block.MetadataOffsets
			} else if raw := peekOffsets(r, off); raw != nil {
				first = *raw
			}
			for k := 1; k < 3; k++ {
				if first[k] != 0 && int64(first[k]) != off {
					offsets = append(offsets, int64(first[k]))
				}
			}
		}
		if err != nil {
			st.Err = fmt.Errorf("FVE metadata block %d at 0x%x: %w", i+1, off, err)
		} else {
			m.Index = i
			m.Offset = off
			if chosen == nil {
				chosen = m
				buf = make([]byte, blockSize) // chosen keeps referencing its buffer
			}
		}
		status = append(status, st)
	}
	if chosen == nil {
		errs := make([]error, 0, len(status))
		for _, s := range status {
			errs = append(errs, s.Err)
		}
		return nil, status, &CorruptError{What: "FVE metadata (all copies)", Err: errors.Join(errs...)}
	}
	return chosen, status, nil
}

func readMetadataBlock(r io.ReaderAt, imageSize, off int64, buf []byte) (*metadataBlock, error) {
	if off <= 0 || off%512 != 0 {
		return nil, fmt.Errorf("offset is not a positive multiple of 512")
	}
	if off >= imageSize {
		return nil, fmt.Errorf("beyond the end of the image (%d bytes)", imageSize)
	}
	n, err := r.ReadAt(buf, off)
	if n < len(buf) {
		if err == nil || errors.Is(err, io.EOF) {
			// Short image: parse what is there (the header-size bytes may
			// all be present); a truncated block fails the checks below.
			clear(buf[n:])
		} else {
			return nil, fmt.Errorf("read: %w", err)
		}
	}
	m, perr := parseMetadataBlock(buf[:n])
	if perr != nil && n < len(buf) {
		return nil, fmt.Errorf("%w (the image ends %d bytes into this block)", perr, n)
	}
	return m, perr
}

func peekOffsets(r io.ReaderAt, off int64) *[3]uint64 {
	var b [64]byte
	if n, _ := r.ReadAt(b[:], off); n < 64 || !bytes.Equal(b[:8], fveSignature) {
		return nil
	}
	var o [3]uint64
	for k := range 3 {
		o[k] = binary.LittleEndian.Uint64(b[32+8*k:])
	}
	return &o
}
