#!/usr/bin/env bash
# ci-scale.sh - unbrick fix over many VM disks, as a datacenter runs it.
#   1. N qcow2 overlays (qemu-img create -b base -F raw; default N=1000,
#      UNBRICK_SCALE_N) over one BitLocker corpus disk, fixed by one
#      `fix --parallel 2 --targets-from` run: a remediated record for every
#      one; peak RSS and wall time printed; a sample converted back to raw by
#      qemu-img passes ../shared/corpus/verify --expect fixed.
#   1b. 100 disk images of mixed formats (raw, fixed VHD, flat VMDK, qcow2,
#      VHDX) and variants (BitLocker, plain) in one run, a sample verified.
#   2. A run with injected failures (missing, cut-short and wrong-key
#      targets) in its canary wave stops at --max-failures: the rest are
#      listed as not started, have no record, and are byte-identical.
#   3. Two `fix` processes on the same 20 disks at once: each volume is
#      remediated exactly once over both; the other run says busy or
#      already-clean; verify passes on all 20.
# Needs root, FUSE and loop devices (as verify does), qemu-utils and GNU
# time. Run from the repository.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
CORPUS=${UNBRICK_CORPUS:-../shared/corpus}
N=${UNBRICK_SCALE_N:-1000}
t0=$(date +%s)
skip() {
  if [ "${CI:-}" = true ]; then echo "ci-scale: FAIL (CI=true): $*" >&2; exit 1; fi
  echo "ci-scale: SKIP: $*" >&2; exit 0
}
[ -f "$CORPUS/manifest.json" ] || skip "corpus not found at $CORPUS"
[ "$(id -u)" = 0 ] || skip "needs root (verify uses FUSE and loop devices)"
for t in qemu-img qemu-nbd /usr/bin/time; do command -v "$t" >/dev/null || skip "missing $t (Debian packages qemu-utils, time)"; done
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
BIN=$WORK/unbrick
go build -o "$BIN" ./cmd/unbrick
fail() { echo "ci-scale: FAIL $*" >&2; exit 1; }
sha() { sha256sum < "$1" | cut -d' ' -f1; }
secret() {
  python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(next(v for v in m["variants"] if v["name"]==sys.argv[2])["os_volume"]["unlock"]["secret"])' "$CORPUS/manifest.json" "$1"
}
RP=$(secret win10-xts128-recoverypw)
export UNBRICK_RECOVERY_PASSWORD=$RP

# 1. N overlays, one run
vms=$WORK/vms
mkdir -p "$vms"
gunzip -c "$CORPUS/disks/win10-xts128-recoverypw.img.gz" > "$vms/base.raw"
tc=$(date +%s)
for i in $(seq -w 1 "$N"); do
  qemu-img create -q -f qcow2 -b base.raw -F raw "$vms/vm$i.qcow2"
  echo "$vms/vm$i.qcow2"
done > "$WORK/list"
echo "ci-scale: $N qcow2 overlays made in $(( $(date +%s) - tc )) s"
b0=$(sha "$vms/base.raw")
ts=$(date +%s.%N)
/usr/bin/time -f '%e %M' -o "$WORK/time" "$BIN" fix --parallel 2 --targets-from "$WORK/list" --log "$WORK/logs" --json \
  > "$WORK/out" 2> "$WORK/err" || { tail -20 "$WORK/err"; fail "fix over $N overlays: exit $?"; }
read -r wall rss < "$WORK/time"
got=$(grep -c '"status":"remediated"' "$WORK/logs/unbrick.jsonl" || true)
[ "$got" = "$N" ] || { tail -20 "$WORK/err"; fail "$got remediated records for $N overlays"; }
[ "$(sha "$vms/base.raw")" = "$b0" ] || fail "the base image was written"
rate=$(python3 -c "print(round($N / $wall * 60))")
echo "ci-scale: $N overlays fixed with --parallel 2 in ${wall} s ($rate disks/min), peak RSS $((rss / 1024)) MiB"
for i in $(printf '%0*d' ${#N} 1) $(printf '%0*d' ${#N} $(( N / 2 ))) $(printf '%0*d' ${#N} "$N"); do
  qemu-img convert -O raw "$vms/vm$i.qcow2" "$WORK/sample.raw"
  "$CORPUS/verify" "$WORK/sample.raw" win10-xts128-recoverypw --expect fixed > "$WORK/verify" 2>&1 || { cat "$WORK/verify"; fail "vm$i: verify --expect fixed"; }
done
rm -f "$WORK/sample.raw"
echo "ci-scale: 3 sample overlays (first, middle, last) verify PASS after qemu-img convert"
rm -rf "$vms" "$WORK/logs"

# 1b. 100 disk images of mixed variants and formats in one run: raw copies
# of a BitLocker and a plain disk, fixed VHDs and flat VMDKs (fixed in
# place), qcow2 and VHDX files (through qemu-nbd); one of each format and
# variant converted back to raw and verified.
mix=$WORK/mix
mkdir -p "$mix"
for v in win10-xts128-recoverypw win10-plain-ntfs; do gunzip -c "$CORPUS/disks/$v.img.gz" > "$mix/$v.src"; done
: > "$mix/list"
k=0
for fmt in raw:raw:img vpc:subformat=fixed,force_size=on:vhd vmdk:subformat=monolithicFlat:vmdk qcow2:compat=1.1:qcow2 vhdx:subformat=dynamic:vhdx; do
  IFS=: read -r q opts ext <<< "$fmt"
  for i in $(seq -w 1 20); do
    v=win10-plain-ntfs; [ $((10#$i % 2)) = 1 ] && v=win10-xts128-recoverypw
    f=$mix/$q-$i.$ext
    if [ "$q" = raw ]; then cp --sparse=always "$mix/$v.src" "$f"; else qemu-img convert -f raw -O "$q" -o "$opts" "$mix/$v.src" "$f"; fi
    echo "$f" >> "$mix/list"; k=$((k + 1))
  done
done
/usr/bin/time -f '%e %M' -o "$WORK/time" "$BIN" fix --parallel 2 --targets-from "$mix/list" --log "$mix/logs" --json > "$mix/out" 2> "$mix/err" ||
  { tail -20 "$mix/err"; fail "fix over $k mixed images: exit $?"; }
read -r wall rss < "$WORK/time"
got=$(grep -c '"status":"remediated"' "$mix/logs/unbrick.jsonl" || true)
[ "$got" = "$k" ] || { tail -20 "$mix/err"; fail "$got remediated records for $k mixed images"; }
for s in raw:01:img vpc:02:vhd vmdk:03:vmdk qcow2:04:qcow2 vhdx:05:vhdx; do
  IFS=: read -r q i ext <<< "$s"
  v=win10-plain-ntfs; [ $((10#$i % 2)) = 1 ] && v=win10-xts128-recoverypw
  qemu-img convert -f "$q" -O raw "$mix/$q-$i.$ext" "$mix/sample.raw"
  "$CORPUS/verify" "$mix/sample.raw" "$v" --expect fixed > "$mix/verify" 2>&1 || { cat "$mix/verify"; fail "$q-$i.$ext: verify --expect fixed"; }
done
echo "ci-scale: $k mixed images (20 each raw, fixed VHD, flat VMDK, qcow2, VHDX; BitLocker and plain) fixed in one run in ${wall} s, peak RSS $((rss / 1024)) MiB; one of each format verify PASS"
rm -rf "$mix"

# 2. injected failures in the canary wave stop the run
inj=$WORK/inj
mkdir -p "$inj"
gunzip -c "$CORPUS/disks/win10-xts128-recoverypw.img.gz" > "$inj/base.raw"
gunzip -c "$CORPUS/disks/win10-xts128-bek-startupkey.img.gz" > "$inj/otherkey.img" # a startup key only: locked with the recovery password
cp --sparse=always "$inj/base.raw" "$inj/cut.img"
truncate -s 80M "$inj/cut.img" # cut inside the OS volume (50-113 MiB): failed or refused
{
  echo "$inj/missing-1.img"
  echo "$inj/cut.img"
  echo "$inj/otherkey.img"
  echo "$inj/missing-2.img"
  for i in 1 2 3 4 5 6; do qemu-img create -q -f qcow2 -b base.raw -F raw "$inj/ok$i.qcow2"; echo "$inj/ok$i.qcow2"; done
} > "$inj/list"
declare -A before
for f in "$inj"/ok*.qcow2 "$inj/cut.img" "$inj/otherkey.img"; do before[$f]=$(sha "$f"); done
set +e
"$BIN" fix --wave-size 4 --max-failures 2 --targets-from "$inj/list" --log "$inj/logs" > "$inj/out" 2>&1
rc=$?
set -e
[ $rc = 1 ] || { cat "$inj/out"; fail "injected failures: exit $rc, want 1"; }
grep -q 'not started (run fix on them again):' "$inj/out" || { cat "$inj/out"; fail "injected failures: no not-started list"; }
for i in 1 2 3 4 5 6; do
  grep -q "$inj/ok$i.qcow2" <(grep 'not started (run fix on them again):' "$inj/out") || { cat "$inj/out"; fail "ok$i.qcow2 is not listed as not started"; }
  [ "$(sha "$inj/ok$i.qcow2")" = "${before[$inj/ok$i.qcow2]}" ] || fail "ok$i.qcow2 was written though not started"
  if grep -q "ok$i.qcow2" "$inj/logs/unbrick.jsonl" 2>/dev/null; then fail "ok$i.qcow2 has a record though not started"; fi
done
for f in cut.img otherkey.img; do [ "$(sha "$inj/$f")" = "${before[$inj/$f]}" ] || fail "$f was written"; done
grep -q 'status:        locked' "$inj/out" || { cat "$inj/out"; fail "injected failures: the wrong-key disk is not locked"; }
echo "ci-scale: canary wave of 4 with 3 failures (2 missing, 1 cut short; the wrong-key disk locked, not counted) passed --max-failures 2: 6 disks not started, listed, unchanged, unrecorded"
rm -rf "$inj"

# 3. two runs at once on the same 20 disks
two=$WORK/two
mkdir -p "$two"
gunzip -c "$CORPUS/disks/win10-plain-ntfs.img.gz" > "$two/base.raw"
for i in $(seq -w 1 20); do qemu-img create -q -f qcow2 -b base.raw -F raw "$two/d$i.qcow2"; echo "$two/d$i.qcow2"; done > "$two/list"
tac "$two/list" > "$two/list.rev"
"$BIN" fix --parallel 2 --targets-from "$two/list" --log "$two/logA" --json > "$two/A" 2>&1 & pa=$!
"$BIN" fix --parallel 2 --targets-from "$two/list.rev" --log "$two/logB" --json > "$two/B" 2>&1 & pb=$!
set +e; wait $pa; ra=$?; wait $pb; rb=$?; set -e
python3 - "$two" <<'PY' || fail "two runs at once: see above"
import json, os, sys, collections
d = sys.argv[1]
rem = collections.Counter(); other = collections.Counter()
for run in "AB":
    p = os.path.join(d, "log" + run, "unbrick.jsonl")
    for line in (open(p) if os.path.exists(p) else []):
        r = json.loads(line)
        if r["status"] == "remediated":
            rem[r["target"]] += 1
        elif r["status"] == "already-clean":
            other[r["target"]] += 1
    for line in open(os.path.join(d, run)):
        if ": busy:" in line:
            other[line.split(":")[1].strip()] += 1
disks = [l.strip() for l in open(os.path.join(d, "list"))]
bad = [t for t in disks if rem[t] != 1 or other[t] != 1]
if bad:
    print("ci-scale: want each disk remediated by one run and busy or already-clean in the other:",
          {t: (rem[t], other[t]) for t in bad})
    sys.exit(1)
print("ci-scale: two runs at once on 20 disks: each remediated exactly once, the other run said busy or already-clean")
PY
[ $ra -le 4 ] && [ $rb -le 4 ] || fail "two runs at once: exits $ra $rb"
for i in $(seq -w 1 20); do
  qemu-img convert -O raw "$two/d$i.qcow2" "$two/raw"
  "$CORPUS/verify" "$two/raw" win10-plain-ntfs --expect fixed > "$two/verify" 2>&1 || { cat "$two/verify"; fail "d$i: verify --expect fixed"; }
done
echo "ci-scale: verify PASS on all 20"
echo "ci-scale: PASS ($(( $(date +%s) - t0 )) s)"
