package main

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
)

// GUID is an EFI_GUID held as its 16 bytes in UEFI (mixed-endian) order.
type GUID [16]byte

// Well-known GUIDs used by the Secure Boot matrix.
var (
	// ImageSecurityDatabaseGUID is EFI_IMAGE_SECURITY_DATABASE_GUID (db, dbx).
	ImageSecurityDatabaseGUID = MustGUID("d719b2cb-3d3a-4596-a3bc-dad00e67656f")
	// CertX509GUID is EFI_CERT_X509_GUID, a signature list of DER certificates.
	CertX509GUID = MustGUID("a5c059a1-94e4-4aa7-87b5-ab155c2bf072")
	// MicrosoftOwnerGUID is the SignatureOwner Microsoft uses in db.
	MicrosoftOwnerGUID = MustGUID("77fa9abd-0359-4d32-bd60-28f4e78f784b")
	// ShimLockGUID is shim's vendor GUID (SbatLevel, MokList).
	ShimLockGUID = MustGUID("605dab50-e046-4300-abb6-3dd810dd8b23")
)

// ParseGUID parses the registry form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx.
func ParseGUID(s string) (GUID, error) {
	var g GUID
	parts := strings.Split(s, "-")
	if len(parts) != 5 || len(parts[0]) != 8 || len(parts[1]) != 4 || len(parts[2]) != 4 || len(parts[3]) != 4 || len(parts[4]) != 12 {
		return g, fmt.Errorf("GUID %q: not of the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", s)
	}
	raw, err := hex.DecodeString(strings.Join(parts, ""))
	if err != nil {
		return g, fmt.Errorf("GUID %q: %w", s, err)
	}
	binary.LittleEndian.PutUint32(g[0:], binary.BigEndian.Uint32(raw[0:]))
	binary.LittleEndian.PutUint16(g[4:], binary.BigEndian.Uint16(raw[4:]))
	binary.LittleEndian.PutUint16(g[6:], binary.BigEndian.Uint16(raw[6:]))
	copy(g[8:], raw[8:])
	return g, nil
}

// MustGUID is ParseGUID for constants; it panics on a malformed string.
func MustGUID(s string) GUID {
	g, err := ParseGUID(s)
	if err != nil {
		panic(err)
	}
	return g
}

// GUIDFromBytes takes 16 bytes in UEFI order.
func GUIDFromBytes(b []byte) GUID {
	var g GUID
	copy(g[:], b)
	return g
}

// Bytes returns the 16 bytes in UEFI order.
func (g GUID) Bytes() []byte { return g[:] }

func (g GUID) String() string {
	return fmt.Sprintf("%08x-%04x-%04x-%x-%x", binary.LittleEndian.Uint32(g[0:]), binary.LittleEndian.Uint16(g[4:]),
		binary.LittleEndian.Uint16(g[6:]), g[8:10], g[10:])
}

// X509SignatureList returns an EFI_SIGNATURE_LIST of type
// EFI_CERT_X509_GUID holding the DER certificate der, owned by owner.
func X509SignatureList(der []byte, owner GUID) ([]byte, error) {
	const hdr = 28
	if len(der) == 0 || len(der) > 64<<10 {
		return nil, fmt.Errorf("signature list: a certificate of %d bytes (want 1 to 65536)", len(der))
	}
	sigSize := 16 + len(der)
	out := make([]byte, hdr+sigSize)
	copy(out[0:16], CertX509GUID.Bytes())
	binary.LittleEndian.PutUint32(out[16:], uint32(len(out))) // SignatureListSize
	binary.LittleEndian.PutUint32(out[20:], 0)                // SignatureHeaderSize
	binary.LittleEndian.PutUint32(out[24:], uint32(sigSize))  // SignatureSize
	copy(out[hdr:hdr+16], owner.Bytes())
	copy(out[hdr+16:], der)
	return out, nil
}

// SignatureListEntry is one signature of a parsed EFI_SIGNATURE_LIST.
type SignatureListEntry struct {
	Type  GUID
	Owner GUID
	Data  []byte
}

// ParseSignatureLists parses a db-style sequence of EFI_SIGNATURE_LISTs.
func ParseSignatureLists(b []byte) ([]SignatureListEntry, error) {
	var out []SignatureListEntry
	for off := 0; off < len(b); {
		if len(b)-off < 28 {
			return nil, fmt.Errorf("EFI_SIGNATURE_LIST at offset %d: %d bytes left, shorter than its 28-byte header", off, len(b)-off)
		}
		typ := GUIDFromBytes(b[off : off+16])
		listSize := int(binary.LittleEndian.Uint32(b[off+16:]))
		hdrSize := int(binary.LittleEndian.Uint32(b[off+20:]))
		sigSize := int(binary.LittleEndian.Uint32(b[off+24:]))
		if listSize < 28 || listSize > len(b)-off || sigSize < 16 || hdrSize > listSize-28 || (listSize-28-hdrSize)%sigSize != 0 {
			return nil, fmt.Errorf("EFI_SIGNATURE_LIST at offset %d: SignatureListSize %d, SignatureHeaderSize %d, SignatureSize %d are inconsistent", off, listSize, hdrSize, sigSize)
		}
		for p := off + 28 + hdrSize; p < off+listSize; p += sigSize {
			out = append(out, SignatureListEntry{Type: typ, Owner: GUIDFromBytes(b[p : p+16]), Data: b[p+16 : p+sigSize]})
		}
		off += listSize
	}
	return out, nil
}
