#!/usr/bin/env bash
# Keeps README's Quick start true: runs scripts/demo.sh, checks that the demo
# disk was remediated, that an independent checker (ntfs-check from the
# shared corpus, sleuthkit) agrees, and that a second run says already-clean.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
out=$(bash scripts/demo.sh "$w")
echo "$out"
grep -q '"status":"remediated"' <<<"$out" || { echo "ci-demo: demo run did not remediate" >&2; exit 1; }
dd if="$w/demo-disk.img" of="$w/os.img" bs=512 skip=18432 count=49152 status=none
check=../shared/corpus/tools/ntfs-check
if [ -x "$check" ]; then "$check" "$w/os.img"; fi
if fls -r -p "$w/os.img" | grep -v '^-/r \*' | grep -q 'C-00000291-00000000-00000032.sys'; then
  echo "ci-demo: faulty file still listed by sleuthkit" >&2; exit 1
fi
fls -r -p "$w/os.img" | grep -q 'C-00000291-00000000-00000033.sys' || { echo "ci-demo: good file missing" >&2; exit 1; }
again=$(go run ./cmd/unbrick fix --log "$w/logs" "$w/demo-disk.img")
grep -q '"status":"already-clean"' <<<"$again" || { echo "ci-demo: second run is not already-clean" >&2; echo "$again" >&2; exit 1; }
# The demo's hints are true: the undo journal it names exists, and undo puts
# the faulty file back.
j=$(sed -n 's/^undo journal: //p' <<<"$out")
[ -f "$j" ] || { echo "ci-demo: the undo journal the demo names ($j) does not exist" >&2; exit 1; }
go run ./cmd/unbrick undo --journal "$j" --log "$w/logs" "$w/demo-disk.img" >/dev/null
go run ./cmd/unbrick ntfs ls "$w/demo-disk.img" Windows/System32/drivers/CrowdStrike | grep -q 'C-00000291-00000000-00000032.sys' ||
  { echo "ci-demo: undo with the demo's hint did not bring the file back" >&2; exit 1; }
echo "ci-demo: PASS"
