#!/usr/bin/env bash
# JOURNAL: $LogFile parsing and replay. Differential replay against
# ntfs-3g's ntfsrecover on generated journals (real ntfslabel / ntfsfix /
# ntfs-3g-driver changes encoded as log records: committed, uncommitted,
# spanning pages, wrap-around, restart pages disagreeing, torn pages,
# version 2.0), refusals, fuzzed log pages on a real volume, and a short
# fuzz of the log parser. Needs ntfs-3g (mkntfs, ntfslabel, ntfsfix,
# ntfsrecover), the corpus ntfs-check and, for one change, FUSE.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CI=${CI:-true}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
if ! UNBRICK_JOURNAL_ORACLE=full go test -count=1 -v -run 'TestReplayOracleNtfsrecover|TestReplayFuzzedLogPages' ./ntfs >"$out" 2>&1; then
  cat "$out"; exit 1
fi
grep -E 'generated journals|corrupted journals|change .*: MFT records|^ok' "$out"
go test -count=1 -run 'TestReplay|TestLogFile|TestLSN|TestParseLogRecord|TestRestartTable' ./ntfs
go test -run XXX -fuzz FuzzReadLogFile -fuzztime 20s -parallel 1 ./ntfs
