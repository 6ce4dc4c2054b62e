// Package keys reads the BitLocker recovery-key exports that fleets hold and
// matches their entries to volumes.
//
// Status: usable. LoadFile/LoadFiles/Parse/ParseFile, Entry, Set (NewSet,
// ForProtector, ForComputer, ForSerial, Candidates), NormalizeKeyID,
// NormalizeRecoveryPassword, Seal and sealed (age) bundles all work.
// ReadBEKFile, ReadRecoveryPasswordFile ("-" = standard input),
// ReadPassphraseFile, ReadIdentityFile and ReadRecipientsFile read the
// small files the key flags name.
//
// # Reading files
//
// Every file is read whole through internal/inputfile: a device, FIFO,
// socket or directory is refused without blocking (errors wrap
// inputfile.ErrNotRegular) and so is a file over its limit (errors wrap
// inputfile.ErrTooLarge): 256 MiB for a key export (a sealed bundle's
// decrypted content too), 1 MiB for a list of recovery passwords or
// recipients, 64 KiB for a BEK, passphrase or identity file. Standard
// input, where accepted, has the same limit.
//
// # Formats
//
// LoadFile detects the layout from the content, never from the file name:
//
//   - AD DS (msFVE-RecoveryInformation objects, child objects of the
//     computer, named "<time>{GUID}"; attributes msFVE-RecoveryGuid,
//     msFVE-RecoveryPassword, MS-ADA2): csvde CSV (binary GUIDs as X'hex',
//     little-endian Data1-3), Get-ADObject | Export-Csv (the GUID column is
//     "System.Byte[]", so the ID comes from Name or DistinguishedName),
//     ldifde LDIF (msFVE-RecoveryGuid:: base64), and Get-ADObject console
//     output saved with Out-File (Format-List blocks). The computer name is
//     the CN after the recovery object's CN in the distinguished name.
//   - Microsoft Graph / Entra / Intune: bitlockerRecoveryKey JSON (id, key,
//     deviceId, createdDateTime, volumeType), as {"value":[...]}, an array,
//     single objects or JSON Lines; and CSVs written by export scripts (key
//     ID, key, device ID, device/display name columns).
//   - MBAM / ConfigMgr RecoveryAndHardwareCore: RecoveryKeyId, RecoveryKey,
//     optionally the machine Name.
//   - CrowdStrike's recovery tool BitLockerKeys.csv: KeyID, RecoveryKey,
//     optionally Hostname and Directory.
//   - Generic delimited text with a header row naming a recovery-password
//     column; other columns by case-insensitive synonyms (see columnRoles in
//     record.go): key ID, computer name, device ID, serial number.
//   - Free text: the "BitLocker Recovery Key <ID>.TXT" file Windows saves
//     when a key is backed up to a file or USB drive, `manage-bde
//     -protectors -get` output, header-less "GUID,password" lines. Each
//     recovery password pairs with the nearest key ID before it (or the ID
//     in the file name).
//   - Get-BitLockerVolume KeyProtector exports: rows whose KeyProtectorType
//     is not RecoveryPassword (TPM, PIN, key file) are skipped silently.
//   - An age-encrypted bundle written by Seal (`unbrick keys seal`), or any
//     of the above sealed as is with age's passphrase mode.
//
// Text may be UTF-8 with or without BOM, UTF-16LE/BE with BOM (Windows
// PowerShell 5.1 Out-File and `>`, Export-Csv -Encoding Unicode, csvde -u),
// or ANSI; lines end in CRLF or LF; CSV delimiters are comma, semicolon or
// tab (picked from the header; an Excel "sep=;" line is honoured); fields may
// be quoted; PowerShell 5's "#TYPE ..." first line is skipped.
//
// # Validation
//
// Key IDs are GUIDs (braces and case ignored; stored upper-case without
// braces). Recovery passwords are 48 digits in 8 groups of 6; each group
// must be a multiple of 11 below 720896 (it encodes 16 bits of the key times
// 11), which catches nearly every typing error offline. A row that fails is
// reported as a Problem naming file, line and field ("line 7: recovery
// password group 3 fails its checksum"), never its value.
//
// # Secrets
//
// Entry.RecoveryPassword is the only secret. Entry's String and GoString
// omit it, so no fmt verb prints it, and it is tagged json:"-". Problems and
// errors never quote a password; a cell that looks like one is redacted even
// when it sits in another column.
package keys
