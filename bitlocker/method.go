package bitlocker

import "fmt"

// Method is the FVE encryption method code stored in the FVE metadata header
// and in the FVEK entry (libbde "BitLocker Drive Encryption (BDE) format",
// section "Encryption methods").
type Method uint16

// Encryption methods of BitLocker volumes.
const (
	MethodAES128Diffuser Method = 0x8000 // AES-CBC 128-bit with Elephant diffuser (Vista, 7)
	MethodAES256Diffuser Method = 0x8001 // AES-CBC 256-bit with Elephant diffuser (Vista, 7)
	MethodAES128CBC      Method = 0x8002 // AES-CBC 128-bit, no diffuser
	MethodAES256CBC      Method = 0x8003 // AES-CBC 256-bit, no diffuser
	MethodXTS128         Method = 0x8004 // AES-XTS 128-bit (Windows 10 1511+)
	MethodXTS256         Method = 0x8005 // AES-XTS 256-bit (Windows 10 1511+)
)

// String returns a short name such as "AES-XTS-128" or "AES-CBC-128-DIFFUSER".
func (m Method) String() string {
	switch m {
	case MethodAES128Diffuser:
		return "AES-CBC-128-DIFFUSER"
	case MethodAES256Diffuser:
		return "AES-CBC-256-DIFFUSER"
	case MethodAES128CBC:
		return "AES-CBC-128"
	case MethodAES256CBC:
		return "AES-CBC-256"
	case MethodXTS128:
		return "AES-XTS-128"
	case MethodXTS256:
		return "AES-XTS-256"
	}
	return fmt.Sprintf("unknown-method-0x%04x", uint16(m))
}

// Known reports whether m is one of the sector encryption methods this
// package can decrypt and encrypt.
func (m Method) Known() bool {
	return m >= MethodAES128Diffuser && m <= MethodXTS256
}

// AESKeySize returns the AES key size in bytes (16 or 32) of the sector
// cipher, or 0 for an unknown method.
func (m Method) AESKeySize() int {
	switch m {
	case MethodAES128Diffuser, MethodAES128CBC, MethodXTS128:
		return 16
	case MethodAES256Diffuser, MethodAES256CBC, MethodXTS256:
		return 32
	}
	return 0
}

// HasDiffuser reports whether m uses the Elephant diffuser (and so a
// separate tweak key).
func (m Method) HasDiffuser() bool {
	return m == MethodAES128Diffuser || m == MethodAES256Diffuser
}

// IsXTS reports whether m is an AES-XTS method.
func (m Method) IsXTS() bool { return m == MethodXTS128 || m == MethodXTS256 }

// KeyMaterialSize returns the number of key bytes newSectorCodec expects for
// m, which is the length of the key as the FVEK entry stores it:
//
//	AES-CBC-128/256-DIFFUSER  64 bytes: FVEK (32; only the first 16 used for 128-bit)
//	                          followed by the tweak key (32; first 16 used for 128-bit)
//	AES-CBC-128               16 bytes
//	AES-CBC-256               32 bytes
//	AES-XTS-128               32 bytes: data key (16) then tweak key (16)
//	AES-XTS-256               64 bytes: data key (32) then tweak key (32)
//
// It returns 0 for an unknown method.
func (m Method) KeyMaterialSize() int {
	switch m {
	case MethodAES128Diffuser, MethodAES256Diffuser:
		return 64
	case MethodAES128CBC:
		return 16
	case MethodAES256CBC:
		return 32
	case MethodXTS128:
		return 32
	case MethodXTS256:
		return 64
	}
	return 0
}
