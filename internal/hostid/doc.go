// Package hostid identifies the machine a Windows volume belongs to, for
// the fleet log and for matching recovery keys.
//
// API:
//
//	sys, err := hostid.ReadSystemBytes(hive) // or ReadSystem(r io.ReaderAt, size)
//	sys.ComputerName, sys.ControlSet, sys.Hostname, sys.TimeZone.HardwareClockToUTC(t)
//	bios, err := hostid.ReadSMBIOS("")       // /sys/class/dmi/id; injectable root; on Windows the RSMB firmware table
//	bios, err := hostid.ReadRawSMBIOS(b)     // a RawSMBIOSData buffer (header + structure table)
//	h, err := hostid.OpenHive(r, size); k, err := h.Key(`Select`); v, err := k.Value("Current")
//
// Disk model and serial come from package internal/disk (Disk, LookupDisk).
//
// # Registry hive format (what hive.go reads)
//
// A hive file starts with a 4096-byte base block: "regf", primary and
// secondary sequence numbers at 4 and 8 (unequal = changes pending in the
// .LOG1/.LOG2 transaction logs), format version 1.x at 20/24, the root
// key's cell offset at 36, and an XOR checksum of the first 508 bytes at
// 508. Hive bins follow; every offset in the hive is relative to the first
// bin (file offset 4096). A cell is a signed 32-bit size (negative =
// allocated) followed by its data:
//   - "nk" key node: flags at 2 (0x20 = name in Latin-1, else UTF-16LE),
//     subkey count at 20, subkey list at 28, value count at 36, value
//     list at 40, name length at 72, name at 76;
//   - subkey lists "li" (offsets), "lf"/"lh" (offset + hash pairs), and
//     "ri" (offsets of further li/lf/lh lists, one level);
//   - value list: an array of "vk" cell offsets;
//   - "vk" value: name length at 2, data size at 4 (top bit set = up to 4
//     bytes stored in the data-offset field itself), data offset at 8, type
//     at 12, flags at 16 (1 = Latin-1 name), name at 20; data over 16344
//     bytes (format 1.4+) is a "db" record listing segment cells.
//
// # SMBIOS on Windows (smbios_windows.go, smbiostable.go)
//
// Windows has no /sys/class/dmi/id: GetSystemFirmwareTable with provider
// 'RSMB' and table ID 0 (Microsoft Learn, "GetSystemFirmwareTable
// function") returns a RawSMBIOSData structure: Used20CallingMethod,
// SMBIOSMajorVersion, SMBIOSMinorVersion, DmiRevision (one byte each),
// Length (DWORD), then Length bytes of the SMBIOS structure table.
// DecodeSMBIOSTable reads that table as the DMTF's "System Management
// BIOS (SMBIOS) Reference Specification" (DSP0134) lays it out and fills
// the same fields Linux exposes in /sys/class/dmi/id, with the same
// placeholder filtering, so a host is named alike whichever OS unbrick
// runs on.
//
// # SYSTEM hive keys used
//
// Select\Current (REG_DWORD N) selects ControlSet00N; its
// Control\ComputerName\ComputerName value ComputerName is the computer
// name; Services\Tcpip\Parameters Hostname/Domain the DNS name;
// Control\TimeZoneInformation Bias / ActiveTimeBias (minutes, UTC = local
// + bias), TimeZoneKeyName and RealTimeIsUniversal tell how to turn the
// hardware clock (local time by default on Windows) into UTC.
package hostid
