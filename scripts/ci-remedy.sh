#!/usr/bin/env bash
# ci-remedy.sh - whole-corpus end-to-end check of `unbrick scan`, `fix` and
# `undo` against the independent verifier (../shared/corpus/verify: dislocker,
# ntfs-3g, sleuthkit, libfsntfs, tools/ntfs-check). For every corpus disk:
#   scan                  exit 0, names the host, lists the faulty file
#   fix --dry-run         image sha256 unchanged, no journal
#   fix                   verify --expect fixed PASS (dirty flag unchanged,
#                         $LogFile byte-identical, every other byte identical)
#   fix again             already-clean
#   undo --journal        image sha256 == manifest sha256
# and every output and log file is grepped for the secrets used.
# Needs root, FUSE, loop devices (as verify does). Run from the repository.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
CORPUS=${UNBRICK_CORPUS:-../shared/corpus}
[ -f "$CORPUS/manifest.json" ] || { echo "ci-remedy: corpus not found at $CORPUS" >&2; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
BIN=$WORK/unbrick
go build -o "$BIN" ./cmd/unbrick

fail() { echo "ci-remedy: FAIL $*" >&2; exit 1; }

# name|sha256|keyflag|secret, from the manifest (secret '-' = none)
python3 - "$CORPUS/manifest.json" > "$WORK/variants" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
for v in m["variants"]:
    if v.get("holdout"):
        continue
    u = v["os_volume"]["unlock"]
    flag, secret = "-", "-"
    if u["method"] == "recovery_password":
        flag, secret = "--recovery-password", u["secret"]
    elif u["method"] == "password":
        flag, secret = "--password", u["secret"]
    elif u["method"] == "bek":
        flag, secret = "--bek", u["bek_file"]
    print("|".join([v["name"], v["sha256"], flag, secret, str(len(v["expected_after_fix"]["gone"]))]))
PY

n=0
while IFS='|' read -r name sha flag secret ngone; do
  n=$((n+1))
  echo "=== $name"
  img=$WORK/$name.img
  gunzip -c "$CORPUS/disks/$name.img.gz" > "$img"
  keyargs=()
  secrets=()
  case $flag in
    -) ;;
    --bek) keyargs=(--bek "$CORPUS/$secret") ;;
    *) keyargs=("$flag" "$secret"); secrets+=("$secret") ;;
  esac
  logs=$WORK/logs-$name
  out=$WORK/out-$name
  mkdir -p "$out"

  "$BIN" scan "${keyargs[@]}" "$img" > "$out/scan" 2>&1 || fail "$name: scan exit $?"
  grep -q 'C-00000291' "$out/scan" || fail "$name: scan lists no 291 file"

  "$BIN" fix --dry-run "${keyargs[@]}" --log "$logs" "$img" > "$out/dry" 2>&1 || fail "$name: dry run exit $?"
  [ "$(sha256sum < "$img" | cut -d' ' -f1)" = "$sha" ] || fail "$name: --dry-run changed the image"

  "$BIN" fix "${keyargs[@]}" --log "$logs" --technician ci "$img" > "$out/fix" 2>&1 || { cat "$out/fix"; fail "$name: fix exit $?"; }
  if [ "$ngone" -gt 0 ]; then
    grep -q 'status:        remediated' "$out/fix" || { cat "$out/fix"; fail "$name: not remediated"; }
  else
    grep -q 'status:        already-clean' "$out/fix" || { cat "$out/fix"; fail "$name: good-only disk not already-clean"; }
    [ "$(sha256sum < "$img" | cut -d' ' -f1)" = "$sha" ] || fail "$name: good-only disk was written"
  fi
  "$CORPUS/verify" "$img" "$name" --expect fixed > "$out/verify" 2>&1 || { cat "$out/verify"; fail "$name: verify --expect fixed"; }
  tail -1 "$out/verify"

  "$BIN" fix "${keyargs[@]}" --log "$logs" "$img" > "$out/fix2" 2>&1 || fail "$name: second fix exit $?"
  grep -q 'status:        already-clean' "$out/fix2" || { cat "$out/fix2"; fail "$name: second fix not already-clean"; }

  if [ "$ngone" -gt 0 ]; then
    j=$(grep -o 'undo journal:  .*' "$out/fix" | head -1 | sed 's/undo journal:  //')
    [ -f "$j" ] || fail "$name: no journal"
    "$BIN" undo --journal "$j" "$img" > "$out/undo" 2>&1 || { cat "$out/undo"; fail "$name: undo exit $?"; }
    [ "$(sha256sum < "$img" | cut -d' ' -f1)" = "$sha" ] || fail "$name: undo is not sha256-identical"
  fi
  for s in "${secrets[@]}"; do
    if grep -rqF -- "$s" "$out" "$logs"; then fail "$name: a secret leaked into the output or logs"; fi
  done
  rm -f "$img"
done < "$WORK/variants"
[ "$n" -gt 0 ] || fail "no variants"
echo "ci-remedy: PASS ($n corpus disks)"
