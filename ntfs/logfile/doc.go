// Package logfile reads the NTFS journal, $LogFile (MFT record 2): its
// restart pages, its log record pages and the log records in them. It
// never writes, and it knows nothing of volumes: every entry point takes
// the $LogFile data as an io.ReaderAt and its size (package ntfs opens
// that stream; ntfs/replay applies the records).
//
// # API
//
//   - AnalyzeLogFile(r, size) *LogFileState: the restart pages alone
//     (ParseRestartPage, version 1.1 or 2.0, clean or not, and why). This
//     is what decides whether a write must be refused.
//   - ReadLogFile(r, size) *LogFile: the chosen restart page
//     (RestartInfo), the log Geometry, every record from the oldest LSN
//     the restart area needs to the end of the log (LogRecord: redo and
//     undo operation and data, target attribute, LCNs), where and why the
//     walk stopped, the checkpoint (CheckpointArea) and its open
//     attribute, dirty page and transaction tables.
//     lf.TransactionsInLog() groups the records by transaction.
//   - AnalyzeJournal(r, size, canRedo) *JournalAnalysis: what `unbrick
//     ntfs journal` shows, with the operations a replayer (canRedo)
//     cannot redo.
//   - RestartInfo.CleanPage: a restart page rewritten as a clean version
//     1.1 journal (what a replay writes last).
//
// # Memory
//
// ReadLogFile keeps every log page it reads, from the oldest LSN the
// restart area needs to the end of the log (records are slices of those
// pages; a record spanning pages gets its own copy), and one LogRecord per
// record: memory of the order of the journal's size. The journal's size
// is therefore bounded: a restart area giving a size above MaxLogFileSize
// (256 MiB, four times the 64 MiB Windows gives $LogFile by default) is
// refused with *TooLargeError, naming the size, the limit and what to do
// (let Windows replay it), before any log page is read. AnalyzeLogFile
// reads the restart pages only.
//
// Damage is reported as *RestartPageError (a restart page) or
// *LogRecordError (a record), never by a panic; the walk of a damaged log
// stops and says where (LogFile.Stop, Damaged).
//
// # Format
//
// The journal starts with two restart pages ("RSTR", at 0 and at the
// system page size), then the tail pages (2 for version 1.x, 32 for 2.x),
// then the circular area of log record pages ("RCRD"). Every page is
// multi-sector protected like an MFT record (ntfs/internal/mst). An LSN
// is a byte offset in $LogFile divided by 8 in its low (64 - SeqBits)
// bits and a wrap count above. The byte layouts of the restart page, the
// log record page and the log record are in the comments of logfile.go,
// lfs.go and lfs_record.go, and their sizes in the exported constants
// (RestartHeaderSize, ClientRecordSize, PageHeaderSize, RecordHeaderSize,
// NTFSClientHeaderSize).
//
// Sources, read for facts only (no code copied): ntfs-3g
// include/ntfs-3g/logfile.h (RESTART_PAGE_HEADER, RESTART_AREA,
// LOG_CLIENT_RECORD, RECORD_PAGE_HEADER, LOG_RECORD) and
// ntfsprogs/ntfsrecover.c; Linux fs/ntfs3/fslog.c; the libfsntfs format
// document ("Metadata file $LogFile").
package logfile
