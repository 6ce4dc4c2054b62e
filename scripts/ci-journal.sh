#!/usr/bin/env bash
# JOURNAL: $LogFile parsing and replay. Differential replay against
# ntfs-3g's ntfsrecover on generated journals: real ntfslabel / ntfsfix /
# ntfs-3g-driver changes (file create, delete, named stream add/remove,
# resident value grow/shrink/overwrite, non-resident extend/truncate,
# directory entry update, root directory create/delete/update) encoded as the log records Windows writes for
# them, committed, uncommitted, spanning pages, wrap-around, restart pages
# disagreeing, torn pages, version 2.0; refusals; fuzzed log pages on a real
# volume; short fuzzing of the log parser and of the MFT-record redo.
# Needs ntfs-3g (mkntfs, ntfslabel, ntfsfix, ntfsrecover, the ntfs-3g FUSE
# driver) and the corpus ntfs-check.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CI=${CI:-true}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
if ! UNBRICK_JOURNAL_ORACLE=full go test -count=1 -v -run 'TestReplayOracle|TestReplayFuzzedLogPages|TestReplaySetNewAttributeSizesOrder|TestReplayMFTRefusals|TestReplayIndexBlockRefusals' ./ntfs >"$out" 2>&1; then
  cat "$out"; exit 1
fi
grep -E 'generated journals|corrupted journals|change .*: MFT records|^ok' "$out"
go test -count=1 -run 'TestReplay|TestLogFile|TestLSN|TestParseLogRecord|TestRestartTable|TestJournal' ./ntfs
go test -count=1 -run 'Journal' ./cmd/unbrick
# Fuzz budgets are execution counts, not durations: go1.26's fuzz coordinator
# can report a spurious 'context deadline exceeded' at the end of a timed
# -fuzztime (golang/go#75804, fixed in go1.27).
go test -run XXX -fuzz FuzzReadLogFile -fuzztime 200000x -parallel 1 ./ntfs
go test -run XXX -fuzz FuzzRedoMFTRecordOps -fuzztime 400000x -parallel 1 ./ntfs
go test -run XXX -fuzz FuzzRedoIndexBlockOps -fuzztime 400000x -parallel 1 ./ntfs
