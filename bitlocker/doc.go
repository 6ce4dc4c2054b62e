// Package bitlocker reads and writes BitLocker (FVE) volumes in pure Go:
// detection, FVE metadata, key protectors, unlocking, and a plaintext
// io.ReaderAt / io.WriterAt view of the volume exactly as Windows presents
// it.
//
// # API (usable now)
//
//	v, err := bitlocker.Open(r, size)   // ErrNotBitLocker, ErrBitLockerToGo, ErrCorrupt
//	v.Info()                            // GUID, method, state, sizes, protectors...
//	err = v.Unlock(bitlocker.RecoveryPassword(pw), bitlocker.Password(pw),
//	        bitlocker.BEK(data), bitlocker.ClearKey(), bitlocker.RawFVEK(b))
//	        // *WrongKeyError (ErrWrongKey), *NeedRecoveryKeyError (ErrLocked)
//	v.ReadAt(p, off); v.WriteAt(p, off); v.Size(); v.Short()
//	k := v.ReuseKey()                   // unlock again without a 2^20 stretch
//
// size is the number of bytes r holds. When the metadata describes a longer
// volume (an image cut short), Size is the described size, reads past the
// image return zeros (as dislocker-file does) and writes there fail with
// ErrShortImage. A volume whose BitLocker is off needs no key.
//
// # On-disk format
//
// Sources: the libbde format document (libyal/libbde, "BitLocker Drive
// Encryption (BDE) format.asciidoc"), dissect.fve (fox-it; bde/c_bde.py,
// bde.py, information.py, eow.py) and dislocker (Aorimn; metadata and
// inouts). Facts were checked against the 14 Windows-made test volumes of
// dissect.fve.
//
// Volume header (sector 0). Windows 7 and later: jump EB 58 90, OEM
// "-FVE-FS-", a FAT32-like BPB (bytes per sector at 11, sectors per cluster
// at 13, hidden sectors at 28), and at offset 160 the BitLocker GUID
// 4967d63b-2e29-4ad8-8399-f6a339e3d001 followed by the byte offsets of the
// three FVE metadata blocks. A volume converted with "used space only"
// (encrypt-on-write, EOW) has the GUID 92a84d3b-dd80-4d0e-9e4e-b1e3284eaed8
// instead, followed by the three metadata offsets and two offsets of the
// EOW information. Windows Vista (version 1): jump EB 52 90 and an NTFS
// boot sector whose OEM field says "-FVE-FS-" and whose MFT-mirror field
// (offset 56) holds the cluster of metadata block 1; no GUID. BitLocker To
// Go puts "MSWIN4.1" and a FAT32 header there (the GUID at 424): reported
// as ErrBitLockerToGo. See header.go.
//
// FVE metadata block (three copies, 64 KiB each in v2, 16 KiB rounded to a
// cluster in v1): a 64-byte block header (signature, size, version, current
// and next state, encrypted volume size, convert size, number of relocated
// boot sectors, the three block offsets, and the relocated boot sectors'
// offset — in v1 the NTFS MFT mirror cluster instead), then the dataset: a
// 48-byte metadata header (size, version, entry range, volume GUID, next
// nonce counter, encryption method, creation FILETIME) and a chain of
// entries. A validation structure follows the header-size bytes: a CRC-32
// of them, and an AES-CCM entry (wrapped with the VMK) holding their
// SHA-256. Open uses the first copy whose CRC-32 holds; Unlock also checks
// the SHA-256. See metadata.go.
//
// Entries (entries.go): size, type (role: VMK 2, FVEK 3, startup key 6,
// description 7, volume header block 15, ...), value type, version, value.
// Value types: key (method, flags, bytes), UTF-16 string, stretch key
// (salt + nested entries), use key, AES-CCM encrypted key (12-byte nonce,
// 16-byte MAC, ciphertext), TPM blob, VMK (protector GUID, FILETIME,
// protection type, nested entries), external key (GUID, FILETIME, nested),
// offset+size, and integers. Unknown types are kept undecoded; a damaged
// chain is an error, never a panic.
//
// Protectors (protectors.go) are the VMK entries; the protection field says
// clear key (0x0000, protection suspended), TPM (0x0100), startup key
// (0x0200, a .BEK file), TPM+PIN (0x0500), recovery password (0x0800),
// password (0x2000), public key (0x1000).
//
// How keys chain (unlock.go): a recovery password (8 groups of 6 digits,
// each 11 times a 16-bit value) gives a 16-byte key whose SHA-256, and a
// password gives SHA-256(SHA-256(UTF-16LE)), which the 2^20-round SHA-256
// stretch turns, with the protector's salt, into an AES-256 key; a .BEK
// file's external key and a clear key are used as they are. That key
// unwraps (AES-CCM) the protector's copy of the VMK; the VMK unwraps the
// FVEK entry (method, key material: XTS both keys, CBC+diffuser FVEK and
// tweak key). The FVEK drives the sector codec: AES-CBC with the
// encrypted-offset IV, with or without the Elephant diffuser, or AES-XTS
// with the sector number as tweak (BL-CRYPTO's cbc.go, elephant.go,
// xts.go).
//
// Plaintext view (layout.go, volume.go). Windows 7+: the first N sectors
// (N from the block header, 16) are stored, encrypted in place, at the
// relocated boot sectors' offset; sector 0 of the disk is the BitLocker
// header. Vista: sector 0 is shown with "NTFS    " and the MFT mirror
// cluster restored, the first 8 KiB are not encrypted. The three metadata
// blocks, the relocated sectors' home, and the EOW information, bitmaps and
// conversion logs read as zeros and refuse writes. Whether a sector is
// encrypted: never when BitLocker is off (state 1/1); with EOW as the
// current bitmap record of its region says (a set bit = the chunk is
// encrypted); otherwise when it lies below the encrypted volume size (a
// paused or running conversion leaves the rest plaintext). Writes follow
// the same rules, so a written volume stays consistent with its metadata.
package bitlocker
