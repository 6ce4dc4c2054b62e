#!/usr/bin/env bash
# ci-vmformats.sh - `unbrick fix` on VM disk files and NBD exports, judged
# by tools we did not write. For a BitLocker and a plain corpus disk,
# qemu-img (qemu-utils) makes a fixed VHD, a monolithicFlat VMDK and a
# twoGbMaxExtentFlat VMDK (fixed in place by unbrick itself) and a qcow2, a
# VHDX, a dynamic VHD and a monolithicSparse VMDK (fixed through qemu-nbd,
# which unbrick starts and stops); then:
#   - the VHD footer / VMDK descriptor is byte-identical (the first three),
#   - qemu-img converts the result back to raw and ../shared/corpus/verify
#     --expect fixed passes on it,
#   - a second fix says already-clean,
#   - undo --journal gives back a disk whose raw conversion is
#     sha256-identical to the corpus disk.
# Without qemu-nbd on PATH a qcow2 is refused (exit 1) with what to install
# and the qemu-img command to run, unchanged. The raw base of a qcow2
# overlay is refused (exit 4) naming the overlay. An export of qemu-nbd on a
# Unix socket and one on loopback TCP, named by NBD URIs, are fixed and
# verified after. Last, one `fix --parallel 2 --targets-from LIST` over
# fresh copies of all the files: a remediated record for each.
# Needs root, FUSE and loop devices (as verify does). Run from the repository.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
CORPUS=${UNBRICK_CORPUS:-../shared/corpus}
t0=$(date +%s)
skip() {
  if [ "${CI:-}" = true ]; then echo "ci-vmformats: FAIL (CI=true): $*" >&2; exit 1; fi
  echo "ci-vmformats: SKIP: $*" >&2; exit 0
}
[ -f "$CORPUS/manifest.json" ] || skip "corpus not found at $CORPUS"
[ "$(id -u)" = 0 ] || skip "needs root (verify uses FUSE and loop devices)"
command -v qemu-img >/dev/null || skip "qemu-img missing (Debian package qemu-utils; scripts/install-test-deps.sh)"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
BIN=$WORK/unbrick
go build -o "$BIN" ./cmd/unbrick
fail() { echo "ci-vmformats: FAIL $*" >&2; exit 1; }
sha() { sha256sum < "$1" | cut -d' ' -f1; }

# meta FILE LABEL: the container's own metadata (fixed VHD footer; flat
# VMDK descriptor), which unbrick must never write; formats served by
# qemu-nbd have metadata qemu-nbd maintains ("-": not compared)
meta() {
  case $2 in
    vhd-fixed) tail -c 512 "$1" | sha256sum | cut -d' ' -f1 ;;
    vmdk-*Flat) sha "$1" ;;
    *) echo - ;;
  esac
}

declare -A KEYS=([win10-xts128-recoverypw]=recovery_password [win10-plain-ntfs]=none)
keyargs() {
  python3 - "$CORPUS/manifest.json" "$1" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
v = next(v for v in m["variants"] if v["name"] == sys.argv[2])
u = v["os_volume"]["unlock"]
if u["method"] == "recovery_password":
    print("--recovery-password\n" + u["secret"])
PY
}

formats=("vhd-fixed vpc subformat=fixed,force_size=on d.vhd"
         "vmdk-monolithicFlat vmdk subformat=monolithicFlat m.vmdk"
         "vmdk-twoGbMaxExtentFlat vmdk subformat=twoGbMaxExtentFlat t.vmdk"
         "qcow2 qcow2 compat=1.1 q.qcow2"
         "vhdx vhdx subformat=dynamic x.vhdx"
         "vhd-dynamic vpc subformat=dynamic,force_size=on y.vhd"
         "vmdk-monolithicSparse vmdk subformat=monolithicSparse s.vmdk")
n=0
list=$WORK/targets.txt
echo "# fresh copies for the --targets-from run" > "$list"
for name in "${!KEYS[@]}"; do
  mapfile -t ka < <(keyargs "$name")
  want=$(python3 -c "import json,sys; print(next(v['sha256'] for v in json.load(open(sys.argv[1]))['variants'] if v['name']==sys.argv[2]))" "$CORPUS/manifest.json" "$name")
  raw=$WORK/$name.raw
  gunzip -c "$CORPUS/disks/$name.img.gz" > "$raw"
  for f in "${formats[@]}"; do
    read -r label qfmt opts file <<< "$f"
    # Every format on the plain disk; on the BitLocker disk one of each
    # kind (in place: VHD, VMDK; through qemu-nbd: qcow2, VHDX), to keep
    # the script's time in bounds (verify mounts with dislocker and ntfs-3g).
    if [ "$name" = win10-xts128-recoverypw ]; then
      case $label in vhd-fixed|vmdk-monolithicFlat|qcow2|vhdx) ;; *) continue ;; esac
    fi
    d=$WORK/$name-$label
    mkdir -p "$d"
    img=$d/$file
    qemu-img convert -f raw -O "$qfmt" -o "$opts" "$raw" "$img"
    m0=$(meta "$img" "$label")
    out=$d/out
    "$BIN" scan "${ka[@]}" "$img" > "$out.scan" 2>&1 || { cat "$out.scan"; fail "$name $label: scan exit $?"; }
    grep -q 'C-00000291' "$out.scan" || { cat "$out.scan"; fail "$name $label: scan lists no 291 file"; }
    "$BIN" fix "${ka[@]}" --log "$d/logs" "$img" > "$out.fix" 2>&1 || { cat "$out.fix"; fail "$name $label: fix exit $?"; }
    grep -q 'status:        remediated' "$out.fix" || { cat "$out.fix"; fail "$name $label: not remediated"; }
    [ "$(meta "$img" "$label")" = "$m0" ] || fail "$name $label: the container's metadata changed"
    qemu-img convert -f "$qfmt" -O raw "$img" "$d/back.raw"
    "$CORPUS/verify" "$d/back.raw" "$name" --expect fixed > "$out.verify" 2>&1 || { cat "$out.verify"; fail "$name $label: verify --expect fixed"; }
    "$BIN" fix "${ka[@]}" --log "$d/logs" "$img" > "$out.fix2" 2>&1 || fail "$name $label: second fix exit $?"
    grep -q 'status:        already-clean' "$out.fix2" || { cat "$out.fix2"; fail "$name $label: second fix not already-clean"; }
    j=$(grep -o 'undo journal:  .*' "$out.fix" | head -1 | sed 's/undo journal:  //')
    "$BIN" undo --journal "$j" "$img" > "$out.undo" 2>&1 || { cat "$out.undo"; fail "$name $label: undo exit $?"; }
    qemu-img convert -f "$qfmt" -O raw "$img" "$d/undone.raw"
    [ "$(sha "$d/undone.raw")" = "$want" ] || fail "$name $label: undo did not give back the corpus disk"
    echo "ci-vmformats: $name $label: remediated, metadata unchanged, verify PASS (qemu-img raw), already-clean, undo identical"
    rm -f "$d/back.raw" "$d/undone.raw"
    # a fresh copy for the batch run
    mkdir -p "$d/batch"
    qemu-img convert -f raw -O "$qfmt" -o "$opts" "$raw" "$d/batch/$file"
    echo "$d/batch/$file" >> "$list"
    n=$((n+1))
  done
  # without qemu-nbd: a qcow2 is refused by name, with what to do, unchanged, recorded
  if [ "$name" = win10-plain-ntfs ]; then
  q=$WORK/$name.qcow2
  qemu-img convert -f raw -O qcow2 "$raw" "$q"
  s0=$(sha "$q")
  nobin=$WORK/nobin
  mkdir -p "$nobin"
  set +e
  PATH=$nobin "$BIN" fix "${ka[@]}" --log "$WORK/logs-q" "$q" > "$WORK/q.out" 2>&1
  rc=$?
  set -e
  [ $rc = 1 ] || { cat "$WORK/q.out"; fail "$name qcow2 without qemu-nbd: exit $rc, want 1"; }
  grep -q 'qcow2 image' "$WORK/q.out" && grep -q 'qemu-utils' "$WORK/q.out" && grep -q 'qemu-img convert' "$WORK/q.out" ||
    { cat "$WORK/q.out"; fail "$name qcow2 without qemu-nbd: no format name, package or conversion hint"; }
  [ "$(sha "$q")" = "$s0" ] || fail "$name qcow2 without qemu-nbd: the file changed"
  grep -q '"status":"failed"' "$WORK/logs-q/unbrick.jsonl" || fail "$name qcow2 without qemu-nbd: no failed record"
  echo "ci-vmformats: $name qcow2 without qemu-nbd: refused with what to install and the conversion, unchanged, recorded"
  rm -f "$q"
  fi

  # the base of an overlay: refused, naming the overlay (BitLocker disk)
  if [ "$name" = win10-xts128-recoverypw ]; then
  cdir=$WORK/chain-$name
  mkdir -p "$cdir"
  cp --sparse=always "$raw" "$cdir/base.raw"
  qemu-img create -q -f qcow2 -b base.raw -F raw "$cdir/vm.qcow2"
  b0=$(sha "$cdir/base.raw")
  set +e
  "$BIN" fix "${ka[@]}" --log "$cdir/logs" "$cdir/base.raw" > "$cdir/out" 2>&1
  rc=$?
  set -e
  [ $rc = 4 ] && grep -q "vm.qcow2" "$cdir/out" || { cat "$cdir/out"; fail "$name: base of an overlay: exit $rc, want 4 naming vm.qcow2"; }
  [ "$(sha "$cdir/base.raw")" = "$b0" ] || fail "$name: the base of an overlay was written"
  "$BIN" fix "${ka[@]}" --log "$cdir/logs" "$cdir/vm.qcow2" > "$cdir/out2" 2>&1 || { cat "$cdir/out2"; fail "$name: overlay fix exit $?"; }
  [ "$(sha "$cdir/base.raw")" = "$b0" ] || fail "$name: fixing the overlay wrote its base"
  qemu-img convert -O raw "$cdir/vm.qcow2" "$cdir/back.raw"
  "$CORPUS/verify" "$cdir/back.raw" "$name" --expect fixed > "$cdir/verify" 2>&1 || { cat "$cdir/verify"; fail "$name overlay: verify --expect fixed"; }
  echo "ci-vmformats: $name: base of an overlay refused naming it; the overlay fixed, base untouched, verify PASS"
  rm -rf "$cdir"
  fi

  # NBD exports: qemu-nbd on a Unix socket and on loopback TCP, named by URIs
  kinds=tcp
  [ "$name" = win10-xts128-recoverypw ] && kinds=unix
  for kind in $kinds; do
    e=$WORK/nbd-$name-$kind.raw
    cp --sparse=always "$raw" "$e"
    if [ $kind = unix ]; then
      qemu-nbd --socket="$WORK/nbd.sock" --format=raw --export-name=vm1 --persistent "$e" & qpid=$!
      uri="nbd+unix:///vm1?socket=$WORK/nbd.sock"
    else
      port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
      qemu-nbd --bind=127.0.0.1 --port="$port" --format=raw --export-name=vm1 --persistent "$e" & qpid=$!
      uri="nbd://127.0.0.1:$port/vm1"
    fi
    for i in $(seq 100); do "$BIN" scan "${ka[@]}" "$uri" > "$WORK/nbd.scan" 2>&1 && break; sleep 0.1; done
    grep -q 'C-00000291' "$WORK/nbd.scan" || { cat "$WORK/nbd.scan"; fail "$name nbd $kind: scan"; }
    "$BIN" fix "${ka[@]}" --log "$WORK/nbd-logs" "$uri" > "$WORK/nbd.fix" 2>&1 || { cat "$WORK/nbd.fix"; fail "$name nbd $kind: fix exit $?"; }
    grep -q 'status:        remediated' "$WORK/nbd.fix" || { cat "$WORK/nbd.fix"; fail "$name nbd $kind: not remediated"; }
    kill $qpid; wait $qpid 2>/dev/null || true
    "$CORPUS/verify" "$e" "$name" --expect fixed > "$WORK/nbd.verify" 2>&1 || { cat "$WORK/nbd.verify"; fail "$name nbd $kind: verify --expect fixed"; }
    echo "ci-vmformats: $name NBD export over $kind ($uri): remediated, verify PASS on the export"
    rm -f "$e"
  done
  rm -f "$raw"
done
# the batch: every container from one list, two at a time
mapfile -t rp < <(keyargs win10-xts128-recoverypw)
"$BIN" fix "${rp[@]}" --parallel 2 --targets-from "$list" --log "$WORK/batch-logs" --json > "$WORK/batch.out" 2>&1 ||
  { cat "$WORK/batch.out"; fail "batch: fix --targets-from exit $?"; }
got=$(grep -c '"status":"remediated"' "$WORK/batch-logs/unbrick.jsonl" || true)
[ "$got" = "$n" ] || { cat "$WORK/batch.out"; fail "batch: $got remediated records, want $n"; }
echo "ci-vmformats: batch: fix --parallel 2 --targets-from: $got of $n remediated"
# Ctrl-C in a batch: the volume in flight finishes, no new target starts,
# the rest are listed as not started; a second run fixes exactly those.
ib=$WORK/interrupt
mkdir -p "$ib"
gunzip -c "$CORPUS/disks/win10-xts128-recoverypw.img.gz" > "$ib/base.raw"
: > "$ib/list"
for i in 1 2 3 4 5 6 7 8; do cp --sparse=always "$ib/base.raw" "$ib/d$i.img"; echo "$ib/d$i.img" >> "$ib/list"; done
rm -f "$ib/base.raw"
"$BIN" fix "${rp[@]}" --targets-from "$ib/list" --log "$ib/logs" > "$ib/out1" 2>&1 & fpid=$!
for i in $(seq 600); do
  [ -s "$ib/logs/unbrick.jsonl" ] && break
  sleep 0.05
done
kill -INT $fpid
set +e; wait $fpid; rc=$?; set -e
n1=$(grep -c '"status":"remediated"' "$ib/logs/unbrick.jsonl" || true)
[ "$rc" = 4 ] || { cat "$ib/out1"; fail "interrupted batch: exit $rc, want 4 (not-started targets)"; }
grep -q 'not started (run fix on them again)' "$ib/out1" || { cat "$ib/out1"; fail "interrupted batch: no not-started list"; }
[ "$n1" -ge 1 ] && [ "$n1" -lt 8 ] || { cat "$ib/out1"; fail "interrupted batch: $n1 remediated, want 1..7"; }
"$BIN" fix "${rp[@]}" --targets-from "$ib/list" --log "$ib/logs" --json > "$ib/out2" 2>&1 || { cat "$ib/out2"; fail "after the interrupted batch: fix exit $?"; }
n2=$(grep -c '"status":"remediated"' "$ib/out2" || true)
nc=$(grep -c '"status":"already-clean"' "$ib/out2" || true)
if grep -q '"finished_run"' "$ib/out2"; then fail "after the interrupted batch: a volume was left half-fixed (finished_run)"; fi
[ $((n1 + n2)) = 8 ] && [ "$nc" = "$n1" ] || { cat "$ib/out2"; fail "after the interrupted batch: $n1 + $n2 remediated, $nc already clean; want 8 and $n1"; }
echo "ci-vmformats: Ctrl-C in a batch of 8: $n1 finished, the rest not started; the next run fixed $n2, found $nc already clean, none half-done"
rm -rf "$ib"
# no recovery password in any output, log or journal
secret=${rp[1]:-}
if [ -n "$secret" ] && grep -rlF --exclude='*.vhd' --exclude='*.vmdk' --exclude='*.raw' --exclude='*.qcow2' --exclude=unbrick -- "$secret" "$WORK"; then
  fail "the recovery password appears in the files above"
fi
echo "ci-vmformats: PASS ($n containers, $(( $(date +%s) - t0 )) s)"
