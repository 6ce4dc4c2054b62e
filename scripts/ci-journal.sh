#!/usr/bin/env bash
# JOURNAL: $LogFile parsing and replay. Differential replay against
# ntfs-3g's ntfsrecover on generated journals: real ntfslabel / ntfsfix /
# ntfs-3g-driver changes (file create, delete, named stream add/remove,
# resident value grow/shrink/overwrite, non-resident extend/truncate,
# directory entry update, root directory create/delete/update; a directory
# index growing its first block, splitting a block, a three-level index
# whose leaves split, entries added/removed/updated inside index blocks,
# a new security descriptor in $Secure's $SDS, a named stream whose data an
# extension record maps, files created past the end of $MFT so that it
# grows) encoded as the log records
# Windows writes for them (MFT record, attribute, mapping pair, size,
# index root and index block operations, UpdateNonresidentValue through the
# open attribute table, WriteEndOfIndexBuffer, SetIndexEntryVcnRoot /
# Allocation, ZeroEndOfFileRecord; SetBits/ClearBits on $Bitmap and on a
# directory's non-resident $I30 $BITMAP, that shape built by hand from an
# ntfs-3g volume because ntfs-3g keeps it resident, then changed by the
# ntfs-3g driver), committed, uncommitted, spanning pages,
# wrap-around, restart pages disagreeing, torn pages, version 2.0;
# sha256-identical results, the corpus ntfs-check, ntfsls/ntfscat listings
# of the replayed volume; refusals; fuzzed log pages on a real volume;
# short fuzzing of the log parser, the MFT-record and index-block redo and
# undo and the open attribute table.
# Undo: every change above also as an uncommitted transaction that reached
# the disk (the after image, its records stamped with the log's LSNs),
# rolled back by us and by `ntfsrecover -u 1` (sha256-identical, or a
# difference confined to the next attribute instance of a record whose new
# attribute is rolled back, ntfs3's choice; where ntfsrecover -u itself
# fails, a WriteEndOfIndexBuffer of another length, ntfs-check and the
# ntfsls listing judge ours); the records must hold the before image. UpdateRecordDataRoot/Allocation (which
# ntfsrecover does not implement) are checked against ntfs-3g-made $Secure
# records.
# Needs ntfs-3g (mkntfs, ntfslabel, ntfsfix, ntfsrecover, ntfsls, ntfscat,
# the ntfs-3g FUSE driver) and the corpus ntfs-check.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CI=${CI:-true}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
if ! UNBRICK_JOURNAL_ORACLE=full go test -count=1 -v -run 'TestReplayOracle|TestReplayFuzzedLogPages|TestReplaySetNewAttributeSizesOrder|TestReplayMFTRefusals|TestReplayIndexBlockRefusals|TestReplayNonresidentValueRefusals|TestReplayIndexOpChecksOpenAttribute|TestReplayUpdateRecordDataRoot|TestReplayUndoRefusals' ./ntfs/replay >"$out" 2>&1; then
  cat "$out"; exit 1
fi
grep -E 'generated journals|corrupted journals|change .*: MFT records|^ok' "$out"
go test -count=1 -run 'TestReplay|TestRedo|TestLogFile|TestLSN|TestParseLogRecord|TestRestartTable|TestJournal' ./ntfs ./ntfs/edit ./ntfs/replay
go test -count=1 -run 'Journal' ./cmd/unbrick
# Fuzz budgets are execution counts, not durations: go1.26's fuzz coordinator
# can report a spurious 'context deadline exceeded' at the end of a timed
# -fuzztime (golang/go#75804, fixed in go1.27).
go test -run XXX -fuzz FuzzReadLogFile -fuzztime 200000x -parallel 1 ./ntfs/logfile
go test -run XXX -fuzz FuzzRedoMFTRecordOps -fuzztime 400000x -parallel 1 ./ntfs/replay
go test -run XXX -fuzz FuzzUndoMFTRecordOps -fuzztime 200000x -parallel 1 ./ntfs/replay
go test -run XXX -fuzz FuzzUndoIndexBlockOps -fuzztime 200000x -parallel 1 ./ntfs/replay
go test -run XXX -fuzz FuzzRedoIndexBlockOps -fuzztime 400000x -parallel 1 ./ntfs/replay
go test -run XXX -fuzz FuzzOpenAttrEntry -fuzztime 100000x -parallel 1 ./ntfs/replay
