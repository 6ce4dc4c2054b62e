// Package undo keeps the undo journal of a fix: the before-image and the
// after-image of every byte range unbrick writes to a customer's disk, as
// stored on the disk (ciphertext under BitLocker), so that `unbrick undo`
// can put the disk back byte for byte, and a later fix can finish an
// interrupted one, without a key and without the journal ever holding
// plaintext of the volume.
//
// API status: usable. Recorder (NewRecorder, ReadAt, WriteAt, Commit),
// Parse, ReadFile, Match, Restore, RollForward, FindIncomplete are complete
// and tested.
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
// # Finishing an interrupted fix
//
// A fix killed (SIGKILL, power cut) between steps 1 and 3 leaves the disk
// in some state S_A (see Restore rule) with no applied marker, or with an
// applied marker whose status is "failed": the journal is Incomplete. Its
// volume may be half fixed (a file record in use with no index entry, say),
// so a later fix of the same volume must not plan from that disk. It looks
// for incomplete journals of the volume first (FindIncomplete, matching
// the header's volume id, target size and partition) and finishes each
// one with RollForward: it finds the state S_A the disk is in, writes the
// after-images of records A..n-1 in order (syncing after each, as Commit
// does), reads every range back and checks it against the after-images'
// SHA-256, and then appends a rolled-forward marker and fsyncs the journal.
// If the disk is in no state S_A (something else changed it since), or the
// journal is version 1 (no after-images), RollForward writes nothing and
// the fix must be refused: the user runs `unbrick undo` with that journal
// and fixes again. Restore appends an undone marker once the disk is put
// back, so an undone journal is never rolled forward. Interrupted anywhere,
// RollForward leaves the disk in some S_A and the journal still Incomplete
// until its marker is durable; the next RollForward carries on.
//
// Under BitLocker the after-images, like the before-images, are the bytes
// as stored on the disk (ciphertext): rolling forward needs no key, and the
// journal never holds plaintext of the volume.
//
// # Journal file format (version 2)
//
// All integers are little-endian. Strings are a uint16 byte length followed
// by UTF-8 bytes.
//
//	header:
//	  magic            8 bytes  "UNBRKJNL"
//	  version          uint16   2 (1 is still read: see below)
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
//	  after-image      n bytes  what this write put there (version 2 only)
//	  after sha256     32 bytes SHA-256 of the bytes this write put there
//	  record crc       uint32   CRC-32C of the record's bytes before this field
//	prepared marker:
//	  tag              1 byte   'P'
//	  record count     uint32
//	  sha256           32 bytes SHA-256 of every journal byte before this marker
//	end markers (zero or more, appended later, each fsynced; all 38 bytes):
//	  tag              1 byte   'A' applied, 'F' rolled forward, 'U' undone
//	  count            uint32   see below
//	  status           1 byte   see below
//	  sha256           32 bytes SHA-256 of every journal byte before this field
//
// The end markers:
//
//   - 'A' applied, appended by Commit after its writes: count = writes that
//     completed, in order; status 0 = all writes done and the device synced,
//     1 = apply failed. At most one, and only as the first end marker.
//   - 'F' rolled forward, appended by RollForward once every write is on the
//     disk and read back: count = A, the writes it found already done (it
//     made the other n-A); status 0. At most one; only after nothing or an
//     applied marker that is not complete. Never in a version 1 journal.
//   - 'U' undone, appended by Restore after it put the disk back: count =
//     before-images it wrote; status 0. May follow any marker; Restore does
//     not append a second one in a row.
//
// The last end marker gives the journal's state: complete (an 'A' with
// status 0 and count = record count, or an 'F'), undone ('U'), or else
// incomplete (no end marker, or an 'A' that is failed or counts fewer
// writes): the fix was interrupted and must be rolled forward or undone.
//
// A journal without a valid prepared marker is torn (ErrTorn): it was cut
// short while being written, and since the device is only written after the
// prepared marker is durable, such a fix changed nothing on the disk. This
// includes an empty file, any prefix of the header, and a journal whose
// remaining bytes are all zero where a record or the prepared marker should
// start (a file that grew but whose data never reached the stick). A tail
// after the prepared marker or the last end marker that is shorter than an
// end marker, or that is all zero bytes, is an append cut short: it is
// ignored (the state is the previous marker's), and the next append cuts it
// off first. Any other byte after the prepared marker must belong to a
// valid end marker, or the journal is corrupt (ErrCorrupt).
//
// Version 1 is version 2 without the after-image field. A version 1
// journal restores like a version 2 one but cannot be rolled forward
// (ErrNoAfterImages: run `unbrick undo` with it, then fix again). Restore
// appends undone markers to version 1 journals too (so that an undone one
// is no longer Incomplete); releases that wrote version 1 report such a
// journal as corrupt.
//
// # Restore rule
//
// A disk a journal belongs to can legitimately be in one of n+1 states S_A
// (A = 0..n): the first A writes of the fix done and the rest not (a power
// cut or a failed write during fix, or a restore that was itself
// interrupted: restoring walks back through the same states). Match
// finds the largest A that matches the disk exactly: ranges of records
// below A hold the after-image the fix wrote (compared by SHA-256, checked
// newest first on a simulated view so overlapping writes are handled), and
// ranges of records from A on hold what was there before the fix. Any other
// content means someone (Windows, chkdsk, another tool) changed the disk
// after the fix, and Restore refuses, writing nothing (ErrMismatch). Then it
// writes the before-images of records A-1 down to 0, syncs the target,
// reads every range back, and (given the journal's path) appends the undone
// marker. A second Restore finds S_0 and writes nothing. RollForward uses
// the same Match and walks the other way, to S_n.
package undo
