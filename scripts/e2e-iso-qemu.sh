#!/usr/bin/env bash
# End-to-end test of the ISO format (not run by CI: one TCG boot takes minutes).
# Builds `unbrick image build --format iso` and a LOGS disk (`--format logs`, plaintext
# keys for the victim), boots the ISO in QEMU as a CD-ROM (SATA/AHCI ide-cd, the only
# boot device) with Secure Boot ON (OVMF_CODE_4M.secboot.fd + a copy of OVMF_VARS_4M.ms.fd),
# the LOGS disk as a virtio disk and the corpus disk win10-xts128-recoverypw as NVMe,
# mode auto, after poweroff. Then it reads the LOGS disk back with `unbrick image logs`
# and checks: QEMU powered off by itself; Secure Boot on and kernel lockdown; the LOGS
# partition found on the virtio disk by its GPT name; the victim disk found and neither
# the CD (sr0) nor the LOGS disk among the victims; the ISO unchanged; fsck.fat -n on
# LOGS after Linux wrote to it; and, when fix is in this build, `verify --expect fixed`
# PASS and a remediated record on the LOGS disk.
#
# Usage: scripts/e2e-iso-qemu.sh   env: UNBRICK_BIN, UNBRICK_BOOTCHAIN, UNBRICK_CORPUS,
#        E2E_TIMEOUT (s, default 600), E2E_KEEP=1 (keep the work dir).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$(pwd)
corpus=${UNBRICK_CORPUS:-$repo/../shared/corpus}
bootchain=${UNBRICK_BOOTCHAIN:-$HOME/.cache/unbrick/bootchain}
timeout_s=${E2E_TIMEOUT:-600}
ovmf=/usr/share/OVMF
variant=win10-xts128-recoverypw

say() { printf 'e2e-iso-qemu: %s\n' "$*" >&2; }
work=$(mktemp -d /tmp/unbrick-e2e-iso.XXXXXX)
failed=0
fail() { say "FAIL: $*"; failed=1; }
finish() {
  if [ "${E2E_KEEP:-0}" = 1 ] || [ "$failed" != 0 ]; then say "work dir kept: $work"; else rm -rf "$work"; fi
}
trap finish EXIT

for f in "$ovmf/OVMF_CODE_4M.secboot.fd" "$ovmf/OVMF_VARS_4M.ms.fd"; do
  [ -f "$f" ] || { say "missing $f: apt-get install ovmf"; exit 1; }
done
for t in qemu-system-x86_64 fsck.fat sgdisk python3; do
  command -v "$t" >/dev/null || { say "$t missing: scripts/install-test-deps.sh"; exit 1; }
done
[ -f "$corpus/manifest.json" ] || { say "corpus not found at $corpus (set UNBRICK_CORPUS)"; exit 1; }
[ -f "$bootchain/MANIFEST" ] || bash scripts/fetch-bootchain.sh "$bootchain" >/dev/null

bin=${UNBRICK_BIN:-}
if [ -z "$bin" ]; then
  bin=$work/unbrick
  bash scripts/build-static.sh "$bin" >&2
fi
fix_on=0
"$bin" fix -h >/dev/null 2>&1 && fix_on=1

{
  echo '"Hostname","KeyID","RecoveryKey","Directory"'
  python3 - "$corpus/manifest.json" "$variant" <<'EOF'
import json, sys
v = {x["name"]: x for x in json.load(open(sys.argv[1]))["variants"]}[sys.argv[2]]
for p in v["os_volume"]["bitlocker"]["key_protectors"]:
    if p["type"] == "recovery_password":
        print('"%s","%s","%s","ActiveDirectory"' % (v["host_name"], p["id"], v["os_volume"]["unlock"]["secret"]))
EOF
} >"$work/keys.csv"
gunzip -c "$corpus/disks/$variant.img.gz" >"$work/victim.img"

t0=$SECONDS
"$bin" image build --format iso --out "$work/unbrick.iso" --bootchain "$bootchain" --init "$bin" --after poweroff >"$work/build-iso.txt" 2>&1 \
  || { cat "$work/build-iso.txt" >&2; say "ISO build failed"; exit 1; }
"$bin" image build --format logs --out "$work/logs.img" --keys "$work/keys.csv" --plaintext-keys --mode auto --after poweroff >"$work/build-logs.txt" 2>&1 \
  || { cat "$work/build-logs.txt" >&2; say "LOGS disk build failed"; exit 1; }
say "built in $((SECONDS - t0))s: $(grep '^[^ ]*: ISO' "$work/build-iso.txt"); $(grep 'LOGS disk' "$work/build-logs.txt")"
iso_sha=$(sha256sum <"$work/unbrick.iso")

cp "$ovmf/OVMF_VARS_4M.ms.fd" "$work/vars.fd"
serial=$work/serial.log
t0=$SECONDS
rc=0
timeout "$timeout_s" qemu-system-x86_64 -machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on \
  -cpu max -smp 2 -m 1024 -display none -no-reboot -net none -serial file:"$serial" \
  -drive if=pflash,format=raw,unit=0,readonly=on,file="$ovmf/OVMF_CODE_4M.secboot.fd" \
  -drive if=pflash,format=raw,unit=1,file="$work/vars.fd" \
  -drive if=none,id=cd,format=raw,media=cdrom,readonly=on,file="$work/unbrick.iso" \
  -device ide-cd,bus=ide.0,drive=cd,bootindex=0 \
  -drive if=none,id=logs,format=raw,file="$work/logs.img" -device virtio-blk-pci,drive=logs \
  -drive if=none,id=v1,format=raw,file="$work/victim.img" -device nvme,serial=victim0001,drive=v1 \
  </dev/null || rc=$?
secs=$((SECONDS - t0))
if [ $rc = 124 ]; then fail "no power-off within ${timeout_s}s"; elif [ $rc != 0 ]; then fail "qemu exited $rc"; fi
grep -q 'reboot: Power down' "$serial" || fail "the kernel did not power off"
grep -q 'EFI stub: UEFI Secure Boot is enabled' "$serial" || fail "EFI stub did not report Secure Boot"
say "QEMU start -> power-off ${secs}s (Secure Boot on, ISO as CD-ROM)"

"$bin" image logs "$work/logs.img" --cat --extract "$work/logs" >"$work/logs.txt" || fail "unbrick image logs on the LOGS disk failed"
rec=$(ls "$work"/logs/logs/boot-*.txt 2>/dev/null | tail -n1 || true)
if [ -z "$rec" ]; then
  fail "no boot record on the LOGS disk"
else
  rec=$(tr -d '\r' <"$rec")
  grep -q '^secure_boot: *on' <<<"$rec" || fail "boot record: secure_boot is not on"
  grep -q '^lockdown: *integrity' <<<"$rec" || fail "boot record: lockdown is not integrity"
  grep -q '^stick: */dev/vda (LOGS = /dev/vda1)$' <<<"$rec" || fail "LOGS not found on the virtio disk: $(grep '^stick:' <<<"$rec")"
  disks=$(sed -n 's/^disks: *//p' <<<"$rec")
  [ "$disks" != "${disks#/dev/nvme0n1 }" ] && [ "$(tr ';' '\n' <<<"$disks" | grep -c /dev/)" = 1 ] \
    || fail "victims should be exactly /dev/nvme0n1, got: $disks"
  unexpected=$(grep '^problem:' <<<"$rec" || true)
  [ -z "$unexpected" ] || fail "problems recorded: $unexpected"
  if [ "$fix_on" = 1 ]; then
    grep -q '^result: *fix exit 0' <<<"$rec" || fail "fix did not exit 0: $(grep '^result:' <<<"$rec")"
    "$corpus/verify" "$work/victim.img" "$variant" --expect fixed | tail -n1 | grep -q '^verify: PASS' \
      || fail "verify $variant --expect fixed did not PASS"
    host=$(python3 -c 'import json,sys; print({x["name"]:x for x in json.load(open(sys.argv[1]))["variants"]}[sys.argv[2]]["host_name"])' "$corpus/manifest.json" "$variant")
    n=$(grep -E '"status" *: *"remediated"' "$work/logs/logs/unbrick.jsonl" 2>/dev/null | grep -c "\"$host\"" || true)
    [ "$n" = 1 ] || fail "expected one remediated record for $host on the LOGS disk, found $n"
  fi
  say "record: $(grep -E '^(stick|disks|modules|result):' <<<"$rec" | tr '\n' ';')"
fi
[ "$(sha256sum <"$work/unbrick.iso")" = "$iso_sha" ] || fail "the ISO changed"
read -r start end < <(sgdisk -i 1 "$work/logs.img" | awk '/^First sector/{s=$3} /^Last sector/{e=$3} END{print s, e}')
dd if="$work/logs.img" of="$work/logs.part" bs=512 skip="$start" count=$((end - start + 1)) status=none
fsck.fat -n "$work/logs.part" >"$work/fsck.txt" 2>&1 || fail "fsck.fat finds problems on LOGS after the run: $(cat "$work/fsck.txt")"

if [ "$failed" != 0 ]; then say "FAILED (serial log: $serial)"; exit 1; fi
say "PASS in ${SECONDS}s (boot ${secs}s; fix assertions $([ "$fix_on" = 1 ] && echo on || echo skipped))"
