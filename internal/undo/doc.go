// Package undo keeps the undo journal of a fix: the before-image of every
// byte range unbrick writes to a customer's disk, as stored on the disk
// (ciphertext under BitLocker), so that `unbrick undo` can put the disk back
// byte for byte without a key and without the journal ever holding
// plaintext of the volume.
//
// API status: usable. Recorder (NewRecorder, ReadAt, WriteAt, Commit),
// Parse, Read, Restore are complete and tested.
//
// # How a fix uses it
//
// The Recorder sits in the layer stack between the partition section and
// the BitLocker volume (or the NTFS volume on a plain disk):
//
//	device → partition section → Recorder → bitlocker.Volume → ntfs.Volume
//
// Writes that reach the Recorder are staged, not written: the Recorder
// keeps each write's after-image in memory, records the bytes it replaces
// (its before-image, read through the staged view so that overlapping
// writes chain correctly) and serves later reads from the staged view.
// Commit then
//
//  0. re-reads every range from the device and checks that it still holds
//     what the writes were staged against; if something else wrote there in
//     the meantime it returns ErrDiskChanged and writes nothing;
//  1. writes the whole journal (header, one record per write, prepared
//     marker) and fsyncs it; if that fails nothing has been written to the
//     device and Commit returns an error wrapping ErrJournal;
//  2. writes the staged after-images to the device in the order they were
//     issued (the order the NTFS planner chose so that a power cut leaves a
//     consistent volume), syncing the device after each one so that the
//     order survives a power cut;
//  3. appends the applied marker (how many writes completed, and whether the
//     apply failed) and fsyncs the journal again.
//
// This is stronger than journaling each write just before it: every
// before-image is durable before the first byte of the disk changes, and the
// journal itself costs two fsyncs whatever the number of writes.
//
// # Journal file format (version 1)
//
// All integers are little-endian. Strings are a uint16 byte length followed
// by UTF-8 bytes.
//
//	header:
//	  magic            8 bytes  "UNBRKJNL"
//	  version          uint16   1
//	  reserved         uint16   0
//	  created          int64    Unix time in nanoseconds (UTC)
//	  run id           string   the fix run's id
//	  volume id        string   BitLocker volume GUID, or NTFS serial for a plain volume
//	  target           string   target identity (path, disk model/serial) for humans
//	  target size      int64    size in bytes of the whole target (image file or block device)
//	  partition offset int64    byte offset of the volume in the target
//	  partition size   int64    byte length of the volume
//	  header crc       uint32   CRC-32C of every header byte before this field
//	record (one per staged write, in issue order):
//	  tag              1 byte   'R'
//	  device offset    int64    byte offset in the whole target (partition offset included)
//	  length           uint32   byte length n (1..16 MiB)
//	  before-image     n bytes  what the target held there before this write
//	  after sha256     32 bytes SHA-256 of the bytes this write put there
//	  record crc       uint32   CRC-32C of the record's bytes before this field
//	prepared marker:
//	  tag              1 byte   'P'
//	  record count     uint32
//	  sha256           32 bytes SHA-256 of every journal byte before this marker
//	applied marker (appended after the writes):
//	  tag              1 byte   'A'
//	  applied          uint32   number of writes that completed, in order
//	  status           1 byte   0 = all writes done and the device synced, 1 = apply failed
//	  sha256           32 bytes SHA-256 of every journal byte before this field
//
// A journal without a valid prepared marker is torn (ErrTorn): it was cut
// short while being written, and since the device is only written after the
// prepared marker is durable, such a fix changed nothing on the disk. A
// journal with a prepared marker but no applied marker belongs to a fix that
// stopped while writing (power cut); Restore accepts it: the newest records
// whose writes had not happened yet still hold their before-images.
//
// # Restore rule
//
// A disk a journal belongs to can legitimately be in one of n+1 states S_A
// (A = 0..n): the first A writes of the fix done and the rest not (a power
// cut or a failed write during fix, or a restore that was itself
// interrupted: restoring walks back through the same states). Restore
// finds the largest A that matches the disk exactly: ranges of records
// below A hold the after-image the fix wrote (compared by SHA-256, checked
// newest first on a simulated view so overlapping writes are handled), and
// ranges of records from A on hold what was there before the fix. Any other
// content means someone (Windows, chkdsk, another tool) changed the disk
// after the fix, and Restore refuses, writing nothing (ErrMismatch). Then it
// writes the before-images of records A-1 down to 0, syncs the target, and
// reads every range back. A second Restore finds S_0 and writes nothing.
package undo
