// Package ntfs reads (and, with the delete files of this package, safely
// edits) an NTFS volume on any io.ReaderAt: a partition of a disk image or
// block device, or a decrypted bitlocker.Volume.
//
// # Internal API for NTFS-DELETE (read side, owned by NTFS-READ)
//
// Everything keeps raw bytes and offsets so that an editor can compute
// byte-exact edits:
//
//   - Open(r, size) *Volume; v.Boot() geometry (ClusterSize, RecordSize,
//     IndexBlockSize, BytesPerSector, MFTLCN, MFTMirrLCN, TotalClusters());
//     v.Info() label, version, Flags, Dirty(); v.Upcase() table.
//   - v.ReadRecord(n) *Record: Raw = record with fixups REMOVED (offsets
//     relative to Raw), USAOffset/USACount/USN, Sequence, LinkCount, Flags,
//     BytesInUse, BaseRef, NextInstance, Attributes (each with Offset,
//     Length, ValueOffset, RunsOffset, Runs, sizes, Record = holder's number).
//   - v.RecordExtents(n) []Extent: volume byte ranges of record n (follows
//     $MFT's run list). v.MFTRecords().
//   - applyFixups(b, kind) (package-internal; the scheme is ntfs/internal/mst):
//     To write a record or INDX block back, re-apply: bump USN, save each
//     stride's last 2 bytes into the USA, stamp USN (stride 512).
//   - v.OpenRef(ref) *File (checks sequence number unless 0);
//     f.Base, f.Extensions, f.AttrList ([]AttrListEntry with Offset),
//     f.Attrs, f.FindAttr(t, name), f.AttrsOf(t, name) (all extents, by VCN),
//     f.RecordOf(attr), f.Stat(), f.OpenStream(name), f.attrReader(t, name).
//   - f.OpenIndex("$I30") *Index: Root (*IndexRoot: BlockSize, Node),
//     BlockSize, VCNSize (bytes per child-VCN unit), Bitmap ($I30 $BITMAP
//     bytes), ix.Node(vcn) *IndexNode (fixed-up Raw, HeaderOffset,
//     EntriesOffset/IndexLength/AllocatedSize as stored relative to the
//     header, Flags, USN/USAOffset/USACount, Entries with Offset/Length/
//     KeyLength/Flags/ChildVCN/FileName), ix.BlockOffset(vcn) (offset in
//     $INDEX_ALLOCATION), ix.BlockExtents(vcn) (volume byte ranges),
//     ix.Walk(fn) in-order, ix.FindName(utf16) *IndexHit{Entry, Node, Path
//     root..node}. For the root node, Raw is the $INDEX_ROOT value: its
//     place in the record is attr.Offset+attr.ValueOffset.
//   - v.LookupEntry(path) (*Index, *IndexHit, error): the parent's index and
//     the entry of the last component (Win32 or DOS name).
//   - CollateFileNames(upcase, a, b), SplitPath(path), DecodeRunList(b, vcn),
//     ParseRecord, ParseAttribute, ParseIndexBlock, ParseIndexRoot,
//     ParseFileName, ParseAttributeList, ParseStandardInformation,
//     ParseVolumeInformation, ParseReparsePoint, ParseBootSector.
//   - Errors: ErrNotNTFS, *FormatError (every structural problem: the
//     structure, field and byte offset; errors.Is(err, ErrCorrupt)),
//     ErrNotFound, ErrNotDirectory, ErrIsDirectory, ErrCompressed,
//     ErrEncrypted, ErrTruncated.
//
// # On-disk format (read side)
//
// Sources: the libfsntfs format document ("New Technologies File System
// (NTFS)"), ntfs-3g's layout.h and its mst.c, runlist.c, index.c,
// collate.c and compress.c (facts only; no code was copied).
//
// The boot sector (boot.go) gives the sector and cluster size, the LCNs of
// $MFT and $MFTMirr, and the MFT record and index block sizes (a positive
// byte counts clusters, a negative n means 2^-n bytes: 1 KiB or 4 KiB
// records, 4 KiB index blocks).
//
// Every MFT record (FILE) and index block (INDX) is protected by an update
// sequence (record.go): the last two bytes of every 512-byte stride hold
// the update sequence number and the real bytes are kept in the update
// sequence array; a mismatch means a torn write. The stride is 512 bytes
// whatever the sector size.
//
// $MFT (record 0) is read through its own run list (runlist.go), so a
// fragmented MFT works; when $MFT has an $ATTRIBUTE_LIST its other $DATA
// extents are found in extension records that the first extent maps.
//
// A record holds attributes (attr.go), each with a header and either a
// resident value or a run list of (length, LCN delta) pairs; a run with no
// LCN is sparse. A file whose attributes do not fit one record has an
// $ATTRIBUTE_LIST naming the extension records that hold the rest
// (file.go). Data past the initialized size reads as zeros; compressed
// data (16-cluster units, LZNT1) is decoded by lznt1.go; EFS-encrypted data
// is refused.
//
// Directories are B-trees keyed by $FILE_NAME values ($I30 index,
// index.go): the root node sits in the resident $INDEX_ROOT, further nodes
// are INDX blocks in $INDEX_ALLOCATION, allocated per the index's $BITMAP.
// Internal nodes hold real entries too: an entry's child (VCN in its last
// 8 bytes) holds the names that collate before it, the END entry's child
// the names after the node's last entry. Names collate through $UpCase
// (collate.go, upcase.go). Lookup (lookup.go) descends the tree; ReadDir
// (dir.go) walks it in order. A file with an 8.3 alias has two entries
// (Win32 and DOS namespaces), possibly in different nodes.
//
// $Volume (record 3) holds the label and $VOLUME_INFORMATION (version and
// flags, 0x0001 = dirty: chkdsk scheduled).
//
// # Object IDs ($OBJECT_ID, $Extend\$ObjId:$O)
//
// Sources: the libfsntfs format document ("The object identifier
// attribute", "$ObjID:$O", "Collation type"), ntfs-3g's object_id.c,
// collate.c, layout.h and dir.c (ntfs_delete); facts only, no
// code copied. Checked against volumes made by mkntfs and ntfs-3g
// (delete_objid_test.go).
//
// A file Windows tracks (link tracking, Explorer) has a resident $OBJECT_ID
// attribute (type 0x40) of 16 or 64 bytes: its object ID (a GUID), then
// optionally the birth volume ID, birth object ID and domain ID. The file
// $Extend\$ObjId (found by name in $Extend's $I30; a view index, record
// flag 0x8) indexes every object ID in its index "$O": an $INDEX_ROOT
// (indexed attribute type 0, collation rule 0x13, COLLATION_NTOFS_ULONGS),
// with $INDEX_ALLOCATION and $BITMAP named "$O" once it outgrows the
// record; INDX blocks and the B-tree rules are those of $I30. A view-index
// entry has the common header (+8 entry length, +10 key length, +12 flags,
// child VCN in the last 8 bytes) but its first 8 bytes are +0 data offset
// and +2 data length (from the entry start), not a file reference. A $O
// entry's key is the 16-byte object ID (at +16); its data (at +32, 56
// bytes) is the file's reference (record and sequence number, 8 bytes)
// followed by the birth volume, birth object and domain GUIDs: 88 bytes,
// 96 with a child pointer. Keys are ordered as sequences of unsigned
// little-endian 32-bit words (collate.go), not as bytes. (The $O index of
// $Extend\$Quota, owner IDs, uses collation 0x11, COLLATION_NTOFS_SID.)
//
// Deleting a file with an object ID removes its $O entry (objid.go, with
// the B-tree editing of indexedit.go), as ntfs-3g does once the last name
// is gone; ntfs-3g leaves the $OBJECT_ID attribute in the freed record and
// so do we. The delete is refused (*RefusedError, nothing written) when
// $ObjId or its $O is missing, the key is not indexed, the entry names
// another record or sequence number, the index is damaged, or the
// attribute is malformed: chkdsk rebuilds $ObjId.
//
// # $MFTMirr
//
// $MFTMirr (record 1) copies the first records of $MFT. It holds
// min(4 or a cluster's worth, its $DATA size) records (ntfs-3g bootsect.c
// mftmirr_size, cut by volume.c to what $MFTMirr's data holds): 4 on a
// Windows-formatted volume whatever the cluster size (libfsntfs; issue
// #13, not observed here), a whole cluster on an mkntfs one. Windows keeps only records 0-3 in step (libfsntfs: "Back
// up of the first 4 entries"; ntfs-3g volume.c: "Windows 10 does not
// update the full $MFTMirr any more"), so a delete requires those four to
// match (checkMFTMirr) and tolerates stale copies past record 3; every
// record a plan writes that the mirror holds gets its copy written in the
// same commit (delete_helpers.go, mftMirror).
//
// # Write side (NTFS-DELETE): API
//
//   - v.JournalState() *JournalState: $LogFile restart pages (journal.go,
//     logfile.go: version 1.1/2.0, clean or not), the dirty flag, the
//     hiberfil.sys header (hiber.go); the $LogFile itself is read by
//     package ntfs/logfile (logfile.AnalyzeLogFile, ParseRestartPage).
//   - v.PlanDelete(path, DeleteOptions{Unclean, Hibernated, Now}) *Plan
//     (delete.go, indexedit.go, objid.go, bitmap.go): the exact sector
//     writes, with before- and after-images, in the order below; nothing is
//     written. Plan.Deleted[i].ObjectID names the object ID a file lost.
//     Refusals are *RefusedError (errors.Is(err, ErrRefused); CLI exit 4).
//   - v.PlanJournalReset(unclean, hib) *Plan (reset.go): only the journal
//     reset / hibernation discard.
//   - Apply(w, plan, ApplyOptions{BeforeWrite, AfterWrite, Sync, StopAfter,
//     ...}) (write.go): the one place writes happen. It first checks every
//     before-image against the volume (*DiskChangedError, nothing written,
//     if the volume changed since planning), then per write: BeforeWrite
//     hook (an undo journal records w.Before there), WriteAt, Sync (the
//     ordering barrier), read-back check, AfterWrite hook. StopAfter cuts
//     after k writes (power-cut tests).
//
// # Journal replay ($LogFile: package ntfs/logfile; replay*.go)
//
// v.AnalyzeJournal() (logfile.AnalyzeJournal) reads both restart pages, the log record pages (RCRD,
// fixups, wrap-around, the tail copies of the newest pages), the
// checkpoint's open attribute, dirty page and transaction tables and
// groups the records after the checkpoint into transactions.
// v.PlanReplay() *ReplayResult plans what Windows does when it mounts an
// unclean volume: redo the committed transactions' records not yet on disk
// (LSN order; an MFT record's or index block's LSN says whether a change
// reached the disk), roll back, newest first, the records of uncommitted
// transactions whose changes did reach the disk, and rewrite both restart
// pages as a clean version 1.1 journal, last. Which operations are redone
// and undone, and how, is in the comment at the top of replay.go; any
// record it cannot apply makes it fail before anything is written
// (*UnsupportedLogOpError naming the operation and LSN; *ReplayRefusedError
// for a damaged log). The plan goes through Apply like a delete's.
// Power cut: before the restart pages are rewritten the journal is still
// unclean, and a redo finds its own writes by their LSNs, so Windows (or a
// second run) replays again to the same result. A rolled-back change keeps
// its page's LSN (as in ntfs3 and ntfsrecover), so a cut between a
// rollback and the restart pages can leave a change undone twice; the undo
// journal the engine writes first restores the pre-replay volume
// ('unbrick undo') for a clean retry.
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
package ntfs
