#!/usr/bin/env bash
# bench-fleet.sh - how fast `unbrick fix` works through a fleet of disks,
# measured in one run on this machine:
#   - the key-stretch floor: one 2^20-round stretch (Go benchmark
#     BenchmarkStretchKey) gives the most BitLocker disks 2 cores can open
#     in a minute, 2 x 60 s / stretch (each disk costs one stretch);
#   - 100 BitLocker disk images (copies of a corpus disk), fix --parallel 2:
#     disks per minute and peak RSS; goal within 25 % of the floor;
#   - 100 plain NTFS disk images, fix --parallel 2: goal >= 2,000 per minute;
#   - N qcow2 overlays (default 100; BENCH_OVERLAYS) over the BitLocker
#     disk, through qemu-nbd.
# Not a test: it prints figures. usage: scripts/bench-fleet.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
CORPUS=${UNBRICK_CORPUS:-../shared/corpus}
NOV=${BENCH_OVERLAYS:-100}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
go build -o "$WORK/unbrick" ./cmd/unbrick
ns=$(go test -run '^$' -bench '^BenchmarkStretchKey$' -benchtime 10x ./bitlocker | awk '/BenchmarkStretchKey/ {print $3}')
floor=$(python3 -c "print(round(2 * 60e9 / $ns))")
echo "bench-fleet: one key stretch $(python3 -c "print(round($ns/1e6, 1))") ms: floor $floor BitLocker disks/min on 2 cores"
export UNBRICK_RECOVERY_PASSWORD=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(next(v for v in m["variants"] if v["name"]=="win10-xts128-recoverypw")["os_volume"]["unlock"]["secret"])' "$CORPUS/manifest.json")

run() { # name list
  /usr/bin/time -f '%e %M' -o "$WORK/time" "$WORK/unbrick" fix --parallel 2 --targets-from "$2" --log "$WORK/logs-$1" --json > "$WORK/out-$1" 2>/dev/null || true
  read -r wall rss < "$WORK/time"
  n=$(grep -c '"status":"remediated"' "$WORK/out-$1" || true)
  echo "$1 $n $wall $rss"
}
for kind in win10-xts128-recoverypw win10-plain-ntfs; do
  gunzip -c "$CORPUS/disks/$kind.img.gz" > "$WORK/$kind.raw"
  : > "$WORK/list-$kind"
  for i in $(seq -w 1 100); do cp --sparse=always "$WORK/$kind.raw" "$WORK/$kind-$i.img"; echo "$WORK/$kind-$i.img" >> "$WORK/list-$kind"; done
done
for i in $(seq -w 1 "$NOV"); do qemu-img create -q -f qcow2 -b win10-xts128-recoverypw.raw -F raw "$WORK/ov$i.qcow2"; echo "$WORK/ov$i.qcow2"; done > "$WORK/list-ov"
printf '%-34s %6s %8s %10s %12s\n' run remediated wall_s disks/min peak_RSS_MiB
for r in "bitlocker-raw:$WORK/list-win10-xts128-recoverypw" "plain-raw:$WORK/list-win10-plain-ntfs" "bitlocker-qcow2-overlays:$WORK/list-ov"; do
  read -r name n wall rss < <(run "${r%%:*}" "${r#*:}")
  printf '%-34s %6s %8s %10s %12s\n' "$name" "$n" "$wall" "$(python3 -c "print(round($n / $wall * 60))")" "$((rss / 1024))"
done
echo "bench-fleet: goal: bitlocker-raw within 25 % of the floor ($floor/min, i.e. >= $(python3 -c "print(round($floor*0.75))")/min); plain-raw >= 2000/min"
