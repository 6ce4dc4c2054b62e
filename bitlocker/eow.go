package bitlocker

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// Encrypt-on-write ("used disk space only") conversion state. The volume
// header of such a volume carries the EOW GUID and two offsets of an EOW
// information block:
//
//	FVE-EOW information           FVE-EOWBM bitmap header (one per region)
//	 0  8 "FVE-EOW\0"              0 10 "FVE-EOWBM\0"
//	 8  2 header size (56)        10  2 header size (60)
//	10  2 size (56 + 8*regions)   12  4 size of header + records
//	12  4 sector size             16  4 region index
//	16  4 (unknown)               20  8 region offset   28 8 region size
//	20  4 chunk size              36  8 conversion log offset
//	24  4 conversion log size     44  8 two record offsets (u32 each)
//	28  4 (unknown)               52  4 record size     56 4 CRC-32
//	32  4 region count
//	36  4 CRC-32 (computed with this field zero)
//	40 16 two EOW information offsets
//	56 .. bitmap header offsets (u64 each)
//
//	FVE-EOWBR bitmap record (two per bitmap; the valid one with the highest
//	sequence number is current)
//	 0 10 "FVE-EOWBR\0"  10 2 header size (36)  12 4 size  16 4 bits used
//	20  8 sequence number  28 4 flags  32 4 CRC-32  36 .. bitmap
//
// Bit i of a region's bitmap covers chunk i (chunk size bytes from the
// region offset); a set bit means the chunk is encrypted, a clear bit that
// it is still plaintext. All CRC-32s are IEEE over the structure with its
// CRC field zeroed. Source: dissect.fve bde/c_bde.py and bde/eow.py (from
// fvevol.sys); checked on the corpus volume eow_partial (its plaintext
// chunks hold plaintext NTFS records).
type eowInfo struct {
	Offset      int64
	Size        int64
	SectorSize  int
	ChunkSize   int64
	ConvLogSize int64
	Bitmaps     []eowBitmap
}

type eowBitmap struct {
	Offset        int64 // of the bitmap header
	Size          int64
	RegionOffset  int64
	RegionSize    int64
	ConvLogOffset int64
	Bits          []byte // current record's bitmap
	NBits         int64
}

var (
	eowSignature   = []byte("FVE-EOW\x00")
	eowBMSignature = []byte("FVE-EOWBM\x00")
	eowBRSignature = []byte("FVE-EOWBR\x00")
)

// maxEOWStructure bounds what a damaged header can make us allocate.
const maxEOWStructure = 16 << 20

func crcZeroed(b []byte, crcOff int) uint32 {
	h := crc32.NewIEEE()
	h.Write(b[:crcOff])
	h.Write([]byte{0, 0, 0, 0})
	h.Write(b[crcOff+4:])
	return h.Sum32()
}

// readEOW reads the first valid EOW information block of the two.
func readEOW(r io.ReaderAt, imageSize int64, offsets [2]uint64) (*eowInfo, error) {
	var errs []error
	for i, o := range offsets {
		e, err := readEOWAt(r, imageSize, int64(o))
		if err == nil {
			return e, nil
		}
		errs = append(errs, fmt.Errorf("EOW information %d at 0x%x: %w", i+1, o, err))
	}
	return nil, &CorruptError{What: "encrypt-on-write information (both copies)", Err: errors.Join(errs...)}
}

func readAtFull(r io.ReaderAt, imageSize int64, b []byte, off int64) error {
	if off < 0 || off+int64(len(b)) > imageSize {
		return fmt.Errorf("%d bytes at 0x%x are beyond the end of the image (%d bytes)", len(b), off, imageSize)
	}
	n, err := r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	return err
}

func readEOWAt(r io.ReaderAt, imageSize, off int64) (*eowInfo, error) {
	le := binary.LittleEndian
	var hb [56]byte
	if err := readAtFull(r, imageSize, hb[:], off); err != nil {
		return nil, err
	}
	if !bytes.Equal(hb[:8], eowSignature) {
		return nil, errors.New("no FVE-EOW signature")
	}
	hsize, size := int(le.Uint16(hb[8:])), int(le.Uint16(hb[10:]))
	if hsize != 56 || size < hsize || (size-hsize)%8 != 0 {
		return nil, fmt.Errorf("header size %d / size %d are implausible", hsize, size)
	}
	b := make([]byte, size)
	if err := readAtFull(r, imageSize, b, off); err != nil {
		return nil, err
	}
	if got, want := crcZeroed(b, 36), le.Uint32(b[36:]); got != want {
		return nil, fmt.Errorf("CRC-32 mismatch (stored %08x, computed %08x)", want, got)
	}
	e := &eowInfo{
		Offset:      off,
		Size:        int64(size),
		SectorSize:  int(le.Uint32(b[12:])),
		ChunkSize:   int64(le.Uint32(b[20:])),
		ConvLogSize: int64(le.Uint32(b[24:])),
	}
	if e.ChunkSize <= 0 || e.ChunkSize%512 != 0 {
		return nil, fmt.Errorf("chunk size %d is not a positive multiple of 512", e.ChunkSize)
	}
	for k := hsize; k+8 <= size; k += 8 {
		bo := int64(le.Uint64(b[k:]))
		bm, err := readEOWBitmap(r, imageSize, bo)
		if err != nil {
			return nil, fmt.Errorf("bitmap %d at 0x%x: %w", (k-hsize)/8, bo, err)
		}
		e.Bitmaps = append(e.Bitmaps, *bm)
	}
	if len(e.Bitmaps) == 0 {
		return nil, errors.New("no region bitmaps")
	}
	return e, nil
}

func readEOWBitmap(r io.ReaderAt, imageSize, off int64) (*eowBitmap, error) {
	le := binary.LittleEndian
	var hb [60]byte
	if err := readAtFull(r, imageSize, hb[:], off); err != nil {
		return nil, err
	}
	if !bytes.Equal(hb[:10], eowBMSignature) {
		return nil, errors.New("no FVE-EOWBM signature")
	}
	hsize := int64(le.Uint16(hb[10:]))
	size := int64(le.Uint32(hb[12:]))
	rec := [2]int64{int64(le.Uint32(hb[44:])), int64(le.Uint32(hb[48:]))}
	if hsize < 60 || size < hsize || size > maxEOWStructure || rec[0] < hsize || rec[0] > size {
		return nil, fmt.Errorf("header size %d / size %d / record offset %d are implausible", hsize, size, rec[0])
	}
	b := make([]byte, size)
	if err := readAtFull(r, imageSize, b, off); err != nil {
		return nil, err
	}
	if got, want := crcZeroed(b[:rec[0]], 56), le.Uint32(b[56:]); got != want {
		return nil, fmt.Errorf("CRC-32 mismatch (stored %08x, computed %08x)", want, got)
	}
	bm := &eowBitmap{
		Offset:        off,
		Size:          size,
		RegionOffset:  int64(le.Uint64(b[20:])),
		RegionSize:    int64(le.Uint64(b[28:])),
		ConvLogOffset: int64(le.Uint64(b[36:])),
	}
	if bm.RegionOffset < 0 || bm.RegionSize < 0 || bm.RegionOffset > 1<<56 || bm.RegionSize > 1<<56 {
		return nil, fmt.Errorf("region 0x%x+0x%x is implausible", bm.RegionOffset, bm.RegionSize)
	}
	var best int64 = -1
	var bestSeq uint64
	var recErrs []error
	for _, ro := range rec {
		if ro < hsize || ro+36 > size {
			recErrs = append(recErrs, fmt.Errorf("record offset %d outside the bitmap", ro))
			continue
		}
		rb := b[ro:]
		if !bytes.Equal(rb[:10], eowBRSignature) {
			recErrs = append(recErrs, fmt.Errorf("record at +%d: no FVE-EOWBR signature", ro))
			continue
		}
		rh, rs := int64(le.Uint16(rb[10:])), int64(le.Uint32(rb[12:]))
		if rh < 36 || rs < rh || ro+rs > size {
			recErrs = append(recErrs, fmt.Errorf("record at +%d: sizes %d/%d implausible", ro, rh, rs))
			continue
		}
		if got, want := crcZeroed(rb[:rs], 32), le.Uint32(rb[32:]); got != want {
			recErrs = append(recErrs, fmt.Errorf("record at +%d: CRC-32 mismatch", ro))
			continue
		}
		nbits := int64(le.Uint32(rb[16:]))
		if (nbits+7)/8 > rs-rh {
			recErrs = append(recErrs, fmt.Errorf("record at +%d: %d bits do not fit", ro, nbits))
			continue
		}
		if seq := le.Uint64(rb[20:]); best < 0 || seq > bestSeq {
			best, bestSeq = ro, seq
			bm.Bits = rb[rh:rs]
			bm.NBits = nbits
		}
	}
	if best < 0 {
		return nil, errors.Join(recErrs...)
	}
	return bm, nil
}

// encryptedAt reports whether the chunk holding volume offset off is
// encrypted, and how many bytes from off on share that state (up to the end
// of the run of equal bits or of the region). covered is false when no
// region holds off.
func (e *eowInfo) encryptedAt(off int64) (enc bool, run int64, covered bool) {
	for i := range e.Bitmaps {
		bm := &e.Bitmaps[i]
		if off < bm.RegionOffset || off >= bm.RegionOffset+bm.RegionSize {
			continue
		}
		rel := off - bm.RegionOffset
		chunk := rel / e.ChunkSize
		bit := func(c int64) bool {
			if c >= bm.NBits {
				return false
			}
			return bm.Bits[c/8]&(1<<(c%8)) != 0
		}
		enc = bit(chunk)
		end := chunk + 1
		nChunks := (bm.RegionSize + e.ChunkSize - 1) / e.ChunkSize
		for end < nChunks && bit(end) == enc {
			end++
		}
		stop := min(bm.RegionOffset+end*e.ChunkSize, bm.RegionOffset+bm.RegionSize)
		return enc, stop - off, true
	}
	return false, 0, false
}
