// Package ntfs reads an NTFS volume on any io.ReaderAt: a partition of a
// disk image or block device, or a decrypted bitlocker.Volume: the boot
// sector, MFT records, attributes, run lists, indexes, lookup, and the
// volume state checks that gate every write. Editing and deleting (write
// plans and their order) is package ntfs/edit, the $LogFile format is
// ntfs/logfile, journal replay is ntfs/replay; this package imports none
// of them but logfile.
//
// # Read API for the write side (ntfs/edit, ntfs/replay)
//
// Everything keeps raw bytes and offsets so that an editor can compute
// byte-exact edits:
//
//   - Open(r, size) *Volume; v.Boot() geometry (ClusterSize, RecordSize,
//     IndexBlockSize, BytesPerSector, MFTLCN, MFTMirrLCN, TotalClusters());
//     v.Info() label, version, Flags, Dirty(); v.Upcase() table;
//     v.Device() the reader the volume was opened on.
//   - v.ReadRecord(n) *Record: Raw = record with fixups REMOVED (offsets
//     relative to Raw), USAOffset/USACount/USN, Sequence, LinkCount, Flags,
//     BytesInUse, BaseRef, NextInstance, Attributes (each with Offset,
//     Length, ValueOffset, RunsOffset, Runs, sizes, Record = holder's number).
//   - v.RecordExtents(n) []Extent: volume byte ranges of record n (follows
//     $MFT's run list). v.MFTRecords().
//   - Fixups (the scheme is ntfs/internal/mst): to write a record or INDX
//     block back, re-apply: bump USN, save each stride's last 2 bytes into
//     the USA, stamp USN (stride 512).
//   - v.OpenRef(ref) *File (checks sequence number unless 0);
//     f.Base, f.Extensions, f.AttrList ([]AttrListEntry with Offset),
//     f.Attrs, f.FindAttr(t, name), f.AttrsOf(t, name) (all extents, by VCN),
//     f.RecordOf(attr), f.Stat(), f.OpenStream(name), f.AttrReader(t, name)
//     (a non-resident value's reader is a *RunReader: rr.LCN(vcn),
//     rr.Extents(off, n) map it to the volume).
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
//   - v.MFTMirror() *MFTMirror (Held, InStep(), RecordExtents(n, rs)),
//     v.MirrorRecords(), MirrorInStep: $MFTMirr's layout (mirror.go).
//   - v.JournalState() *JournalState: $LogFile restart pages (journal.go,
//     version 1.1/2.0, clean or not), the dirty flag, the hiberfil.sys
//     header (hiber.go); js.WriteGate(unclean, hib) applies the
//     UncleanPolicy and HibernatedPolicy before any write (*RefusedError,
//     errors.Is(err, ErrRefused)). The $LogFile itself is read by package
//     ntfs/logfile (logfile.AnalyzeLogFile, ParseRestartPage).
//   - CollateFileNames(upcase, a, b), CollateULongs(a, b), SplitPath(path), DecodeRunList(b, vcn),
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
// (ntfs/edit's delete_objid_test.go).
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
// # $MFTMirr
//
// $MFTMirr (record 1) copies the first records of $MFT. It holds
// min(4 or a cluster's worth, its $DATA size) records (ntfs-3g bootsect.c
// mftmirr_size, cut by volume.c to what $MFTMirr's data holds): 4 on a
// Windows-formatted volume whatever the cluster size (libfsntfs; issue
// #13, not observed here), a whole cluster on an mkntfs one. Windows keeps
// only records 0-3 in step (libfsntfs: "Back up of the first 4 entries";
// ntfs-3g volume.c: "Windows 10 does not update the full $MFTMirr any
// more"). Open reads its layout once (mirror.go, MFTMirror); the write
// rules are ntfs/edit's.
package ntfs
