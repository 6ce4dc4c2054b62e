package bitlocker

import (
	"fmt"
)

// sectorCodec decrypts and encrypts whole sectors of a BitLocker volume.
// offset is the volume byte offset of src[0] and must be sector aligned;
// len(src) must be a multiple of the sector size and dst at least as long
// as src. dst and src may be the same slice (in place) but must not
// otherwise overlap. Calls against this contract panic (a programming
// error); the data itself can never make a codec fail. Codecs are safe for
// concurrent use.
type sectorCodec interface {
	decryptSectors(dst, src []byte, offset int64)
	encryptSectors(dst, src []byte, offset int64)
}

// Sector sizes the codecs support: the BitLocker sector size is the
// volume's bytes per sector (512 or 4096 in practice).
const (
	minSectorSize = 512
	maxSectorSize = 4096
)

// newSectorCodec returns the sector codec for method m. keyMaterial is the
// key as the FVEK entry stores it (see Method.KeyMaterialSize for the
// length each method takes; the --fvek flag takes the same bytes);
// sectorSize is 512, 1024, 2048 or 4096.
func newSectorCodec(m Method, keyMaterial []byte, sectorSize int) (sectorCodec, error) {
	if sectorSize < minSectorSize || sectorSize > maxSectorSize || sectorSize&(sectorSize-1) != 0 {
		return nil, fmt.Errorf("sector size %d is not supported (want 512, 1024, 2048 or 4096)", sectorSize)
	}
	if !m.Known() {
		return nil, fmt.Errorf("encryption method %s is not supported", m)
	}
	if err := checkKeyMaterial(m, keyMaterial); err != nil {
		return nil, err
	}
	ks := m.AESKeySize()
	switch {
	case m.IsXTS():
		return newXTS(keyMaterial, sectorSize)
	case m.HasDiffuser():
		return newCBC(keyMaterial[:ks], keyMaterial[32:32+ks], sectorSize)
	default:
		return newCBC(keyMaterial[:ks], nil, sectorSize)
	}
}

// checkKeyMaterial reports a clear error when keyMaterial has the wrong
// length for m.
func checkKeyMaterial(m Method, keyMaterial []byte) error {
	want := m.KeyMaterialSize()
	if len(keyMaterial) == want {
		return nil
	}
	what := ""
	switch {
	case m.IsXTS():
		what = fmt.Sprintf(": the data key and the tweak key, %d bytes each", want/2)
	case m.HasDiffuser():
		what = ": the FVEK (32 bytes) followed by the tweak key (32 bytes), as the FVEK entry stores them"
	}
	return fmt.Errorf("%s needs %d bytes of key material (%d hex digits)%s; got %d bytes",
		m, want, 2*want, what, len(keyMaterial))
}
