// Command ovmfvars edits an OVMF variable store file (OVMF_VARS*.fd)
// offline, and prepares the other inputs of the Secure Boot matrix test
// (scripts/ci-secureboot.sh): the Microsoft CA certificate a shim's
// signature chains to, shim's SbatLevel payloads, and a shim with only
// some of its signatures.
//
//	ovmfvars list [-all] STORE
//	ovmfvars set -name NAME -guid GUID (-data FILE | -x509 CERT.der [-owner GUID]) [-attrs N] IN OUT
//	ovmfvars get -name NAME -guid GUID STORE OUT
//	ovmfvars shim-ca -ca 2011|2023 SHIM OUT.der
//	ovmfvars shim-sbatlevel -which latest|automatic SHIM OUT
//	ovmfvars strip-shim -keep 2011|2023 IN OUT
//
// # The variable store file
//
// The file is one firmware volume, laid out as EDK2 defines it
// (MdePkg Include/Pi/PiFirmwareVolume.h, PI specification volume 3,
// "Firmware Volume Header"), all integers little-endian:
//
//	EFI_FIRMWARE_VOLUME_HEADER   ZeroVector[16], FileSystemGuid, FvLength u64,
//	                             Signature "_FVH" (offset 40), Attributes u32,
//	                             HeaderLength u16, Checksum u16, ExtHeaderOffset u16,
//	                             Reserved u8, Revision u8, block map
//	VARIABLE_STORE_HEADER        at HeaderLength: Signature (GUID, the
//	                             authenticated store aaf32c78-947b-439a-a180-2e144ec37792),
//	                             Size u32 (header included), Format u8 (0x5A
//	                             formatted), State u8 (0xFE healthy), Reserved u16, u32
//	variables                    from the end of that 28-byte header, each header
//	                             4-byte aligned (HEADER_ALIGNMENT), until a header
//	                             whose StartId is not 0x55AA (erased flash: 0xFF)
//
// Each variable is an AUTHENTICATED_VARIABLE_HEADER (EDK2 MdeModulePkg
// Include/Guid/VariableFormat.h, packed, 60 bytes): StartId u16 0x55AA,
// State u8, Reserved u8, Attributes u32, MonotonicCount u64, TimeStamp
// EFI_TIME (16 bytes), PubKeyIndex u32, NameSize u32, DataSize u32,
// VendorGuid; then the UTF-16LE name with its NUL (NameSize bytes) and the
// data (DataSize bytes). On x86 VariableFormat.h's ALIGNMENT is 1, so the
// data follows the name without padding; the next header starts at the
// next 4-byte boundary.
//
// State starts as 0xFF (erased) and bits are only ever cleared, as on
// flash: VAR_HEADER_VALID_ONLY 0x7F, VAR_ADDED 0x3F, VAR_IN_DELETED_TRANSITION
// 0xFE, VAR_DELETED 0xFD (each ANDed in). A variable is live when its State
// is VAR_ADDED (0x3F), or VAR_ADDED & VAR_IN_DELETED_TRANSITION (0x3E) when
// no VAR_ADDED copy of it exists (an interrupted update); any State with
// the VAR_DELETED bit cleared is deleted. Replacing a variable is what
// the firmware does too: clear VAR_DELETED in the old copy's State and
// append the new copy in the free (0xFF) space after the last variable.
// The firmware volume's checksum covers only its header, which is not
// changed.
//
// Attributes are the UEFI specification's (section "Variable Services",
// GetVariable): NON_VOLATILE 1, BOOTSERVICE_ACCESS 2, RUNTIME_ACCESS 4,
// TIME_BASED_AUTHENTICATED_WRITE_ACCESS 0x20.
//
// # Signature lists
//
// -x509 writes the data as one EFI_SIGNATURE_LIST (UEFI specification,
// "Signature Database"): SignatureType EFI_CERT_X509_GUID
// (a5c059a1-94e4-4aa7-87b5-ab155c2bf072), SignatureListSize,
// SignatureHeaderSize 0, SignatureSize = 16 + len(DER), then one
// EFI_SIGNATURE_DATA: the owner GUID and the DER certificate.
//
// GUIDs are written in the UEFI byte order: the first three fields
// little-endian, the last eight bytes as written.
//
// Writing a variable this way bypasses the firmware's authentication of
// db updates: it is for test firmware images, never for a real machine.
package main
