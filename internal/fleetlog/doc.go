// Package fleetlog writes and reads the fleet log: one JSON Lines record per
// Windows system volume (and per locked volume that could be one) per run,
// in DIR/unbrick.jsonl, with a CSV copy in DIR/unbrick.csv.
//
// Status: usable. Record (fields documented in README "Fleet log"), Open +
// Log.Append (fsync of file, and of the directory when a file is created:
// internal/durable's SyncDir, which on Windows relies on NTFS's own log of
// metadata changes, since Windows cannot flush a directory handle),
// ConfirmationCode/CheckCode, ReadPaths, Merge (newest record per host,
// used recovery key IDs), NeverSeen (inventory check).
//
// A Record has no field that could hold a password or key; Append also
// replaces anything shaped like a recovery password (8 groups of 6 digits,
// or 48 digits) with "[redacted]" in both files, in case one reached an
// error message.
//
// Merging: records belong to one host when they share a volume ID, SMBIOS
// UUID, real SMBIOS serial, or computer name; the newest (by Time) wins.
package fleetlog
