#!/usr/bin/env bash
# compare-peer.sh - time `unbrick fix` against the Linux peer pipeline on the
# same BitLocker corpus disk, side by side with hyperfine:
#   peer:    dislocker-fuse (decrypting FUSE view of the OS partition)
#            + ntfs-3g (mount that view read-write) + rm of the faulty file
#            + umount + fusermount -u (retried until ntfs-3g has let go
#            of the dislocker file)
#   unbrick: unbrick fix (unlock, plan, undo journal, write, re-open and
#            verify, fleet log record)
#   floor:   unbrick ntfs ls of the folder (unlock and read only: the
#            cost of the key derivation that every tool pays)
# Before every run (not timed) the image is restored from a pristine copy
# and the page cache is written back. Prints both means and the ratio.
#
# Usage: scripts/compare-peer.sh [VARIANT] [RUNS]
#        (default win10-xts128-recoverypw, 10 runs; needs root, FUSE,
#        dislocker, ntfs-3g, hyperfine, python3)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VARIANT=${1:-win10-xts128-recoverypw}
RUNS=${2:-10}
CORPUS=${UNBRICK_CORPUS:-../shared/corpus}
for tool in hyperfine dislocker-fuse ntfs-3g python3; do
  command -v "$tool" >/dev/null || { echo "compare-peer: $tool is not installed" >&2; exit 1; }
done
WORK=$(mktemp -d)
cleanup() {
  umount "$WORK/ntfs" 2>/dev/null || true
  fusermount -u "$WORK/fve" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK/fve" "$WORK/ntfs"
go build -o "$WORK/unbrick" ./cmd/unbrick

# Offset of the OS partition, the recovery password, the faulty file.
read -r OFFSET SECRET FAULTY PART < <(python3 - "$CORPUS/manifest.json" "$VARIANT" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
v = [v for v in m["variants"] if v["name"] == sys.argv[2]][0]
u = v["os_volume"]["unlock"]
assert u["method"] == "recovery_password", "pick a variant unlocked by recovery password"
cs = v["crowdstrike"]
gone = v["expected_after_fix"]["gone"]
assert len(gone) == 1
print(v["os_volume"]["offset_bytes"], u["secret"], cs["dir"] + "/" + gone[0], v["os_partition_index"])
PY
)
gunzip -c "$CORPUS/disks/$VARIANT.img.gz" > "$WORK/pristine.img"
export UNBRICK_RECOVERY_PASSWORD=$SECRET
PREP="cp --sparse=always $WORK/pristine.img $WORK/disk.img && rm -rf $WORK/logs && sync"
PEER="dislocker-fuse -V $WORK/disk.img -O $OFFSET -p$SECRET -- $WORK/fve && ntfs-3g $WORK/fve/dislocker-file $WORK/ntfs && rm $WORK/ntfs/$FAULTY && umount $WORK/ntfs && until fusermount -u $WORK/fve 2>/dev/null; do sleep 0.005; done"
UNBRICK="$WORK/unbrick fix --log $WORK/logs $WORK/disk.img"
# The floor: unlock (one 2^20-round stretch) and list the folder, no write.
FLOOR="$WORK/unbrick ntfs ls --partition $PART $WORK/disk.img $(dirname "$FAULTY")"

# Both must actually fix the disk (checked once with the corpus verifier).
for cmd in "$PEER" "$UNBRICK"; do
  bash -c "$PREP"
  bash -c "$cmd" > /dev/null
  "$CORPUS/verify" "$WORK/disk.img" "$VARIANT" --expect fixed | tail -1
done

hyperfine --runs "$RUNS" --prepare "$PREP" --export-json "$WORK/times.json" \
  -n "peer (dislocker-fuse + ntfs-3g + rm)" "$PEER" \
  -n "unbrick fix" "$UNBRICK" \
  -n "floor: unlock + list (unbrick ntfs ls)" "$FLOOR" | sed "s/$SECRET/[redacted]/g"
python3 - "$WORK/times.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
peer, ub, floor = r[0], r[1], r[2]
print("peer    mean %.1f ms (min %.1f)" % (peer["mean"] * 1000, peer["min"] * 1000))
print("unbrick mean %.1f ms (min %.1f)" % (ub["mean"] * 1000, ub["min"] * 1000))
print("floor   mean %.1f ms (min %.1f): unlock + list, no write" % (floor["mean"] * 1000, floor["min"] * 1000))
print("ratio peer/unbrick: %.2fx (mean), %.2fx (min)" % (peer["mean"] / ub["mean"], peer["min"] / ub["min"]))
print("fix minus floor: %.1f ms (mean), %.1f ms (min)" % ((ub["mean"] - floor["mean"]) * 1000, (ub["min"] - floor["min"]) * 1000))
PY
