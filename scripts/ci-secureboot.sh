#!/usr/bin/env bash
# Secure Boot matrix (issue 15): the USB stick booted in QEMU (TCG) on OVMF
# (OVMF_CODE_4M.secboot.fd, SMM) with different variable stores, each
# positive case fixing a fresh copy of the corpus disk win10-xts128-recoverypw.
#
#   2011           Debian's OVMF_VARS_4M.ms.fd as is (db: Microsoft Windows
#                  Production PCA 2011 and Microsoft Corporation UEFI CA 2011).
#   2023-only      that store with db replaced by one EFI_SIGNATURE_LIST holding
#                  only the "Microsoft UEFI CA 2023" certificate, taken from
#                  shim's second Authenticode signature (scripts/ovmfvars).
#   refused        NEGATIVE CONTROL: the 2023-only store and a stick whose
#                  BOOTX64.EFI is shim with only its 2011-chained signature
#                  (ovmfvars strip-shim): the firmware must refuse it (OVMF's
#                  boot manager reports "Access Denied" for the stick's boot
#                  option on the serial console), the kernel's EFI stub must
#                  never speak, nothing may power off and the victim must stay
#                  untouched. The 2023-only case is the same store with the
#                  unstripped shim, so the refusal is due to the signature alone.
#   SbatLevel      OVMF_VARS_4M.ms.fd plus shim's SbatLevel variable (vendor
#                  605dab50-e046-4300-abb6-3dd810dd8b23, NV|BS) already holding
#                  the "latest" payload of shim's .sbatlevel section: shim keeps
#                  it (not older than what it would write) and the chain must pass it.
#
# Checked for each positive case: QEMU powers off by itself; "EFI stub: UEFI
# Secure Boot is enabled" on the serial console; `secure_boot: on` in the boot
# record on the stick (read back with `unbrick image logs`); a remediated
# record in logs/unbrick.jsonl; `../shared/corpus/verify DISK VARIANT --expect
# fixed` PASS; and, when the boot record has an `sbat_level:` line, that it
# shows the SbatLevel date shim applied (automatic, or latest for the SbatLevel
# case). The stores are checked with `ovmfvars list` before use, and read back
# after each boot: OVMF kept our db (did not reinitialise the store), and
# SbatLevel is shim's automatic payload (2011, 2023-only), still the latest one
# (SbatLevel case) or absent (refused: shim never ran).
#
# Prints boot times (QEMU start -> power-off, or -> refusal) in its last line.
# Usage: scripts/ci-secureboot.sh   env: UNBRICK_BIN, UNBRICK_BOOTCHAIN, UNBRICK_CORPUS,
#        SB_TIMEOUT (s per positive boot, default 240), SB_REFUSE_TIMEOUT (s, default 90),
#        SB_ARTIFACTS (where logs are kept on failure), SB_KEEP=1 (keep the work dir).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$(pwd)
corpus=${UNBRICK_CORPUS:-$repo/../shared/corpus}
bootchain=${UNBRICK_BOOTCHAIN:-$HOME/.cache/unbrick/bootchain}
timeout_s=${SB_TIMEOUT:-240}
refuse_timeout=${SB_REFUSE_TIMEOUT:-90}
ovmf=/usr/share/OVMF
variant=win10-xts128-recoverypw

say() { printf 'ci-secureboot: %s\n' "$*" >&2; }
work=$(mktemp -d /tmp/unbrick-sb.XXXXXX)
failed=0
fail() { say "FAIL: $*"; failed=1; }
qpid=
finish() {
  local rc=$?
  [ -n "$qpid" ] && kill "$qpid" 2>/dev/null || true
  if [ "$failed" != 0 ] || [ "$rc" != 0 ]; then
    art=${SB_ARTIFACTS:-/tmp/unbrick-sb-artifacts-$(date -u +%Y%m%dT%H%M%SZ)}
    mkdir -p "$art"
    cp "$work"/*.serial.log "$work"/*.debug.log "$work"/*.logs.txt "$work"/*.vars.txt "$art"/ 2>/dev/null || true
    say "serial/debug logs and stick contents kept in $art"
  fi
  [ "${SB_KEEP:-0}" = 1 ] && say "work dir kept: $work" || rm -rf "$work"
}
trap finish EXIT

for f in "$ovmf/OVMF_CODE_4M.secboot.fd" "$ovmf/OVMF_VARS_4M.ms.fd"; do
  [ -f "$f" ] || { say "missing $f: apt-get install ovmf (scripts/install-test-deps.sh)"; exit 1; }
done
for c in qemu-system-x86_64 mcopy sgdisk sbverify; do
  command -v "$c" >/dev/null || { say "$c missing: run scripts/install-test-deps.sh"; exit 1; }
done
[ -f "$corpus/manifest.json" ] || { say "corpus not found at $corpus (set UNBRICK_CORPUS)"; exit 1; }
[ -f "$bootchain/MANIFEST" ] || bash scripts/fetch-bootchain.sh "$bootchain" >/dev/null
shim=$bootchain/usr/lib/shim/shimx64.efi.signed
[ -f "$shim" ] || { say "no shim at $shim"; exit 1; }

bin=${UNBRICK_BIN:-}
if [ -z "$bin" ]; then
  bin=$work/unbrick
  bash scripts/build-static.sh "$bin" >&2
fi
ov=$work/ovmfvars
go build -o "$ov" ./scripts/ovmfvars

# ---- inputs taken from shim: the 2023 CA certificate, the latest SbatLevel, a 2011-only shim ----
"$ov" shim-ca -ca 2023 "$shim" "$work/ca2023.der" >&2
"$ov" shim-sbatlevel -which latest "$shim" "$work/sbat-latest.txt"
"$ov" shim-sbatlevel -which automatic "$shim" "$work/sbat-auto.txt"
latest_date=$(head -n1 "$work/sbat-latest.txt" | cut -d, -f3)
auto_date=$(head -n1 "$work/sbat-auto.txt" | cut -d, -f3)
say "shim's SbatLevel payloads: automatic $auto_date, latest $latest_date ($(tail -n +2 "$work/sbat-latest.txt" | tr '\n' ' '))"
"$ov" strip-shim -keep 2011 "$shim" "$work/shim-2011only.efi" >&2
# Independent readers: sbverify lists exactly one signature, issued by the 2011 CA;
# osslsigncode (it cannot parse the original's two-entry table) finds one signature
# whose digest matches the file (the Microsoft root is not in the system store, so
# it cannot finish the chain).
sbverify --list "$work/shim-2011only.efi" >"$work/strip.sbverify.txt" 2>&1 || true
nsig=$(grep -c '^signature [0-9]' "$work/strip.sbverify.txt" || true)
[ "$nsig" = 1 ] && grep -q 'issuers:' "$work/strip.sbverify.txt" && grep -A1 'issuers:' "$work/strip.sbverify.txt" | grep -q 'CN=Microsoft Corporation UEFI CA 2011$' \
  || { cat "$work/strip.sbverify.txt" >&2; fail "stripped shim: sbverify --list does not show exactly one signature issued by the 2011 CA"; }
grep -q 'CN=Microsoft UEFI CA 2023' "$work/strip.sbverify.txt" && fail "stripped shim: sbverify still lists the 2023 CA"
if command -v osslsigncode >/dev/null; then
  osslsigncode verify -in "$work/shim-2011only.efi" >"$work/strip.osslsigncode.txt" 2>&1 || true
  cur=$(sed -n 's/^Current message digest *: *//p' "$work/strip.osslsigncode.txt" | tr -d ' ')
  calc=$(sed -n 's/^Calculated message digest *: *//p' "$work/strip.osslsigncode.txt" | tr -d ' ')
  { [ -n "$cur" ] && [ "$cur" = "$calc" ] && [ "$(grep -c '^Signature Index:' "$work/strip.osslsigncode.txt")" = 1 ]; } \
    || fail "stripped shim: osslsigncode does not find exactly one signature with a matching digest"
fi

# ---- variable stores ----
cp "$ovmf/OVMF_VARS_4M.ms.fd" "$work/2011.fd"
"$ov" set -name db -guid d719b2cb-3d3a-4596-a3bc-dad00e67656f -x509 "$work/ca2023.der" \
  -owner 77fa9abd-0359-4d32-bd60-28f4e78f784b "$ovmf/OVMF_VARS_4M.ms.fd" "$work/2023only.fd" >&2
"$ov" set -name SbatLevel -guid 605dab50-e046-4300-abb6-3dd810dd8b23 -attrs 0x3 -data "$work/sbat-latest.txt" \
  "$ovmf/OVMF_VARS_4M.ms.fd" "$work/sbatlatest.fd" >&2
for s in 2011 2023only sbatlatest; do "$ov" list "$work/$s.fd" >"$work/$s.vars.txt"; done
dbguid=d719b2cb-3d3a-4596-a3bc-dad00e67656f shimguid=605dab50-e046-4300-abb6-3dd810dd8b23
"$ov" get -name db -guid $dbguid "$work/2023only.fd" "$work/db2023.esl"
grep -q '^db d719b2cb-3d3a-4596-a3bc-dad00e67656f attrs=NV|BS|RT|AT size=1492$' "$work/2023only.vars.txt" \
  || fail "2023-only store: db is not NV|BS|RT|AT of 28+16+1448 bytes: $(grep '^db ' "$work/2023only.vars.txt")"
[ "$(grep -c '^db ' "$work/2023only.vars.txt")" = 1 ] || fail "2023-only store: not exactly one live db"
grep -q '^SbatLevel 605dab50-e046-4300-abb6-3dd810dd8b23 attrs=NV|BS size=' "$work/sbatlatest.vars.txt" || fail "SbatLevel store: no NV|BS SbatLevel"
grep -q '^SbatLevel ' "$work/2011.vars.txt" && fail "Debian's store already has SbatLevel: the SbatLevel case would test nothing"
for s in 2023only sbatlatest; do # the edit touched nothing else
  diff <(grep -v -e '^db ' -e '^SbatLevel ' -e '^#' "$work/2011.vars.txt") <(grep -v -e '^db ' -e '^SbatLevel ' -e '^#' "$work/$s.vars.txt") >/dev/null \
    || fail "$s store: variables other than db/SbatLevel differ from Debian's"
done

# ---- sticks: plaintext keys (no passphrase to type), mode auto, power off after ----
python3 - "$corpus/manifest.json" "$variant" >"$work/keys.csv" <<'EOF'
import json, sys
v = {x["name"]: x for x in json.load(open(sys.argv[1]))["variants"]}[sys.argv[2]]
print('"Hostname","KeyID","RecoveryKey","Directory"')
for p in v["os_volume"]["bitlocker"]["key_protectors"]:
    if p["type"] == "recovery_password":
        print('"%s","%s","%s","ActiveDirectory"' % (v["host_name"], p["id"], v["os_volume"]["unlock"]["secret"]))
EOF
host=$(python3 -c 'import json,sys; print({x["name"]:x for x in json.load(open(sys.argv[1]))["variants"]}[sys.argv[2]]["host_name"])' "$corpus/manifest.json" "$variant")
"$bin" image build --out "$work/stick.img" --bootchain "$bootchain" --init "$bin" --keys "$work/keys.csv" \
  --plaintext-keys --mode auto --after poweroff >"$work/build.txt" 2>&1 || { cat "$work/build.txt" >&2; say "image build failed"; exit 1; }
# The refused stick: the same image with shim replaced by the 2011-only one in the ESP.
cp "$work/stick.img" "$work/stick-2011only.img"
esp=$(( $(sgdisk -i 1 "$work/stick.img" | awk '/^First sector/{print $3}') * 512 ))
mcopy -o -i "$work/stick-2011only.img@@$esp" "$work/shim-2011only.efi" ::/EFI/BOOT/BOOTX64.EFI
mcopy -n -i "$work/stick-2011only.img@@$esp" ::/EFI/BOOT/BOOTX64.EFI "$work/check.efi"
cmp -s "$work/check.efi" "$work/shim-2011only.efi" || fail "the refused stick's BOOTX64.EFI is not the stripped shim"
mcopy -n -i "$work/stick.img@@$esp" ::/EFI/BOOT/BOOTX64.EFI "$work/check.efi"
cmp -s "$work/check.efi" "$shim" || fail "the stick's BOOTX64.EFI is not Debian's shim"

# refusal SERIAL DEBUGLOG : print the firmware's refusal to load shim from the stick. OVMF's
# BDS reports it on the serial console ("BdsDxe: failed to load Boot0001 "UEFI QEMU QEMU USB
# HARDDRIVE ..." ...: Access Denied", LoadImage's answer when DxeImageVerificationLib finds no
# signature allowed by db); a DEBUG build of OVMF also says why on the debug console (Debian's
# is a RELEASE build, whose debug console stays empty).
refusal() {
  grep -aoE -m1 'BdsDxe: failed to load Boot[0-9A-F]{4} "UEFI QEMU QEMU USB HARDDRIVE[^"]*".*: (Access Denied|Security Violation)' "$1" \
    || grep -aE -m1 'signature is not allowed by DB' "$2"
}

# boot CASE STORE STICK EXPECT(boot|refuse) : one QEMU run; the victim is $work/CASE.disk.
boot() {
  local name=$1 store=$2 stick=$3 expect=$4
  local serial=$work/$name.serial.log dbg=$work/$name.debug.log
  cp "$work/$store.fd" "$work/$name.vars.fd"
  cp "$work/$stick" "$work/$name.img"
  gunzip -c "$corpus/disks/$variant.img.gz" >"$work/$name.disk"
  rm -f "$work/ser.in" "$work/ser.out"; mkfifo "$work/ser.in" "$work/ser.out"
  : >"$serial"; : >"$dbg"
  local limit=$timeout_s; [ "$expect" = refuse ] && limit=$refuse_timeout
  local t0; t0=$(date +%s.%N)
  timeout "$limit" qemu-system-x86_64 -machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on \
    -cpu max -smp 2 -m 1024 -display none -no-reboot -net none \
    -chardev pipe,id=ser0,path="$work/ser" -serial chardev:ser0 \
    -debugcon file:"$dbg" -global isa-debugcon.iobase=0x402 \
    -drive if=pflash,format=raw,unit=0,readonly=on,file="$ovmf/OVMF_CODE_4M.secboot.fd" \
    -drive if=pflash,format=raw,unit=1,file="$work/$name.vars.fd" \
    -drive if=none,id=stick,format=raw,file="$work/$name.img" \
    -device qemu-xhci,id=xhci -device usb-storage,bus=xhci.0,drive=stick,removable=on,bootindex=0 \
    -drive if=none,id=v1,format=raw,file="$work/$name.disk" -device nvme,serial=victim0001,drive=v1 &
  qpid=$!
  cat "$work/ser.out" >"$serial" &
  local cpid=$!
  exec 7>"$work/ser.in"
  local entered=0 refused_at=
  while kill -0 "$qpid" 2>/dev/null; do
    if [ $entered = 0 ] && grep -q 'Press Enter to' "$serial"; then printf '\n' >&7; entered=1; fi
    if [ "$expect" = refuse ] && [ -z "$refused_at" ] && refusal "$serial" "$dbg" >/dev/null; then
      refused_at=$(date +%s.%N)
      # Give a wrongly accepted image time to show itself before stopping QEMU.
      sleep 5
      kill "$qpid" 2>/dev/null || true
      break
    fi
    sleep 0.5
  done
  local rc=0
  wait "$qpid" || rc=$?
  qpid=
  exec 7>&-
  kill "$cpid" 2>/dev/null || true
  wait "$cpid" 2>/dev/null || true
  local end=${refused_at:-$(date +%s.%N)}
  python3 -c "import sys;print(round(float(sys.argv[2])-float(sys.argv[1])))" "$t0" "$end" >"$work/$name.secs"
  local secs; secs=$(cat "$work/$name.secs")
  if [ "$expect" = refuse ]; then
    grep -qa 'EFI stub' "$serial" && fail "$name: the kernel's EFI stub ran: the firmware did NOT refuse the 2011-only shim"
    grep -qa 'reboot: Power down' "$serial" && fail "$name: the stick booted and powered off"
    [ -n "$refused_at" ] || { fail "$name: no refusal of the stick's boot option on the serial or debug console within ${limit}s (qemu rc $rc)"; return 1; }
    say "$name: firmware refused the shim after ${secs}s: $(refusal "$serial" "$dbg" | tr -d '\r')"
    return 0
  fi
  if [ $rc = 124 ]; then fail "$name: no power-off within ${limit}s"; return 1; fi
  [ $rc = 0 ] || { fail "$name: qemu exited $rc"; return 1; }
  grep -qa 'reboot: Power down' "$serial" || fail "$name: the kernel did not power off"
  grep -qa 'EFI stub: UEFI Secure Boot is enabled' "$serial" || fail "$name: EFI stub did not report Secure Boot enabled"
  grep -qaE 'BdsDxe: starting Boot[0-9A-F]{4} "UEFI QEMU QEMU USB HARDDRIVE' "$serial" || fail "$name: OVMF did not start the stick's boot option"
  refusal "$serial" "$dbg" >/dev/null && fail "$name: the firmware refused a boot option: $(refusal "$serial" "$dbg")"
  say "$name: QEMU start -> power-off ${secs}s"
}

# store_after CASE STORE_BEFORE SBAT_PAYLOAD|none : the variable store after the boot. OVMF
# kept our db (it did not reinitialise the store: it still parses and holds the same db), and
# SbatLevel is what shim must have left: the payload given, or none when shim never ran.
store_after() {
  local name=$1 before=$2 sbat=$3
  "$ov" list "$work/$name.vars.fd" >"$work/$name.after.vars.txt" || { fail "$name: the store does not parse after the boot"; return; }
  "$ov" get -name db -guid $dbguid "$work/$before.fd" "$work/$name.db.before"
  "$ov" get -name db -guid $dbguid "$work/$name.vars.fd" "$work/$name.db.after" && cmp -s "$work/$name.db.before" "$work/$name.db.after" \
    || fail "$name: db in the store after the boot is not the one written before it"
  if [ "$sbat" = none ]; then
    if "$ov" get -name SbatLevel -guid $shimguid "$work/$name.vars.fd" "$work/$name.sbat" 2>/dev/null; then
      fail "$name: SbatLevel exists after the boot: shim ran"
    fi
  elif "$ov" get -name SbatLevel -guid $shimguid "$work/$name.vars.fd" "$work/$name.sbat" && cmp -s "$work/$name.sbat" "$sbat"; then
    say "$name: SbatLevel after the boot: $(head -n1 "$work/$name.sbat") ($(grep '^SbatLevel ' "$work/$name.after.vars.txt" | cut -d' ' -f3-))"
  else
    fail "$name: SbatLevel after the boot is not $(head -n1 "$sbat"): $(head -n1 "$work/$name.sbat" 2>/dev/null)"
  fi
}

# check CASE SBAT_DATE : the stick's records and the victim.
check() {
  local name=$1 sbat_date=$2
  "$bin" image logs "$work/$name.img" --cat --extract "$work/$name.stick" >"$work/$name.logs.txt" || { fail "$name: unbrick image logs failed"; return; }
  local recfile; recfile=$(ls "$work/$name.stick"/logs/boot-*.txt 2>/dev/null | tail -n1)
  [ -n "$recfile" ] || { fail "$name: no boot record in logs/ on the stick"; return; }
  local rec; rec=$(tr -d '\r' <"$recfile")
  grep -q '^secure_boot: *on' <<<"$rec" || fail "$name: boot record: $(grep '^secure_boot:' <<<"$rec" || echo 'no secure_boot line')"
  grep -q '^result: *fix exit 0' <<<"$rec" || fail "$name: fix did not exit 0: $(grep '^result:' <<<"$rec")"
  if grep -q '^sbat_level:' <<<"$rec"; then
    grep -q "^sbat_level:.*$sbat_date" <<<"$rec" || fail "$name: sbat_level is not $sbat_date: $(grep '^sbat_level:' <<<"$rec")"
    say "$name: $(grep '^sbat_level:' <<<"$rec")"
  else
    say "$name: NOTE: the boot record has no sbat_level: line (not in this build), SbatLevelRT check skipped"
  fi
  local n; n=$(grep -E '"status" *: *"remediated"' "$work/$name.stick/logs/unbrick.jsonl" 2>/dev/null | grep -c "\"$host\"" || true)
  [ "$n" = 1 ] || fail "$name: expected one remediated record for $host in logs/unbrick.jsonl, found $n"
  if "$corpus/verify" "$work/$name.disk" "$variant" --expect fixed | tail -n1 | grep -q '^verify: PASS'; then
    say "$name: verify $variant --expect fixed: PASS"
  else
    fail "$name: verify $variant --expect fixed did not PASS"
  fi
  rm -f "$work/$name.disk" "$work/$name.img"
}

# One QEMU at a time (2 cores).
if boot 2011 2011 stick.img boot; then store_after 2011 2011 "$work/sbat-auto.txt"; check 2011 "$auto_date"; fi
if boot 2023only 2023only stick.img boot; then
  store_after 2023only 2023only "$work/sbat-auto.txt"
  cmp -s "$work/2023only.db.after" "$work/db2023.esl" || fail "2023only: db after the boot is not the 2023-only list"
  check 2023only "$auto_date"
fi
orig_sha=$(gunzip -c "$corpus/disks/$variant.img.gz" | sha256sum)
if boot refused 2023only stick-2011only.img refuse; then
  store_after refused 2023only none
  [ "$(sha256sum <"$work/refused.disk")" = "$orig_sha" ] || fail "refused: the victim disk was written"
fi
# Shim keeps an SbatLevel not older than its own payload: the latest one must still be there.
if boot sbatlatest sbatlatest stick.img boot; then store_after sbatlatest sbatlatest "$work/sbat-latest.txt"; check sbatlatest "$latest_date"; fi

t() { cat "$work/$1.secs" 2>/dev/null || echo '?'; }
summary="2011: $(t 2011)s, 2023-only: $(t 2023only)s, 2023-only+2011-only shim: refused in $(t refused)s, SbatLevel latest: $(t sbatlatest)s; total ${SECONDS}s"
if [ "$failed" != 0 ]; then say "FAILED ($summary)"; exit 1; fi
say "PASS ($summary)"
