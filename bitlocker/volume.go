package bitlocker

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
)

// Volume is an open BitLocker volume. Once unlocked (or when BitLocker is
// off) it reads, and if opened on an io.WriterAt writes, the plaintext
// volume exactly as Windows presents it. It is safe for concurrent reads;
// writes must not overlap concurrent reads or writes of the same sectors.
type Volume struct {
	r         io.ReaderAt
	w         io.WriterAt
	imageSize int64 // bytes r can deliver
	size      int64 // size of the volume the metadata describes

	hdr        *volumeHeader
	md         *metadataBlock
	copies     []metadataCopyStatus
	eow        *eowInfo
	protectors []Protector
	sectorSize int
	lay        *layout

	unlocked    bool
	codec       sectorCodec
	method      Method
	fvek, vmk   []byte
	unlockedBy  string
	unlockedHow string
	integrity   string
}

// maxVolumeSize bounds sizes read from metadata (1 PiB).
const maxVolumeSize = 1 << 50

// Open detects a BitLocker volume in r (size bytes long: the partition or
// image size) and reads its FVE metadata. It returns ErrNotBitLocker or
// ErrBitLockerToGo for volumes it does not handle, and an error matching
// ErrCorrupt when no metadata copy is valid. If r also implements
// io.WriterAt, an unlocked Volume is writable.
//
// When the metadata describes a volume longer than size (an image cut
// short), Size reports the described size, reads beyond the image return
// zeros, and writes there are refused (Short reports it).
func Open(r io.ReaderAt, size int64) (*Volume, error) {
	if size < 512 {
		return nil, fmt.Errorf("volume is %d bytes, too small to hold a boot sector: %w", size, ErrNotBitLocker)
	}
	sec := make([]byte, 512)
	if n, err := r.ReadAt(sec, 0); n < 512 {
		return nil, fmt.Errorf("read volume header: %w", errOr(err, io.ErrUnexpectedEOF))
	}
	hdr, err := parseVolumeHeader(sec)
	if err != nil {
		return nil, err
	}
	v := &Volume{r: r, imageSize: size, hdr: hdr, sectorSize: hdr.BytesPerSector, integrity: integrityUnchecked}
	if w, ok := r.(io.WriterAt); ok {
		v.w = w
	}
	v.md, v.copies, err = readMetadata(r, size, hdr)
	if err != nil {
		return nil, err
	}
	if hdr.EOW {
		v.eow, err = readEOW(r, size, hdr.EOWOffsets)
		if err != nil {
			return nil, err
		}
	}
	v.protectors = protectorsOf(v.md.Entries)
	if err := v.buildLayout(); err != nil {
		return nil, err
	}
	if v.md.Block.CurrentState == stateDecrypted {
		// BitLocker is off (or encryption has not started): nothing is
		// encrypted, no key is needed.
		v.unlocked = true
		v.unlockedHow = "none needed (BitLocker is off)"
	}
	return v, nil
}

func errOr(err, def error) error {
	if err == nil {
		return def
	}
	return err
}

func (v *Volume) buildLayout() error {
	b := &v.md.Block
	ss := int64(v.sectorSize)
	l := &layout{ss: ss, version: int(b.Version)}
	blk := metadataBlockSize(v.hdr, int(b.Version))
	what := fmt.Sprintf("FVE metadata block %d", v.md.Index+1)
	var res []span
	for _, o := range b.MetadataOffsets {
		if o == 0 {
			continue
		}
		if o > maxVolumeSize || int64(o)%ss != 0 {
			return corruptf(what, "metadata offset 0x%x is implausible", o)
		}
		res = append(res, span{int64(o), int64(o) + blk})
	}
	if b.EncryptedSize > maxVolumeSize {
		return corruptf(what, "encrypted volume size %d is implausible", b.EncryptedSize)
	}
	size := v.imageSize
	grow := func(x int64) { size = max(size, x) }
	switch b.Version {
	case 1:
		l.vistaPlainEnd = 8192
		l.vistaMFTMirror = b.VirtualizedOffset
		l.vistaMetaClustr = v.hdr.MetadataCluster
		if v.hdr.TotalSectors64 > 0 && v.hdr.TotalSectors64 < maxVolumeSize/uint64(ss) {
			// NTFS counts all sectors but the backup boot sector at the end.
			grow(int64(v.hdr.TotalSectors64+1) * ss)
		}
	case 2:
		n := int64(b.VirtualizedSectors)
		if n > 1<<16 || b.VirtualizedOffset > maxVolumeSize || int64(b.VirtualizedOffset)%ss != 0 {
			return corruptf(what, "relocated boot sectors %d at 0x%x are implausible", n, b.VirtualizedOffset)
		}
		l.virtEnd = n * ss
		l.virtOffset = int64(b.VirtualizedOffset)
		home := l.virtEnd
		if vi := findEntries(v.md.Entries, entryVolumeHeader, valueOffsetSize); len(vi) > 0 {
			os := vi[0].value.(*offsetSizeValue)
			if int64(os.Offset) == l.virtOffset && os.Size < 1<<30 {
				home = max(home, roundUp(int64(os.Size), ss))
			}
		}
		if home == 0 {
			home = ss
		}
		if l.virtOffset > 0 {
			res = append(res, span{l.virtOffset, l.virtOffset + home})
		}
	}
	if v.eow != nil {
		e := v.eow
		for _, o := range v.hdr.EOWOffsets {
			if o != 0 && o < maxVolumeSize {
				res = append(res, span{int64(o), int64(o) + roundUp(e.Size, ss)})
			}
		}
		for _, bm := range e.Bitmaps {
			res = append(res, span{bm.Offset, bm.Offset + roundUp(bm.Size, ss)})
			if bm.ConvLogOffset > 0 && bm.ConvLogOffset < maxVolumeSize {
				res = append(res, span{bm.ConvLogOffset, bm.ConvLogOffset + roundUp(e.ConvLogSize, ss)})
			}
			grow(bm.RegionOffset + bm.RegionSize)
		}
		l.eow = e
	}
	if b.CurrentState == stateSwitchingDirty && b.ConvertSize > 0 {
		res = append(res, span{int64(b.EncryptedSize), int64(b.EncryptedSize) + int64(b.ConvertSize)})
	}
	switch {
	case b.CurrentState == stateDecrypted:
		// Nothing is encrypted in the decrypted state, whatever comes next
		// (dissect.fve BitlockerStream: encrypted = state is not decrypted).
		l.allPlain = true
	case v.eow == nil:
		l.encryptedEnd = int64(b.EncryptedSize)
		if b.Version == 2 {
			grow(int64(b.EncryptedSize))
		}
	}
	for _, r := range res {
		grow(r.end)
	}
	l.reserved = mergeSpans(res)
	if l.virtEnd > 0 && l.virtOffset < l.virtEnd {
		return corruptf(what, "relocated boot sectors at 0x%x overlap the first %d bytes", l.virtOffset, l.virtEnd)
	}
	v.lay = l
	v.size = size / ss * ss
	return nil
}

// Size returns the size of the plaintext volume in bytes.
func (v *Volume) Size() int64 { return v.size }

// Short reports whether the image ends before the volume the metadata
// describes: reads past the end return zeros, writes there are refused.
func (v *Volume) Short() bool { return v.imageSize < v.size }

// ImageSize returns the number of bytes the underlying reader holds (the
// size passed to Open).
func (v *Volume) ImageSize() int64 { return v.imageSize }

// SectorSize returns the volume's bytes per sector.
func (v *Volume) SectorSize() int { return v.sectorSize }

// Locked reports whether the volume still needs a key.
func (v *Volume) Locked() bool { return !v.unlocked }

// Protectors lists the key protectors, in metadata order.
func (v *Volume) Protectors() []Protector {
	out := make([]Protector, len(v.protectors))
	copy(out, v.protectors)
	return out
}

// parallelMin is the smallest encrypted run split across goroutines.
const parallelMin = 256 << 10

// ReadAt reads plaintext. Regions BitLocker reserves read as zeros, and so
// does anything past the end of a short image. It returns io.EOF at the end
// of the volume and an error matching ErrLocked while the volume is locked.
func (v *Volume) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("bitlocker: negative offset")
	}
	if !v.unlocked {
		return 0, ErrLocked
	}
	if off >= v.size {
		return 0, io.EOF
	}
	var eof error
	if int64(len(p)) > v.size-off {
		p = p[:v.size-off]
		eof = io.EOF
	}
	ss := int64(v.sectorSize)
	if off%ss == 0 && int64(len(p))%ss == 0 {
		if err := v.readAligned(p, off); err != nil {
			return 0, err
		}
		return len(p), eof
	}
	start := off / ss * ss
	end := roundUp(off+int64(len(p)), ss)
	buf := make([]byte, end-start)
	if err := v.readAligned(buf, start); err != nil {
		return 0, err
	}
	copy(p, buf[off-start:])
	return len(p), eof
}

// readAligned fills dst (whole sectors) from view offset off.
func (v *Volume) readAligned(dst []byte, off int64) error {
	for len(dst) > 0 {
		kind, phys, n := v.lay.segment(off, int64(len(dst)))
		seg := dst[:n]
		switch kind {
		case segZero:
			clear(seg)
		case segPlain, segVistaBoot:
			if _, err := v.readRaw(seg, phys); err != nil {
				return err
			}
			if kind == segVistaBoot {
				copy(seg[3:11], ntfsSignature)
				putUint64(seg[56:], v.lay.vistaMFTMirror)
			}
		case segEncrypted:
			if v.codec == nil {
				return ErrLocked
			}
			got, err := v.readRaw(seg, phys)
			if err != nil {
				return err
			}
			v.crypt(seg[:got], phys, false)
		}
		dst = dst[n:]
		off += n
	}
	return nil
}

// readRaw reads len(b) bytes of the disk at phys. Bytes past the end of the
// image read as zeros; it returns how many whole sectors were on the image.
func (v *Volume) readRaw(b []byte, phys int64) (int, error) {
	avail := int64(len(b))
	if phys+avail > v.imageSize {
		avail = max(0, v.imageSize-phys)
		clear(b[avail:])
	}
	if avail > 0 {
		n, err := v.r.ReadAt(b[:avail], phys)
		if int64(n) < avail {
			if err == nil || errors.Is(err, io.EOF) {
				clear(b[n:avail])
				avail = int64(n)
			} else {
				return 0, fmt.Errorf("read 0x%x bytes at 0x%x: %w", avail, phys, err)
			}
		}
	}
	ss := int64(v.sectorSize)
	whole := avail / ss * ss
	clear(b[whole:avail]) // a partial last sector cannot be decrypted
	return int(whole), nil
}

// crypt decrypts (or encrypts) b in place; phys is its disk offset. Large
// runs are split across CPUs.
func (v *Volume) crypt(b []byte, phys int64, encrypt bool) {
	op := v.codec.decryptSectors
	if encrypt {
		op = v.codec.encryptSectors
	}
	workers := runtime.GOMAXPROCS(0)
	if len(b) < parallelMin || workers < 2 {
		op(b, b, phys)
		return
	}
	ss := v.sectorSize
	per := (len(b)/workers + ss - 1) / ss * ss
	var wg sync.WaitGroup
	for start := 0; start < len(b); start += per {
		end := min(start+per, len(b))
		wg.Add(1)
		go func(s, e int) {
			defer wg.Done()
			op(b[s:e], b[s:e], phys+int64(s))
		}(start, end)
	}
	wg.Wait()
}

func putUint64(b []byte, x uint64) {
	for i := range 8 {
		b[i] = byte(x >> (8 * i))
	}
}

// WriteAt writes plaintext: it encrypts where the volume is encrypted,
// relocates the boot sectors as Windows does, and refuses (writing
// nothing) when the range touches a reserved region (ErrMetadataWrite),
// goes past the end of a short image (ErrShortImage) or of the volume, or
// the volume is locked or read-only.
func (v *Volume) WriteAt(p []byte, off int64) (int, error) {
	if !v.unlocked {
		return 0, ErrLocked
	}
	if v.w == nil {
		return 0, ErrReadOnly
	}
	if off < 0 || off+int64(len(p)) > v.size {
		return 0, fmt.Errorf("bitlocker: write of %d bytes at 0x%x is outside the %d-byte volume", len(p), off, v.size)
	}
	if len(p) == 0 {
		return 0, nil
	}
	ss := int64(v.sectorSize)
	start := off / ss * ss
	end := roundUp(off+int64(len(p)), ss)
	if r, bad := v.lay.reservedOverlap(max(start, v.lay.virtEnd), end); bad && end > v.lay.virtEnd {
		return 0, fmt.Errorf("%w (0x%x..0x%x)", ErrMetadataWrite, r.off, r.end)
	}
	// Plan: every disk range must be on the image.
	type piece struct {
		kind      segKind
		phys, off int64
		n         int64
	}
	var plan []piece
	for o := start; o < end; {
		kind, phys, n := v.lay.segment(o, end-o)
		if kind == segZero {
			return 0, fmt.Errorf("%w (at 0x%x)", ErrMetadataWrite, o)
		}
		if phys+n > v.imageSize {
			return 0, fmt.Errorf("%w (disk bytes 0x%x..0x%x, image is %d bytes)", ErrShortImage, phys, phys+n, v.imageSize)
		}
		plan = append(plan, piece{kind, phys, o, n})
		o += n
	}
	buf := make([]byte, end-start)
	if start != off || end != off+int64(len(p)) {
		if err := v.readAligned(buf, start); err != nil {
			return 0, err
		}
	}
	copy(buf[off-start:], p)
	for _, pc := range plan {
		seg := buf[pc.off-start : pc.off-start+pc.n]
		switch pc.kind {
		case segEncrypted:
			if v.codec == nil {
				return 0, ErrLocked
			}
			v.crypt(seg, pc.phys, true)
		case segVistaBoot:
			copy(seg[3:11], fveSignature)
			putUint64(seg[56:], v.lay.vistaMetaClustr)
		}
		if _, err := v.w.WriteAt(seg, pc.phys); err != nil {
			return 0, fmt.Errorf("write 0x%x bytes at 0x%x: %w", len(seg), pc.phys, err)
		}
	}
	return len(p), nil
}
