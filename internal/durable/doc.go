// Package durable owns the durable-write primitives of unbrick: making a
// file's creation, replacement or removal survive a power cut once the
// call has returned. Every package that writes a log, a cursor, a key
// file or an undo journal uses these instead of its own copy.
//
// What it provides:
//
//   - SyncDir(dir): the directory entries of dir (a file created,
//     renamed or removed in it) are on stable storage.
//   - Rename(old, new): new is replaced by old atomically (a reader sees
//     the old or the new content, never a mix) and durably.
//   - WriteFile(path, data, perm): path is replaced by data atomically and
//     durably (a temporary file beside it, flushed, then Rename).
//   - MkdirAll(dir, perm): dir and its missing parents exist durably.
//
// A file's own data is flushed with (*os.File).Sync, which is fsync(2) on
// Unix and FlushFileBuffers on Windows (Microsoft Learn, "FlushFileBuffers
// function": it writes all buffered data and metadata of the file to the
// device).
//
// # Unix
//
// POSIX makes a new directory entry durable only once the directory
// itself is fsynced (the Open Group, "fsync"; Linux man-pages, fsync(2):
// "Calling fsync() does not necessarily ensure that the entry in the
// directory containing the file has also reached disk. For that an
// explicit fsync() on a file descriptor for the directory is also
// needed."). SyncDir does exactly that. Some file systems (and FUSE
// mounts) answer EINVAL to fsync on a directory: that is not an error
// here, the file's own fsync has gone through and there is no other way
// to ask.
//
// # Windows
//
// There is no fsync of a directory handle on Windows: opening a directory
// for GENERIC_WRITE needs FILE_FLAG_BACKUP_SEMANTICS and privileges that a
// technician's account may lack (Microsoft Learn, "CreateFileW function",
// section "Directories"), and Wine refuses it with Access denied. What
// replaces it:
//
//   - NTFS records every metadata change (file creation, rename, delete)
//     in its own log, $LogFile, and replays it after a crash (Microsoft
//     Learn, "NTFS overview": "NTFS uses its log file and checkpoint
//     information to restore the consistency of the file system"). A
//     directory entry whose creating call has returned is therefore
//     recovered with the volume, so SyncDir only checks that dir is a
//     directory and returns.
//   - Rename calls MoveFileExW with MOVEFILE_REPLACE_EXISTING and
//     MOVEFILE_WRITE_THROUGH (Microsoft Learn, "MoveFileExW function":
//     MOVEFILE_WRITE_THROUGH "does not return until the file is actually
//     moved on the disk"), so the replacement is on disk when it returns;
//     a same-volume move is a single NTFS transaction-logged rename.
//   - The file's data is flushed before the rename with (*os.File).Sync,
//     i.e. FlushFileBuffers (Microsoft Learn, "FlushFileBuffers function").
//
// FAT and exFAT volumes (a USB stick holding the logs) have no such log on
// either platform; the write-through rename is then the best Windows
// offers.
package durable
