#!/usr/bin/env bash
# Quick start: fixes a temporary copy of the bundled demo disk
# (testdata/demo-disk.img.gz, see testdata/README.md) with `unbrick fix`, and
# shows the evidence: the CrowdStrike folder before and after, the fleet log
# record, and what a second run says. Needs only Go and gzip.
# Usage: scripts/demo.sh [WORKDIR]   (default: a new temporary directory)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
work=${1:-$(mktemp -d "${TMPDIR:-/tmp}/unbrick-demo.XXXXXX")}
mkdir -p "$work"
bin=$work/unbrick
img=$work/demo-disk.img
folder=Windows/System32/drivers/CrowdStrike
go build -o "$bin" ./cmd/unbrick
gzip -dc testdata/demo-disk.img.gz >"$img"
say() { printf '\n== %s\n' "$*"; }
run() { printf '$ %s\n' "$*" | sed "s#$bin#unbrick#"; "$@"; }

say "the demo disk ($img): the CrowdStrike folder before the fix"
run "$bin" ntfs ls "$img" "$folder"

say "fix it (BitLocker keys would be given with --recovery-password or --keys)"
rc=0
run "$bin" fix --technician demo --log "$work/logs" "$img" || rc=$?
[ $rc = 0 ] || { echo "demo: unbrick fix exited $rc" >&2; exit $rc; }

say "the CrowdStrike folder after the fix: the 04:09 UTC C-00000291 file is gone, the 05:27 UTC one stays"
run "$bin" ntfs ls "$img" "$folder"

say "a second run finds nothing left to do"
run "$bin" fix --log "$work/logs" "$img" | grep -E 'status:' || true

journal=$(ls -t "$work"/logs/journal/*.journal | tail -1)
say "where things are"
echo "fleet log:    $work/logs/unbrick.jsonl (and unbrick.csv)"
echo "undo journal: $journal"
echo "put the disk back as it was: $bin undo --journal $journal --log $work/logs $img"
