// Package edit plans and applies safe edits of an NTFS volume opened with
// package ntfs: deleting a file (its index entries, object ID entry, MFT
// records and bitmaps) and resetting an unclean journal or discarding a
// hibernation image. A plan is the exact sector writes, with before- and
// after-images, in an order that keeps every prefix of it a volume Windows
// reads correctly; Apply is the one place writes happen. Journal replay
// (package ntfs/replay) returns its writes as a Plan too, carried out by
// the same Apply.
//
// # API
//
//   - PlanDelete(v, path, DeleteOptions{Unclean, Hibernated, Now}) *Plan
//     (delete.go, indexedit.go, objid.go, bitmap.go): the exact sector
//     writes, with before- and after-images, in the order below; nothing is
//     written. Plan.Deleted[i].ObjectID names the object ID a file lost.
//     Refusals are *ntfs.RefusedError (errors.Is(err, ntfs.ErrRefused); CLI
//     exit 4); the volume state is checked first by the read side's
//     JournalState().WriteGate.
//   - PlanJournalReset(v, unclean, hib) *Plan (reset.go): only the journal
//     reset / hibernation discard.
//   - Apply(w, plan, ApplyOptions{BeforeWrite, AfterWrite, Sync, StopAfter,
//     ...}) (write.go): the one place writes happen. It first checks every
//     before-image against the volume (*DiskChangedError, nothing written,
//     if the volume changed since planning), then per write: BeforeWrite
//     hook (an undo journal records w.Before there), WriteAt, Sync (the
//     ordering barrier), read-back check, AfterWrite hook. StopAfter cuts
//     after k writes (power-cut tests).
//
// # Object IDs
//
// The $OBJECT_ID attribute and the $Extend\$ObjId:$O index are described
// in package ntfs's doc.
//
// Deleting a file with an object ID removes its $O entry (objid.go, with
// the B-tree editing of indexedit.go), as ntfs-3g does once the last name
// is gone; ntfs-3g leaves the $OBJECT_ID attribute in the freed record and
// so do we. The delete is refused (*ntfs.RefusedError, nothing written) when
// $ObjId or its $O is missing, the key is not indexed, the entry names
// another record or sequence number, the index is damaged, or the
// attribute is malformed: chkdsk rebuilds $ObjId.
//
// # $MFTMirr
//
// A delete requires the records Windows keeps in step, 0-3 (ntfs.MFTMirror
// InStep; the read side's doc says why), to match $MFT (checkMFTMirr) and
// tolerates stale copies past record 3; every record a plan writes that
// the mirror holds (Held) gets its copy written in the same commit
// (plan_stage.go).
//
// # Delete write order
//
// Every write is one whole structure: an MFT record (all its sectors: the
// update sequence number changes in each 512-byte stride, so a torn write
// is detected, never misread), an INDX block, or the sectors holding the
// changed bytes of a bitmap. Nothing is journaled, so the order alone must
// make every prefix of the plan a volume that Windows reads correctly: a
// power cut may leave space or records marked in use that nothing owns
// (leaks, which chkdsk reclaims), never an index entry pointing to a freed
// record, a cluster marked free while a file uses it (the next allocation
// would crosslink it) or a structure half written. The order:
//
//  0. Volume state, when a policy allows it: the hibernation header is
//     zeroed; for an unclean journal the dirty flag is set ($MFT record 3,
//     then its $MFTMirr copy) before the journal is filled with 0xFF, so
//     that a cut during the reset still makes Windows run chkdsk. These come
//     first so that no journal replay can later undo or redo the delete.
//  1. The index entries, DOS name first, then the Win32 name (as ntfs-3g).
//     Within one name: a key that moves (successor promoted into an
//     internal node, key moved down when a leaf empties) is written at its
//     destination before it is removed from its source, so a cut leaves a
//     duplicate entry (both copies name the same live file), never a lost
//     one. A leaf that empties is never written empty while referenced: its
//     parent lets go of it first; then the block is rewritten empty, then
//     freed in the $I30 $BITMAP (a block freed while still referenced could
//     be reallocated under the tree). When the root lets go and the $I30
//     $BITMAP is resident in the same record, both are one atomic write.
//     After the entries are gone the file is unreachable; a cut here leaves
//     an orphan record (in use, unindexed: a leak; chkdsk would re-link it
//     into its directory, so the delete should be run again).
//     Then, for a file with an object ID, its entry in $Extend\$ObjId:$O,
//     with the same rules (moved keys written at their destination first,
//     emptied blocks unlinked, blanked, then freed in the $O $BITMAP). A cut
//     before it leaves the orphan record still indexed by its object ID (a
//     valid entry: the record is in use); a cut during or after it leaves
//     the orphan's object ID unindexed (chkdsk re-links the orphan and
//     re-indexes it), never a $O entry naming a freed record.
//  2. The file's MFT record: in-use flag cleared, sequence number advanced
//     (0xFFFF wraps to 1), link count 0; names and run lists stay (as
//     Windows and ntfs-3g leave them). Only now may anything reuse it.
//     Then its extension records (a file with an $ATTRIBUTE_LIST), freed
//     the same way: base first, so a cut leaves orphan extension records
//     (a leak), never a live base record naming freed extensions.
//  3. Its $MFT:$BITMAP bit, then the $Bitmap bits of every non-resident
//     attribute's clusters: freed last, after nothing references them.
//  4. The parent's $STANDARD_INFORMATION times (cosmetic), folded into an
//     earlier write of that record when there is one.
//
// The volume dirty flag is not set around a delete: every prefix above is
// already consistent up to leaks, and chkdsk at next boot would turn the
// orphan a cut in step 1 can leave back into the deleted file. A dirty flag
// that was already set stays set.
//
// A leaked index block must not show the deleted name either: ntfs-3g
// lists a directory by scanning every block its $I30 $BITMAP marks in use.
// So when the leaf that held the deleted entry is unlinked, it is first
// rewritten to hold a copy of the key moved down instead (a live name);
// other unlinked blocks are rewritten empty after the parent lets go. Not
// covered (rare: an internal node left with only an END entry, or a root
// going back to a leaf with a non-resident $I30 $BITMAP): there, one write
// separates the unlink from the blanking.
package edit
