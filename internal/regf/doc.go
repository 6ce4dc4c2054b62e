// Package regf reads a Windows registry hive file ("regf") held in memory
// and plans the one edit unbrick makes to a SYSTEM hive: disabling a
// service (a kernel driver) offline by setting its Start value to 4
// (SERVICE_DISABLED), in place.
//
// API:
//
//	b, err := regf.ReadHive(r)                          // whole file, at most MaxHiveSize
//	p, err := regf.PlanDisableService(b, "CSAgent")     // *Plan; nothing written
//	p.Writes()                                          // []Write{Offset, Before, After} in the hive file
//	err = regf.Apply(b, p)                              // in memory (tests; the engine writes p.Writes() through NTFS)
//	err = regf.Verify(b, "CSAgent")                     // re-read: Start = 4 everywhere Select points
//	h, err := regf.Parse(b); h.WalkCells(fn); k, _ := h.Root(); k.Lookup(`Select`)
//
// Refusals are *RefusedError (errors.Is(err, ErrRefused) and the reason:
// ErrDirty, ErrChecksum, ErrNoSelect, ErrNoControlSet, ErrNoServiceKey,
// ErrNoValue, ErrWrongType), with a Hint saying what to do. A hive that
// breaks the format is a *FormatError naming the structure, its file
// offset and the field. A Start value already 4 is not an error: the
// Plan's SetChange reports it (Needed() false) and Writes() leaves it out.
//
// # Sources
//
// The layout below is from Maxim Suhanov's "Windows registry file format
// specification" (github.com/msuhanov/regf, the "Format of primary files"
// and "Dirty state of a hive" sections), cross-checked with Joachim Metz's
// libregf documentation ("Windows NT Registry File (REGF) format") and the
// hivex(3) manual; hives written by hivexregedit (libhivex) and the corpus
// disks' SYSTEM hives are the test witnesses. All integers are
// little-endian; "offset" of a cell means relative to the start of the hive
// bins data, i.e. file offset = 4096 + offset.
//
// # Base block (file offset 0, 4096 bytes)
//
//	0   4  Signature "regf"
//	4   4  Primary sequence number: incremented at the start of a write
//	8   4  Secondary sequence number: incremented at the end of a write
//	12  8  Last written timestamp (FILETIME)
//	20  4  Major version (1)           24 4 Minor version (3..6; 2 accepted)
//	28  4  File type (0 primary; 1, 6 transaction logs: refused)
//	32  4  File format (1 direct memory load)
//	36  4  Root cell offset            40 4 Hive bins data size (multiple of 4096)
//	44  4  Clustering factor           144 4 Flags (Windows 10)
//	508 4  Checksum: XOR of the 127 dwords at 0..507; a result of 0 is
//	       stored as 1 and 0xFFFFFFFF as 0xFFFFFFFE
//
// The checksum adjustment (0 -> 1, 0xFFFFFFFF -> 0xFFFFFFFE) is what the
// Windows kernel's writer does as later revisions of Suhanov's
// specification describe it; the revision cited above gives the plain XOR
// only. It matters for one hive in 2^31 and was not checked against a hive
// Windows wrote with such a sum: internal/hostid applies the same rule.
//
// # Hive bins and cells
//
// Hive bins follow the base block back to back: a 32-byte header ("hbin",
// its own offset at 4, its size at 8: a multiple of 4096) then cells that
// tile the bin exactly. A cell is a signed 32-bit size (a multiple of 8,
// header included; negative = allocated, positive = free) and its data.
// Parse checks the bin chain; WalkCells checks every cell's size; a cell
// read through an offset must start inside a bin past its header, be
// allocated and end inside the same bin.
//
// Records in allocated cells used here:
//
//   - "nk" key node: flags at 2 (0x20 KEY_COMP_NAME: name in Latin-1, else
//     UTF-16LE), number of subkeys at 20, subkeys list offset at 28, number
//     of values at 36, values list offset at 40, name length at 72, name at
//     76.
//   - Subkey lists: "li" (2-byte signature, 2-byte count, 4-byte key node
//     offsets), "lf" (offset + 4-byte name hint), "lh" (offset + 4-byte
//     name hash), "ri" (offsets of li/lf/lh lists; an ri never points to
//     an ri, refused here, which bounds the walk). The elements of all
//     lists must add up to the key node's subkey count.
//   - Values list: a cell of 4-byte "vk" offsets, count from the key node.
//   - "vk" key value: name length at 2, data size at 4, data offset at 8,
//     type at 12, flags at 16 (1 = Latin-1 name), name at 20. When the data
//     size has its top bit set the data (at most 4 bytes) is stored in the
//     data offset field itself: that is how Windows and hivex store a
//     REG_DWORD such as Start, so its four bytes lie at vk cell + 4 + 8.
//     Otherwise the data is in the cell at the data offset ("db" big data
//     records, for data over 16344 bytes in version 1.4+, are recognised
//     but not read).
//
// Key and value names compare case-insensitively, as Windows compares
// them (upper-cased character by character).
//
// # Disabling a service
//
// Select (a subkey of the SYSTEM hive's root) holds REG_DWORDs Current,
// Default, LastKnownGood (and Failed): N names the key ControlSet00N. Boot
// uses Default (Current at run time; LastKnownGood when the user picks
// it), so every distinct control set among the three gets the change.
// Under each, Services\<service>\Start must exist and be a 4-byte
// REG_DWORD; Start = 4 (SERVICE_DISABLED) keeps the driver from loading.
// The service key missing in a named control set, Start missing, or Start
// of another type or size refuses the whole plan: nothing is changed.
//
// The change is the 4 data bytes of each Start value, in place: no cell
// is allocated, freed or resized, no offset changes, the hive's size does
// not change.
//
// # Base block: not written
//
// The specification's "Dirty state of a hive": a hive is dirty when its
// checksum is wrong or its primary and secondary sequence numbers
// differ; only then are the transaction logs (.LOG1/.LOG2, or .LOG before
// Windows 8.1) applied; a clean hive's log entries are ignored. So:
//
//   - a dirty hive, or one with a wrong checksum, is refused: the primary
//     file alone is not the hive's state (the newest data are in the logs,
//     which unbrick does not replay), and an edit would be overwritten or
//     lost by the replay Windows makes at the next boot;
//   - a clean hive stays clean after a change of data bytes alone, and
//     Windows then loads it without consulting the logs: the edit is what
//     Windows sees. The sequence numbers and the checksum need no change.
//
// Windows' own writer increments the primary sequence number before and
// the secondary after writing (its protocol for a write that can be cut
// short and recovered from a log); hivex_commit increments both and
// recomputes the checksum (the fixture's sequence numbers went from 0x101
// to 0x102 through hivexregedit --merge). unbrick does neither, by
// decision: (1) the four bytes of a Start value lie in one 512-byte
// sector, so the data write is atomic at the disk and any prefix of the
// plan is a clean hive with each Start either old or new; bumping the
// numbers would add writes whose prefixes leave a dirty hive that Windows
// would try to recover from logs that do not describe the edit. (2) In the
// new log format a dirty hive replays the log entries whose sequence
// number is at least the primary sequence number; moving the numbers
// could make stale entries of the existing .LOG1/.LOG2 look "subsequent"
// later, and replay old pages over the edit. Leaving the base block alone
// keeps the relation Windows left between the primary file and its logs.
// The Last written timestamp is likewise left alone (the old log format
// matches logs to the primary by it). The Plan therefore holds only the
// data bytes, and the undo journal has nothing else to cover.
//
// # Limits
//
// A hive is read whole: at most MaxHiveSize (256 MiB) bytes; per key at
// most 2^18 subkeys and 2^16 values. The parsers never panic on any input
// (fuzzed: FuzzParseBaseBlock, FuzzWalk).
package regf
