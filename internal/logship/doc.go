// Package logship sends fleet log records to the log systems a datacenter
// already runs, besides the local files: JSON Lines over HTTP(S) POST, and
// syslog over TCP or TLS.
//
// # What is sent
//
// Every line of the fleet log directory's unbrick.jsonl (package fleetlog)
// is one record. Records are scrubbed of anything shaped like a recovery
// password when they are written, and scrubbed again here before they
// leave the machine; a record has no field for a password or key. Each
// record carries record_id (fleetlog.RecordID), which stays the same when
// a record is sent again, so a receiver can keep each record once.
//
// HTTP: a batch is one POST of up to MaxBatch records, the body JSON Lines
// (one record per line, each ending in "\n"), Content-Type
// application/x-ndjson, with headers X-Unbrick-Records (the count) and
// Idempotency-Key (derived from the batch's record IDs; a batch sent again
// has the same key). Any 2xx answer delivers the batch. 408, 425, 429 and
// 5xx answers and network errors are retried with backoff; 413 halves the
// batch; any other answer (401, 403, 404, ...) stops sending to that sink
// for the run and says why, the records staying in the spool. userinfo in
// the URL is sent as HTTP basic authentication and never printed.
//
// Syslog: each record is one RFC 5424 message (RFC 5424 section 6):
//
//	<PRI>1 TIMESTAMP HOSTNAME unbrick PROCID record [unbrick@32473 id="…" run="…" status="…" computer="…" target="…"] BOM{record JSON}
//
// PRI is facility local0 (16) times 8 plus a severity from the status:
// error (3) for failed; warning (4) for refused, locked, needs-review,
// unrecognized and no-windows; notice (5) for the others. TIMESTAMP is the
// record's time in UTC with microseconds, HOSTNAME the machine unbrick runs
// on ("-" when it has no usable name), PROCID the process ID. The
// structured-data ID uses 32473, the private enterprise number RFC 5612
// reserves for documentation; SD-PARAM values escape '"', '\' and ']' with
// a backslash (RFC 5424 section 6.3.3). The message is the record's JSON,
// UTF-8 after a byte order mark (RFC 5424 section 6.4). Messages are framed
// by octet counting, "LENGTH SP MESSAGE" (RFC 6587 section 3.4.1), which
// RFC 5425 mandates over TLS: tcp://host[:port] (default port 514) or
// tls://host[:port] (default 6514). Records can be longer than the 8 KiB
// many receivers accept by default (rsyslog's maxMessageSize): raise it
// to 64 KiB.
//
// Plain TCP syslog has no acknowledgement. A batch is written on a fresh
// connection, then unbrick closes its side (TCP half-close, or a TLS
// close_notify) and waits for the receiver to close: rsyslog does that only
// after it has read everything before the close. A write error or a reset
// sends the batch again; a receiver that keeps the connection open for
// SyslogAckWait counts as having it.
//
// # Spool and exactly once
//
// The spool is the local unbrick.jsonl itself, read from a cursor per sink:
// DIR/ship/<sink key>.json holds the byte offset up to which every line
// was dealt with, the ID of the last record delivered and the offset where
// its line ends (damaged lines after it are skipped, not sent), and counts,
// rewritten (temporary
// file, fsync, rename, directory fsync: internal/durable's WriteFile, which
// on Windows renames with MoveFileExW's MOVEFILE_WRITE_THROUGH instead of a
// directory fsync) after each delivered batch. Records
// are therefore sent in the order they were logged, a delivered batch is
// never sent again by any later run, and a record whose sink was down stays
// after the cursor until a later run of fix, or `unbrick ship`, delivers it.
// A sink used for the first time on a directory gets every record already
// in it. One process at a time sends a directory's records to one sink
// (a lock on DIR/ship/<sink key>.lock: flock on Unix, LockFileEx on
// Windows, Microsoft Learn "LockFileEx function"); it sends what the other
// processes appended too. When the file no longer matches the cursor (it
// was cut short or replaced), the cursor's last record is looked for by its
// ID and sending resumes after it; when it cannot be found, everything is
// sent again (receivers drop repeats by record_id) and the Result says so.
// A line that is not a record (a torn write after a power cut) is skipped
// and counted.
//
// # Undo journals
//
// Hosts without a disk of their own (network boot) send their undo
// journals (package undo: before- and after-images as stored on the disk,
// ciphertext under BitLocker) to the HTTP receiver: one POST per journal
// to the same URL, the body the journal file as it is, Content-Type
// application/vnd.unbrick.undo-journal, with headers X-Unbrick-Journal
// (the file's base name: printable ASCII, no space, '/' or '\', not
// starting with '.'), X-Unbrick-SHA256 (the body's SHA-256 in hex), Digest
// ("sha-256=" and the same in base64, RFC 3230) and Idempotency-Key
// (derived from name and SHA-256). A receiver stores it under its name,
// after checking the SHA-256 (scripts/logship/receiver.py does). Any 2xx
// answer delivers it; 408, 425, 429, 5xx and network errors are retried
// with backoff until the time given runs out; other answers are not
// retried: 415 means the receiver does not take journals, 413 and 400
// refuse that one journal, anything else stops sending journals for the
// run. A certificate the trusted CAs do not vouch for is refused as for
// records. A journal is at most MaxJournalSize (256 MiB); a larger one
// stays on its disk, reported as not delivered. Syslog sinks do not take
// journals.
//
// Only files that start with the journal magic and a known format version
// are sent (12 bytes are read to tell); other files of the folder are
// skipped and reported. DIR/ship/<sink key>.journals.json records, per
// receiver, the name, size and SHA-256 of each journal it acknowledged,
// rewritten like the cursor after each one. A journal is sent again only
// when its content changed (a later undone or rolled-forward marker was
// appended), never twice otherwise, across runs too. The journals share
// the records' lock (DIR/ship/<sink key>.lock), taken for one journal at
// a time: two processes shipping to one receiver take turns.
package logship
