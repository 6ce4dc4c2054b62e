// Package replay plans the replay of an unclean NTFS journal ($LogFile,
// whose format is package ntfs/logfile) on a volume opened with package
// ntfs, as a write plan of package ntfs/edit.
//
// AnalyzeJournal(v) (logfile.AnalyzeJournal) reads both restart pages, the
// log record pages (RCRD, fixups, wrap-around, the tail copies of the
// newest pages), the checkpoint's open attribute, dirty page and
// transaction tables and groups the records after the checkpoint into
// transactions, judging each operation by what Plan can redo.
// Plan(v) *ReplayResult plans what Windows does when it mounts an
// unclean volume: redo the committed transactions' records not yet on disk
// (LSN order; an MFT record's or index block's LSN says whether a change
// reached the disk), roll back, newest first, the records of uncommitted
// transactions whose changes did reach the disk, and rewrite both restart
// pages as a clean version 1.1 journal, last. Which operations are redone
// and undone, and how, is in the comment at the top of replay.go; any
// record it cannot apply makes it fail before anything is written
// (*UnsupportedLogOpError naming the operation and LSN; *ReplayRefusedError
// for a damaged log). The plan goes through edit.Apply like a delete's.
// Power cut: before the restart pages are rewritten the journal is still
// unclean, and a redo finds its own writes by their LSNs, so Windows (or a
// second run) replays again to the same result. A rolled-back change keeps
// its page's LSN (as in ntfs3 and ntfsrecover), so a cut between a
// rollback and the restart pages can leave a change undone twice; the undo
// journal the engine writes first restores the pre-replay volume
// ('unbrick undo') for a clean retry.
//
// Memory: Plan reads the log to replay (logfile.ReadLogFile, a journal of
// at most logfile.MaxLogFileSize, 256 MiB) and stages its changes in an
// overlay that keeps each sector it reads or changes twice (as on disk
// and as replayed), at most MaxOverlayBytes (256 MiB) in all. A journal
// past either limit is refused with *ReplayRefusedError before anything is
// written (for the journal's size, wrapping *logfile.TooLargeError); the
// engine then falls back as for a damaged log (--unclean-fallback).
package replay
