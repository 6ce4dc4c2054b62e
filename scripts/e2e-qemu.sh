#!/usr/bin/env bash
# End-to-end test of the bootable USB image: builds the image (no root
# needed for that part), boots it in QEMU (TCG) from a USB stick, and checks
# what the stick left behind, read back with go-diskfs (`unbrick image logs`).
#
#   run 1  Secure Boot ON (OVMF_CODE_4M.secboot.fd + a copy of OVMF_VARS_4M.ms.fd, Microsoft
#          keys), stick on qemu-xhci + usb-storage, victim win10-xts128-recoverypw as NVMe,
#          keys SEALED: a wrong passphrase and then the right one are typed on the serial console.
#   run 2  Secure Boot OFF, victims win10-xts128-both and win10-plain-ntfs as two SATA (AHCI)
#          disks, keys in plaintext (--plaintext-keys).
# Both: mode auto, after poweroff, bounded by a timeout. The OS volumes of win10-xts128-recoverypw
# (run 1) and win10-plain-ntfs (run 2) first get an unclean journal holding a committed change
# (version 2.0 and 1.1, ntfs/testdata/journal), as a crash leaves it: auto mode must replay it
# (fix's default) before deleting, and the record must say journal_action "replayed".
#
# Always checked: QEMU powers off by itself; Secure Boot state and kernel lockdown as expected;
# every module loaded; the victim disks found (and the stick not among them); a boot record in
# logs/ on the LOGS partition; the passphrase prompt; the plaintext-keys warning.
# Final assertions, once the engine's `fix` exists: `../shared/corpus/verify DISK VARIANT
# --expect fixed` PASS for every victim and a "remediated" record for each host in
# logs/unbrick.jsonl on the stick. Switch: E2E_REQUIRE_FIX=auto (default: on when
# `unbrick fix -h` exits 0), 1 (required: fail if fix is missing), 0 (skip).
#
# Usage: scripts/e2e-qemu.sh   env: UNBRICK_BIN (static binary; default: scripts/build-static.sh),
#        UNBRICK_BOOTCHAIN (default ~/.cache/unbrick/bootchain, fetched when missing),
#        UNBRICK_CORPUS (default ../shared/corpus), E2E_TIMEOUT (s per boot, default 300),
#        E2E_ARTIFACTS (where serial logs are kept on failure), E2E_KEEP=1 (keep the work dir).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$(pwd)
corpus=${UNBRICK_CORPUS:-$repo/../shared/corpus}
bootchain=${UNBRICK_BOOTCHAIN:-$HOME/.cache/unbrick/bootchain}
timeout_s=${E2E_TIMEOUT:-300}
require_fix=${E2E_REQUIRE_FIX:-auto}
ovmf=/usr/share/OVMF

say() { printf 'e2e-qemu: %s\n' "$*" >&2; }
work=$(mktemp -d /tmp/unbrick-e2e.XXXXXX)
failed=0
fail() { say "FAIL: $*"; failed=1; }
finish() {
  local rc=$?
  if [ "$failed" != 0 ] || [ "$rc" != 0 ]; then
    art=${E2E_ARTIFACTS:-/tmp/unbrick-e2e-artifacts-$(date -u +%Y%m%dT%H%M%SZ)}
    mkdir -p "$art"
    cp "$work"/*.serial.log "$work"/*.logs.txt "$art"/ 2>/dev/null || true
    say "serial logs and stick contents kept in $art"
  fi
  [ "${E2E_KEEP:-0}" = 1 ] && say "work dir kept: $work" || rm -rf "$work"
}
trap finish EXIT

for f in "$ovmf/OVMF_CODE_4M.secboot.fd" "$ovmf/OVMF_VARS_4M.ms.fd" "$ovmf/OVMF_CODE_4M.fd" "$ovmf/OVMF_VARS_4M.fd"; do
  [ -f "$f" ] || { say "missing $f: apt-get install ovmf"; exit 1; }
done
command -v qemu-system-x86_64 >/dev/null || { say "qemu-system-x86_64 missing: apt-get install qemu-system-x86"; exit 1; }
[ -f "$corpus/manifest.json" ] || { say "corpus not found at $corpus (set UNBRICK_CORPUS)"; exit 1; }
[ -f "$bootchain/MANIFEST" ] || bash scripts/fetch-bootchain.sh "$bootchain" >/dev/null

bin=${UNBRICK_BIN:-}
if [ -z "$bin" ]; then
  bin=$work/unbrick
  bash scripts/build-static.sh "$bin" >&2
fi

fix_on=0
case $require_fix in
  1) fix_on=1 ;;
  0) fix_on=0 ;;
  auto) if "$bin" fix -h >/dev/null 2>&1; then fix_on=1; fi ;;
  *) say "E2E_REQUIRE_FIX must be auto, 1 or 0"; exit 2 ;;
esac
if [ "$fix_on" = 1 ]; then say "final assertions ON (fix is registered or required)"
else say "NOTE: 'unbrick fix' is not registered in this build: final assertions (verify --expect fixed, remediated record) are SKIPPED; the stick must report 'fix is not available'"; fi

# keyfile VARIANT... : a CrowdStrike-tool style CSV with the recovery password protectors.
keyfile() {
  python3 - "$corpus/manifest.json" "$@" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
v = {x["name"]: x for x in m["variants"]}
print('"Hostname","KeyID","RecoveryKey","Directory"')
for name in sys.argv[2:]:
    ov = v[name]["os_volume"]
    if ov.get("encryption") == "none" or "bitlocker" not in ov:
        continue
    for p in ov["bitlocker"]["key_protectors"]:
        if p["type"] == "recovery_password":
            print('"%s","%s","%s","ActiveDirectory"' % (v[name]["host_name"], p["id"], ov["unlock"]["secret"]))
EOF
}
secret_of() { python3 -c 'import json,sys; print({x["name"]:x for x in json.load(open(sys.argv[1]))["variants"]}[sys.argv[2]]["os_volume"]["unlock"].get("secret",""))' "$corpus/manifest.json" "$1"; }
ospart_of() { python3 -c 'import json,sys; print({x["name"]:x for x in json.load(open(sys.argv[1]))["variants"]}[sys.argv[2]]["os_partition_index"])' "$corpus/manifest.json" "$1"; }
# unclean IMG VARIANT LOG.gz : install a replayable unclean journal on the victim's OS volume.
unclean() {
  UNBRICK_TEST_RECOVERY_PASSWORD=$(secret_of "$2") go run ./internal/remedy/remedytest/installlog "$1" "$(ospart_of "$2")" "$3" \
    || { fail "$2: could not install the unclean journal"; return 1; }
  say "$2: unclean journal $(basename "$3") installed"
}
hostname_of() { python3 -c 'import json,sys; print({x["name"]:x for x in json.load(open(sys.argv[1]))["variants"]}[sys.argv[2]]["host_name"])' "$corpus/manifest.json" "$1"; }

# boot NAME SB(on|off) PASSPHRASE_OR_EMPTY DEVICE_ARGS... ; the image is $work/NAME.img
boot() {
  local name=$1 sb=$2 pass=$3; shift 3
  local serial=$work/$name.serial.log code vars
  vars=$work/$name.vars.fd
  local machine=(-machine q35)
  if [ "$sb" = on ]; then
    cp "$ovmf/OVMF_VARS_4M.ms.fd" "$vars"; code=$ovmf/OVMF_CODE_4M.secboot.fd
    machine=(-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on)
  else
    cp "$ovmf/OVMF_VARS_4M.fd" "$vars"; code=$ovmf/OVMF_CODE_4M.fd
  fi
  rm -f "$work/ser.in" "$work/ser.out"; mkfifo "$work/ser.in" "$work/ser.out"
  : >"$serial"
  local t0=$SECONDS
  timeout "$timeout_s" qemu-system-x86_64 "${machine[@]}" -cpu max -smp 2 -m 1024 \
    -display none -no-reboot -net none -chardev pipe,id=ser0,path="$work/ser" -serial chardev:ser0 \
    -drive if=pflash,format=raw,unit=0,readonly=on,file="$code" \
    -drive if=pflash,format=raw,unit=1,file="$vars" \
    -drive if=none,id=stick,format=raw,file="$work/$name.img" \
    -device qemu-xhci,id=xhci -device usb-storage,bus=xhci.0,drive=stick,removable=on,bootindex=0 \
    "$@" &
  local qpid=$!
  cat "$work/ser.out" >"$serial" &
  local cpid=$!
  exec 7>"$work/ser.in"
  local asked=0 wrong=0 entered=0
  while kill -0 "$qpid" 2>/dev/null; do
    if [ -n "$pass" ] && [ $asked = 0 ] && grep -q 'sealed. Passphrase:' "$serial"; then
      printf 'not-the-passphrase\n' >&7; asked=1
    elif [ -n "$pass" ] && [ $asked = 1 ] && [ $wrong = 0 ] && grep -q 'Wrong passphrase (1 of 3' "$serial"; then
      printf '%s\n' "$pass" >&7; wrong=1
    elif [ $entered = 0 ] && grep -q 'Press Enter to' "$serial"; then
      printf '\n' >&7; entered=1
    fi
    sleep 0.5
  done
  local rc=0
  wait "$qpid" || rc=$?
  exec 7>&-
  kill "$cpid" 2>/dev/null || true
  wait "$cpid" 2>/dev/null || true
  local secs=$((SECONDS - t0))
  echo "$secs" >"$work/$name.secs"
  if [ $rc = 124 ]; then fail "$name: no power-off within ${timeout_s}s"; return 1; fi
  [ $rc = 0 ] || { fail "$name: qemu exited $rc"; return 1; }
  grep -q 'reboot: Power down' "$serial" || fail "$name: the kernel did not power off"
  say "$name: QEMU start -> power-off ${secs}s (Secure Boot $sb)"
  if [ -n "$pass" ]; then
    [ $wrong = 1 ] || fail "$name: the passphrase prompt / wrong-passphrase retry did not show on the serial console"
  fi
}

# check_stick NAME SB KEYS_EXPECT NDISKS DISK_PATTERN : read the LOGS partition back with go-diskfs.
check_stick() {
  local name=$1 sb=$2 keys=$3 ndisks=$4 pattern=$5
  local out=$work/$name.logs.txt
  "$bin" image logs "$work/$name.img" --cat --extract "$work/$name.stick" >"$out" || { fail "$name: unbrick image logs failed"; return; }
  local recfile; recfile=$(ls "$work/$name.stick"/logs/boot-*.txt 2>/dev/null | tail -n1)
  [ -n "$recfile" ] || { fail "$name: no boot record in logs/ on the stick"; return; }
  local rec; rec=$(tr -d '\r' <"$recfile")
  grep -q "^secure_boot: *$sb" <<<"$rec" || fail "$name: boot record secure_boot is not '$sb'"
  if [ "$sb" = on ]; then
    grep -q '^lockdown: *integrity' <<<"$rec" || fail "$name: kernel lockdown is not integrity under Secure Boot"
    grep -q 'EFI stub: UEFI Secure Boot is enabled' "$work/$name.serial.log" || fail "$name: EFI stub did not report Secure Boot"
  fi
  local got all
  read -r got all < <(sed -n 's/^modules: *\([0-9]*\) of \([0-9]*\) loaded.*/\1 \2/p' <<<"$rec")
  { [ -n "${got:-}" ] && [ "$got" -ge 40 ]; } || fail "$name: only '${got:-?}' of ${all:-?} modules loaded"
  local stick; stick=$(sed -n 's|^stick: */dev/\([a-z]*\) (LOGS = /dev/[a-z]*2)$|\1|p' <<<"$rec")
  [ -n "$stick" ] || fail "$name: LOGS partition not found by its GPT name ($(grep '^stick:' <<<"$rec"))"
  grep -q "^keys: *$keys" <<<"$rec" || fail "$name: keys line is not '$keys': $(grep '^keys:' <<<"$rec")"
  local unexpected; unexpected=$(grep '^problem:' <<<"$rec" | grep -v 'fix is not available in this build' || true)
  [ -z "$unexpected" ] || fail "$name: problems recorded: $unexpected"
  local disks; disks=$(sed -n 's/^disks: *//p' <<<"$rec")
  local n; n=$(tr ';' '\n' <<<"$disks" | grep -c "$pattern" || true)
  [ "$n" = "$ndisks" ] || fail "$name: expected $ndisks victim disks matching '$pattern', found: $disks"
  [ -n "$stick" ] && grep -q "/dev/$stick " <<<"$disks" && fail "$name: the stick itself is listed as a victim disk"
  if [ "$fix_on" = 1 ]; then
    grep -q '^result: *fix exit 0' <<<"$rec" || fail "$name: fix did not exit 0: $(grep '^result:' <<<"$rec")"
  else
    grep -q '^result: *not run: fix not available' <<<"$rec" || fail "$name: expected 'fix not available', got: $(grep '^result:' <<<"$rec")"
  fi
  # The LOGS file system after Linux wrote to it, checked by dosfstools; and
  # the files outside logs/ and journal/ are what the builder wrote.
  if command -v fsck.fat >/dev/null && command -v sgdisk >/dev/null; then
    local start end
    read -r start end < <(sgdisk -i 2 "$work/$name.img" | awk '/^First sector/{s=$3} /^Last sector/{e=$3} END{print s, e}')
    dd if="$work/$name.img" of="$work/$name.logs.part" bs=512 skip="$start" count=$((end - start + 1)) status=none
    fsck.fat -n "$work/$name.logs.part" >"$work/$name.fsck.txt" 2>&1 || fail "$name: fsck.fat finds problems on LOGS after the run: $(cat "$work/$name.fsck.txt")"
    local conf_now; conf_now=$(mtype -i "$work/$name.logs.part" ::/unbrick.conf | sha256sum)
    [ "$conf_now" = "$(cat "$work/$name.conf.sha")" ] || fail "$name: unbrick.conf on the stick changed during the run"
  fi
  say "$name: stick /dev/$stick, modules $got/$all, kernel uptime at record $(sed -n 's/^uptime: *//p' <<<"$rec"), disks: $disks"
}

# final VICTIM_IMG VARIANT STICK_NAME [replayed] : the assertions that need `fix`; with
# "replayed", the victim's unclean journal must have been replayed (journal_action) and the
# verifier allows the $LogFile change.
final() {
  local img=$1 variant=$2 name=$3 replayed=${4:-} host
  [ "$fix_on" = 1 ] || return 0
  host=$(hostname_of "$variant")
  local vargs=(--expect fixed)
  [ -n "$replayed" ] && vargs+=(--allow-journal-change)
  if "$corpus/verify" "$img" "$variant" "${vargs[@]}" | tail -n1 | grep -q '^verify: PASS'; then
    say "$name: verify $variant ${vargs[*]}: PASS"
  else
    fail "$name: verify $variant ${vargs[*]} did not PASS"
  fi
  local n; n=$(cat "$work/$name.stick/logs/unbrick.jsonl" 2>/dev/null | grep -E '"status" *: *"remediated"' | grep -c "\"$host\"" || true)
  [ "$n" = 1 ] || fail "$name: expected one remediated record for $host in logs/unbrick.jsonl on the stick, found $n"
  if [ -n "$replayed" ]; then
    n=$(cat "$work/$name.stick/logs/unbrick.jsonl" 2>/dev/null | grep "\"$host\"" | grep -cE '"journal_action" *: *"replayed"' || true)
    [ "$n" = 1 ] || fail "$name: the record for $host does not say the journal was replayed"
  fi
}

# ---- run 1: Secure Boot on, USB stick, NVMe victim, sealed keys ----
pass="e2e passphrase $(date +%s)"
printf '%s\n' "$pass" >"$work/pass.txt"
keyfile win10-xts128-recoverypw >"$work/keys.csv"
gunzip -c "$corpus/disks/win10-xts128-recoverypw.img.gz" >"$work/v1.img"
unclean "$work/v1.img" win10-xts128-recoverypw ntfs/testdata/journal/win10-xts128-recoverypw-label.logfile.gz
t0=$(date +%s.%N)
"$bin" image build --out "$work/sb.img" --bootchain "$bootchain" --init "$bin" --keys "$work/keys.csv" \
  --passphrase-file "$work/pass.txt" --kdf-work-factor 15 --mode auto --after poweroff >"$work/build.txt"
say "build: $(cat "$work/build.txt" | head -n1) (wall $(python3 -c "import sys;print('%.1f'%(float(sys.argv[2])-float(sys.argv[1])))" "$t0" "$(date +%s.%N)")s)"
conf_sha() { # IMAGE NAME: sha256 of unbrick.conf as built
  local start; start=$(sgdisk -i 2 "$1" | awk '/^First sector/{print $3}')
  mtype -i "$1@@$((start * 512))" ::/unbrick.conf | sha256sum >"$work/$2.conf.sha"
}
conf_sha "$work/sb.img" sb
if boot sb on "$pass" -drive if=none,id=v1,format=raw,file="$work/v1.img" -device nvme,serial=victim0001,drive=v1; then
  check_stick sb on "1 sealed, 1 opened" 1 '/dev/nvme0n1 '
  final "$work/v1.img" win10-xts128-recoverypw sb replayed
fi

# ---- run 2: Secure Boot off, two SATA victims, plaintext keys ----
keyfile win10-xts128-both win10-plain-ntfs >"$work/keys2.csv"
gunzip -c "$corpus/disks/win10-xts128-both.img.gz" >"$work/v2.img"
gunzip -c "$corpus/disks/win10-plain-ntfs.img.gz" >"$work/v3.img"
unclean "$work/v3.img" win10-plain-ntfs ntfs/testdata/journal/win10-plain-label.logfile.gz
"$bin" image build --out "$work/sata.img" --bootchain "$bootchain" --init "$bin" --keys "$work/keys2.csv" \
  --plaintext-keys --mode auto --after poweroff >/dev/null 2>&1
conf_sha "$work/sata.img" sata
if boot sata off "" -drive if=none,id=v2,format=raw,file="$work/v2.img" -device ide-hd,bus=ide.0,drive=v2 \
  -drive if=none,id=v3,format=raw,file="$work/v3.img" -device ide-hd,bus=ide.1,drive=v3; then
  check_stick sata off "1 plaintext (NOT sealed)" 2 'QEMU HARDDISK'
  grep -q 'are NOT sealed' "$work/sata.serial.log" || fail "sata: no plaintext-keys warning on screen"
  final "$work/v2.img" win10-xts128-both sata
  final "$work/v3.img" win10-plain-ntfs sata replayed
fi

if [ "$failed" != 0 ]; then say "FAILED"; exit 1; fi
say "PASS in ${SECONDS}s (Secure Boot boot $(cat "$work/sb.secs")s, SATA boot $(cat "$work/sata.secs")s; fix assertions: $([ "$fix_on" = 1 ] && echo on || echo 'skipped: fix not registered'))"
