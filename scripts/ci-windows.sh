#!/usr/bin/env bash
# WINDOWS: the Windows edition (issue 16), unbrick.exe built with
# GOOS=windows GOARCH=amd64 CGO_ENABLED=0, run under Wine on image files.
#
#   1. internal/durable's tests and internal/logship's LockFileEx test,
#      built for Windows, pass under Wine.
#   2. `unbrick.exe fix` of a copy of a BitLocker corpus disk (recovery
#      password from a key CSV) and of win10-plain-ntfs: the corpus judge
#      (../shared/corpus/verify COPY VARIANT --expect fixed) passes for each,
#      and the fleet log record of each is `remediated`.
#   3. `unbrick.exe undo` with the journal the Windows run wrote puts each
#      copy back byte-identical to the gunzipped original (cmp); the Linux
#      binary also accepts that journal (`undo --check`).
#   4. `unbrick.exe bitlocker info` prints what the Linux binary prints for
#      the same image. Both are given the same relative image name from the
#      same directory; the only normalisation is CRLF -> LF and the Windows
#      spelling of the work directory (Z:\...\) to its Unix spelling.
#   5. The recovery password appears in no output and no file except the
#      key CSV itself.
#
# Wine: Debian 12's Wine 8 lacks bcryptprimitives.dll's ProcessPrng, which
# the Go runtime loads at start; scripts/winpe-prng builds a stand-in DLL
# that goes into the (fresh, temporary) Wine prefix. One prefix is made and
# reused: Wine's first start is the slow part.
#
# Needs: Go, wine64 and gcc-mingw-w64-x86-64 (scripts/test-packages.txt),
# python3, the corpus (UNBRICK_CORPUS or ../shared/corpus) with its verify
# (dislocker, ntfs-3g, FUSE). Fails with the reason on any mismatch; prints
# the time of each step.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD
export CI=${CI:-true}
corpus=$(cd "${UNBRICK_CORPUS:-../shared/corpus}" 2>/dev/null && pwd) || {
  echo "ci-windows: FAIL: corpus not found (${UNBRICK_CORPUS:-../shared/corpus}); set UNBRICK_CORPUS" >&2
  exit 1
}
blvariant=win10-xts128-recoverypw
plainvariant=win10-plain-ntfs

fail() { echo "ci-windows: FAIL: $*" >&2; exit 1; }
t_start=$(date +%s.%N)
t_last=$t_start
elapsed() { python3 -c 'import sys; print("%.1f" % (float(sys.argv[2]) - float(sys.argv[1])))' "$1" "$2"; }
timed() { # LABEL COMMAND...: run COMMAND, print how long it took
  local label=$1 t0 rc=0
  shift
  t0=$(date +%s.%N)
  "$@" || rc=$?
  echo "  $label: $(elapsed "$t0" "$(date +%s.%N)")s"
  return $rc
}
step() { # NAME: print the time the previous step took, then NAME
  local now; now=$(date +%s.%N)
  echo "ci-windows: ... $(elapsed "$t_last" "$now")s"
  t_last=$now
  echo "ci-windows: $*"
}

# Tools. CI runs as root: install what is missing rather than skip.
wine=""
for w in /usr/lib/wine/wine64 "$(command -v wine64 || true)"; do
  [ -n "$w" ] && [ -x "$w" ] && { wine=$w; break; }
done
if [ -z "$wine" ] || ! command -v x86_64-w64-mingw32-gcc >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends wine64 gcc-mingw-w64-x86-64
    wine=/usr/lib/wine/wine64
  fi
fi
[ -n "$wine" ] && [ -x "$wine" ] || fail "wine64 is not installed (Debian package wine64; scripts/install-test-deps.sh)"
command -v x86_64-w64-mingw32-gcc >/dev/null || fail "x86_64-w64-mingw32-gcc is missing (Debian package gcc-mingw-w64-x86-64)"
wineserver=$(dirname "$wine")/wineserver64
[ -x "$wineserver" ] || wineserver=$(dirname "$wine")/wineserver
[ -x "$corpus/verify" ] || fail "$corpus/verify is missing or not executable"

work=$(mktemp -d /tmp/ci-windows.XXXXXX)
export WINEPREFIX=$work/wineprefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
cleanup() {
  # Stop the wineserver of this prefix only (it is ours), then remove it all.
  [ -d "$WINEPREFIX" ] && WINEPREFIX=$WINEPREFIX "$wineserver" -k 2>/dev/null || true
  [ -n "${wineboot_pid:-}" ] && wait "$wineboot_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'echo "ci-windows: FAIL: command failed at line $LINENO (see the output above)" >&2' ERR

# winpath FILE: FILE's path as the Windows program sees it (Wine maps / to Z:).
winpath() { printf 'Z:%s' "$(printf '%s' "$1" | tr / '\\')"; }
winrun() { "$wine" "$work/unbrick.exe" "$@"; }

echo "ci-windows: work directory $work, wine $wine ($("$wine" --version 2>/dev/null || echo unknown version))"

step "build unbrick.exe (windows/amd64, CGO_ENABLED=0), the Linux unbrick, durable's Windows test binary, the ProcessPrng DLL; a fresh Wine prefix meanwhile"
# wineboot mostly waits; it makes the prefix while Go compiles.
"$wine" wineboot -i >"$work/wineboot.log" 2>&1 &
wineboot_pid=$!
timed "go build unbrick.exe" env GOOS=windows GOARCH=amd64 CGO_ENABLED=0 go build -o "$work/unbrick.exe" ./cmd/unbrick
file "$work/unbrick.exe" | grep -q 'PE32+ executable.*x86-64' || fail "unbrick.exe is not a PE32+ x86-64 executable: $(file "$work/unbrick.exe")"
timed "go build unbrick (linux)" env CGO_ENABLED=0 go build -o "$work/unbrick" ./cmd/unbrick
# Test binaries go to testbin/, left out of the password scan at the end:
# they link test fixtures that hold the corpus's published recovery
# passwords on purpose.
mkdir -p "$work/testbin"
timed "go test -c internal/durable (windows)" env GOOS=windows GOARCH=amd64 CGO_ENABLED=0 go test -c -o "$work/testbin/durable.test.exe" ./internal/durable
timed "go test -c internal/logship (windows)" env GOOS=windows GOARCH=amd64 CGO_ENABLED=0 go test -c -o "$work/testbin/logship.test.exe" ./internal/logship
x86_64-w64-mingw32-gcc -shared -O2 -o "$work/bcryptprimitives.dll" \
  scripts/winpe-prng/prng.c scripts/winpe-prng/prng.def -ladvapi32

step "Wine prefix ready, ProcessPrng DLL into its system32"
wait "$wineboot_pid" || { cat "$work/wineboot.log" >&2; fail "wineboot -i failed"; }
[ -d "$WINEPREFIX/drive_c/windows/system32" ] || fail "wineboot made no $WINEPREFIX/drive_c/windows/system32"
cp "$work/bcryptprimitives.dll" "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
v=$(winrun version 2>&1) || fail "unbrick.exe version does not run under Wine: $v"
echo "  $v"
case $v in *windows/amd64*) ;; *) fail "unbrick.exe version does not say windows/amd64: $v" ;; esac

step "internal/durable tests and internal/logship's lock test under Wine"
(cd "$work" && "$wine" ./testbin/durable.test.exe -test.v >"$work/durable-test.txt" 2>&1) || {
  cat "$work/durable-test.txt" >&2; fail "internal/durable's tests fail under Wine"
}
grep -E '^(--- |ok|PASS|FAIL)' "$work/durable-test.txt" | sed 's/^/  /'
grep -q '^--- PASS: TestSyncDirWindows' "$work/durable-test.txt" || fail "TestSyncDirWindows did not run and pass under Wine"
# logship's Windows lock only: its other tests use t.TempDir, whose
# RemoveAll fails under Wine 8 (see internal/durable/helpers_test.go).
(cd "$work" && "$wine" ./testbin/logship.test.exe -test.v -test.run '^TestTryLockWindows$' >"$work/logship-test.txt" 2>&1) || {
  cat "$work/logship-test.txt" >&2; fail "internal/logship's TestTryLockWindows fails under Wine"
}
grep -q '^--- PASS: TestTryLockWindows' "$work/logship-test.txt" || fail "TestTryLockWindows did not run and pass under Wine"
echo "  --- PASS: TestTryLockWindows (internal/logship)"

step "corpus copies, key CSV"
cd "$work"
gunzip -c "$corpus/disks/$blvariant.img.gz" >bl-orig.img
gunzip -c "$corpus/disks/$plainvariant.img.gz" >plain-orig.img
cp bl-orig.img bl.img
cp plain-orig.img plain.img
python3 - "$corpus/manifest.json" "$blvariant" >keys.csv <<'EOF'
import json, sys
v = {x["name"]: x for x in json.load(open(sys.argv[1]))["variants"]}[sys.argv[2]]
ov = v["os_volume"]
print('"Hostname","KeyID","RecoveryKey","Directory"')
n = 0
for p in ov["bitlocker"]["key_protectors"]:
    if p["type"] == "recovery_password":
        print('"%s","%s","%s","ActiveDirectory"' % (v["host_name"], p["id"], ov["unlock"]["secret"]))
        n += 1
if n == 0:
    sys.exit("no recovery password protector in the manifest for " + sys.argv[2])
EOF
secret=$(python3 -c 'import json,sys; print({x["name"]:x for x in json.load(open(sys.argv[1]))["variants"]}[sys.argv[2]]["os_volume"]["unlock"]["secret"])' "$corpus/manifest.json" "$blvariant")
[ ${#secret} -ge 48 ] || fail "the manifest's recovery password for $blvariant looks wrong (${#secret} characters)"
# Before any run: the password must not already be in the images (else
# the check at the end would prove nothing about unbrick).
for f in bl-orig.img plain-orig.img; do
  ! grep -qaF "$secret" "$f" || fail "the recovery password is in the corpus image $f itself; the leak check cannot work"
done
mkdir -p out
logdir=$work/logs
jdir=$work/journal

# record FIELD TARGET STATUS: the fleet log's last record for TARGET
# (among STATUS records, or any when STATUS is "") printed as FIELD.
record() {
  python3 - "$logdir/unbrick.jsonl" "$@" <<'EOF'
import json, sys
path, field, target, status = sys.argv[1:5]
recs = [json.loads(l) for l in open(path, encoding="utf-8") if l.strip()]
recs = [r for r in recs if r.get("target") == target and r.get("status") != "skipped"
        and (not status or r.get("status") == status)]
if not recs:
    sys.exit("no fleet log record for %s%s in %s" % (target, " with status " + status if status else "", path))
print(recs[-1].get(field, ""))
EOF
}

fixone() { # IMAGE VARIANT [fix flags...]
  local img=$1 variant=$2
  shift 2
  local rc=0
  winrun fix "$@" --log "$(winpath "$logdir")" --journal "$(winpath "$jdir")" "$img" \
    >"out/fix-$img.txt" 2>"out/fix-$img.err" || rc=$?
  [ $rc = 0 ] || { cat "out/fix-$img.txt" "out/fix-$img.err" >&2; fail "unbrick.exe fix $img exited $rc"; }
  grep -E '^\s*status:' "out/fix-$img.txt" | sed "s/^/  $img /"
  local st
  st=$(record status "$img" "") || fail "fix $img: $st"
  [ "$st" = remediated ] || fail "fix $img: fleet log record status is '$st', want remediated"
  echo "  fleet log record: $st"
  "$corpus/verify" "$img" "$variant" --expect fixed >"out/verify-$img.txt" 2>&1 || {
    cat "out/verify-$img.txt" >&2; fail "verify $img $variant --expect fixed did not PASS after the Windows fix"
  }
  tail -n1 "out/verify-$img.txt" | sed 's/^/  /'
  grep -q '^verify: PASS' "out/verify-$img.txt" || fail "verify printed no PASS line for $img"
}

undoone() { # IMAGE ORIGINAL
  local img=$1 orig=$2 j
  j=$(record journal_file "$img" remediated) || fail "undo $img: $j"
  case $j in Z:\\*) ;; *) fail "undo $img: the journal path in the record is not a Windows path: $j" ;; esac
  # The Linux binary accepts the journal the Windows binary wrote.
  local uj=${j#Z:}
  uj=${uj//\\//}
  ./unbrick undo --check --journal "$uj" --log "$work/linux-logs" "$img" >"out/undo-check-$img.txt" 2>&1 || {
    cat "out/undo-check-$img.txt" >&2; fail "the Linux unbrick does not accept the Windows journal $uj"
  }
  local rc=0
  winrun undo --journal "$j" --log "$(winpath "$logdir")" "$img" >"out/undo-$img.txt" 2>&1 || rc=$?
  [ $rc = 0 ] || { cat "out/undo-$img.txt" >&2; fail "unbrick.exe undo --journal $j $img exited $rc"; }
  cmp "$img" "$orig" || fail "after unbrick.exe undo, $img differs from the original $orig"
  echo "  undo: $img is byte-identical to the original ($(grep -m1 '^restored' "out/undo-$img.txt"))"
  record status "$img" undone >/dev/null || fail "undo $img: no 'undone' fleet log record"
}

step "unbrick.exe fix $blvariant copy (key CSV)"
fixone bl.img "$blvariant" --keys keys.csv
step "unbrick.exe fix $plainvariant copy"
fixone plain.img "$plainvariant"

step "unbrick.exe undo (journals the Windows run wrote)"
undoone bl.img bl-orig.img
undoone plain.img plain-orig.img

step "unbrick.exe bitlocker info vs the Linux binary's"
winrun bitlocker info bl.img >out/info-windows.raw 2>&1 || { cat out/info-windows.raw >&2; fail "unbrick.exe bitlocker info bl.img failed"; }
./unbrick bitlocker info bl.img >out/info-linux.txt 2>&1 || { cat out/info-linux.txt >&2; fail "unbrick bitlocker info bl.img (Linux) failed"; }
# Normalisation: CRLF -> LF, and the Windows spelling of the work directory
# (Z:\tmp\ci-windows.X\) to the Unix one. Nothing else.
wwork=$(winpath "$work")
python3 - out/info-windows.raw out/info-windows.txt "$wwork" "$work" <<'EOF'
import sys
src, dst, wdir, udir = sys.argv[1:5]
s = open(src, encoding="utf-8").read().replace("\r\n", "\n").replace(wdir + "\\", udir + "/")
open(dst, "w", encoding="utf-8").write(s)
EOF
[ -s out/info-linux.txt ] || fail "the Linux bitlocker info printed nothing"
diff -u out/info-linux.txt out/info-windows.txt || fail "bitlocker info differs between the Windows and the Linux binary (diff above: - Linux, + Windows)"
echo "  identical ($(wc -l <out/info-linux.txt) lines)"

step "the recovery password is in no output and no file"
digits=${secret//-/}
leaks=$(grep -rlaF -e "$secret" -e "$digits" "$work" --exclude=keys.csv --exclude-dir=wineprefix --exclude-dir=testbin || true)
[ -z "$leaks" ] || fail "the recovery password appears in: $leaks"
# The Wine prefix (registry, temp files) too.
leaks=$(grep -rlaF -e "$secret" -e "$digits" "$WINEPREFIX" 2>/dev/null || true)
[ -z "$leaks" ] || fail "the recovery password appears in the Wine prefix: $leaks"
echo "  not found outside keys.csv and the test binaries ($(find "$work" -type f -not -path "$WINEPREFIX/*" -not -path "$work/testbin/*" | wc -l) files checked, plus the Wine prefix)"

now=$(date +%s.%N)
echo "ci-windows: ... $(elapsed "$t_last" "$now")s"
total=$(elapsed "$t_start" "$now")
echo "ci-windows: PASS in ${total}s"
python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) < 240 else 1)' "$total" ||
  fail "took ${total}s, over the 4-minute budget"
