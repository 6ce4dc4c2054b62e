#!/usr/bin/env bash
# HARDENING: the "Done means" of the hardening issue, judged from outside
# unbrick (corpus verify, tools/ntfs-check, dislocker-file, ntfslib.py):
#   flip         HARDENING_FLIPS (200) copies of win10-plain-ntfs, win10-mbr-plain,
#                win10-xts128-recoverypw, win10-suspended-clearkey with 1-20
#                bytes flipped in NTFS metadata (boot sector, MFT records 0-63
#                and those on the CrowdStrike path, $MFTMirr, $LogFile restart
#                pages, $I30 blocks on the path, bitmaps) or BitLocker FVE
#                metadata (volume header, the three metadata blocks, the
#                relocated boot sector), plus a few partition-table flips.
#                `timeout 60 unbrick fix`: no panic, no timeout, exit 0 only
#                with a fleet log record for the Windows partition and exit
#                codes no milder than the records; if the image was written:
#                plain -> ntfs-check no worse than before the fix (problem
#                count, and no new kind of problem); BitLocker -> with the
#                flips undone, verify --expect fixed. BitLocker already-clean,
#                and plain already-clean with the faulty file still in use,
#                fail.
#   recognize    damaged NTFS / BitLocker signature, image ending where the
#                Windows partition starts or inside it, a volume without
#                Windows, zeros: exit 5 with an unrecognized (resp. no-windows)
#                record for that partition, nothing written.
#   kill         win10-plain-ntfs and win10-xts128-recoverypw: strace -y counts
#                the device writes (pwrite64) of a full fix; ptkill.py then
#                SIGKILLs fix at the entry of every state-changing call in turn
#                (journal write, each device pwrite64, journal completion,
#                fleet log writes), plus HARDENING_RANDOM_KILLS (10) kills at
#                0-400 ms; the next fix with the same --log must exit 0 and say
#                remediated ("finished_run" when the killed run had changed
#                the disk; already-clean only if the killed run had logged
#                remediated, or had made every write and completed its undo
#                journal and was killed before its record), exactly one
#                remediated record (none in that last case), verify --expect
#                fixed, and undo of its journal gives back the original disk.
#   concurrency  HARDENING_ROUNDS (10) rounds of two fixes at once on one image
#                (and, when loop devices work, file + its loop device): one
#                remediated, the other busy (exit 4, no journal) or
#                already-clean; never "inconsistent"; verify PASS.
# verify runs once per distinct result: an image that differs from one it
# passed only in directory $STANDARD_INFORMATION times (fix stamps the
# CrowdStrike folder with the time of the run; verify reads no directory
# time) gets the same verdict (HARDENING_FULL_VERIFY=1: verify every time).
# HARDENING_SEED (20240719) fixes everything random; HARDENING_KEEP=DIR keeps
# failing flipped images. Needs root, FUSE, ptrace, and the Debian packages
# strace dislocker ntfs-3g fuse3 sleuthkit python3 util-linux diffutils
# (installed here when missing). Without CI=true a missing prerequisite skips.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH=/usr/local/go/bin:$PATH
CORPUS=${UNBRICK_CORPUS:-../shared/corpus}
t0=$(date +%s)

skip() {
  if [ "${CI:-}" = true ]; then echo "ci-hardening: FAIL (CI=true): $*" >&2; exit 1; fi
  echo "ci-hardening: SKIP: $*" >&2; exit 0
}

[ -f "$CORPUS/manifest.json" ] || skip "corpus not found at $CORPUS"
[ "$(id -u)" = 0 ] || skip "needs root (verify uses FUSE and loop devices)"
case $(uname -m) in x86_64|aarch64) ;; *) skip "ptkill.py supports x86_64 and aarch64, not $(uname -m)" ;; esac

need=()
for t in strace:strace dislocker-file:dislocker ntfs-3g:ntfs-3g fusermount:fuse3 fls:sleuthkit \
         python3:python3 losetup:util-linux cmp:diffutils; do
  command -v "${t%%:*}" >/dev/null || need+=("${t#*:}")
done
if [ ${#need[@]} -gt 0 ] && command -v apt-get >/dev/null; then
  echo "ci-hardening: installing ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >/dev/null ||
    { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >/dev/null; } || true
fi
for t in strace dislocker-file ntfs-3g fusermount fls python3 cmp; do
  command -v "$t" >/dev/null || skip "missing $t (Debian: strace dislocker ntfs-3g fuse3 sleuthkit python3 diffutils)"
done
[ -e /dev/fuse ] || skip "/dev/fuse is missing (verify mounts with dislocker-fuse and ntfs-3g)"
python3 scripts/hardening/ptkill.py --target /dev/null --logdir /tmp -- true 2>/dev/null ||
  skip "ptrace does not work here (scripts/hardening/ptkill.py cannot trace 'true')"

WORK=$(mktemp -d /tmp/ci-hardening.XXXXXX)
trap 'rm -rf --one-file-system "$WORK"' EXIT
go build -o "$WORK/unbrick" ./cmd/unbrick

rc=0
python3 scripts/hardening/hardening.py --bin "$WORK/unbrick" --corpus "$CORPUS" --work "$WORK/w" all || rc=$?
echo "ci-hardening: $([ $rc = 0 ] && echo PASS || echo FAIL) ($(( $(date +%s) - t0 )) s)"
exit $rc
