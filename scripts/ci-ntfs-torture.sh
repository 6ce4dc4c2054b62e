#!/usr/bin/env bash
# NTFS-DELETE: the long torture run (many deletes in the 3-level System32
# index, ntfs-check and an ntfs-3g stat-everything mount after each, then
# ntfs-3g creates, deletes and fills the volume on the result), plus the
# power-cut, differential and policy tests and a short fuzz of the parsers
# the write side adds. Needs root, FUSE, ntfs-3g, python3 and the corpus.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CI=${CI:-true}
UNBRICK_TORTURE=long go test -count=1 -timeout 60m -run 'TestDeleteTortureSystem32' ./ntfs/edit
UNBRICK_TORTURE=long go test -count=1 -timeout 30m -run 'TestDeletePowerCut|TestDeleteDifferentialNTFS3g|TestDeleteObjectID|TestDeleteClusterSizes|TestDeleteMirror|TestJournalPolicies|TestHibernationPolicies|TestDeleteRefusals' ./ntfs/edit
# Fuzz budgets are execution counts, not durations: go1.26's fuzz coordinator
# can report a spurious 'context deadline exceeded' at the end of a timed
# -fuzztime (golang/go#75804, fixed in go1.27).
go test -run XXX -fuzz FuzzRestartPage -fuzztime 600000x -parallel 1 ./ntfs/logfile
go test -run XXX -fuzz FuzzIndexEdit -fuzztime 600000x -parallel 1 ./ntfs/edit
go test -run XXX -bench BenchmarkDeleteVolumeSize -benchtime 50x ./ntfs/edit
