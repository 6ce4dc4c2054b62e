#!/usr/bin/env bash
# Quick start: fixes a temporary copy of the bundled demo disk
# (testdata/demo-disk.img.gz, see testdata/README.md) with `unbrick fix` and
# prints the fleet log record. Needs only Go and gzip.
# Usage: scripts/demo.sh [WORKDIR]   (default: a new temporary directory)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
work=${1:-$(mktemp -d "${TMPDIR:-/tmp}/unbrick-demo.XXXXXX")}
mkdir -p "$work"
gzip -dc testdata/demo-disk.img.gz >"$work/demo-disk.img"
echo "demo disk copied to $work/demo-disk.img"
echo "\$ unbrick fix --log $work/logs $work/demo-disk.img"
go run ./cmd/unbrick fix --technician demo --log "$work/logs" "$work/demo-disk.img"
echo
echo "fleet log: $work/logs/unbrick.jsonl; undo journal: $work/logs/journal/"
echo "run it again to see already-clean; undo with: go run ./cmd/unbrick undo --journal $work/logs/journal/<file> $work/demo-disk.img"
