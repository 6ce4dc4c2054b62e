#!/usr/bin/env bash
# Boot-image check of `unbrick wizard`: builds a stick in wizard mode, makes
# the serial line the kernel's /dev/console (the stick's grub.cfg names tty0
# last; this script swaps the two console= arguments with mtools, so the
# wizard runs in accessible mode on the serial line that QEMU hands to this
# script), boots it in QEMU (TCG, OVMF, Secure Boot off) with a victim disk
# as NVMe, answers the wizard's prompts, and measures:
#   QEMU start -> first wizard screen ("Welcome: ...") and
#   first line of unbrick's init -> first wizard screen,
# then checks the victim with ../shared/corpus/verify --expect fixed and the
# stick's fleet log for the confirmation code the wizard showed.
# Slow (about 1-3 minutes); not part of go test.
#
# env: UNBRICK_BOOTCHAIN (default ~/.cache/unbrick/bootchain), UNBRICK_CORPUS
#      (default ../shared/corpus), WIZARD_QEMU_TIMEOUT (s, default 300),
#      WIZARD_QEMU_KEEP=1 keeps the work directory.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$(pwd)
corpus=${UNBRICK_CORPUS:-$repo/../shared/corpus}
bootchain=${UNBRICK_BOOTCHAIN:-$HOME/.cache/unbrick/bootchain}
timeout_s=${WIZARD_QEMU_TIMEOUT:-300}
ovmf=/usr/share/OVMF
variant=win10-xts128-recoverypw
say() { printf 'wizard-qemu: %s\n' "$*" >&2; }
work=$(mktemp -d /tmp/unbrick-wizard-qemu.XXXXXX)
[ "${WIZARD_QEMU_KEEP:-0}" = 1 ] || trap 'rm -rf "$work"' EXIT
for t in qemu-system-x86_64 mtype mcopy sgdisk; do command -v $t >/dev/null || { say "$t missing"; exit 1; }; done
[ -f "$ovmf/OVMF_CODE_4M.fd" ] || { say "OVMF missing (apt-get install ovmf)"; exit 1; }
[ -d "$bootchain" ] || { say "no boot chain at $bootchain (scripts/fetch-bootchain.sh)"; exit 1; }

bin=$work/unbrick
bash scripts/build-static.sh "$bin" >&2
printf 'Computer Name,Key ID,Recovery Password\nW10-XTS128-RP,{3C116B76-C67B-484E-B439-CE2ED68B561E},284867-596541-514998-422114-660297-261613-215424-199408\n' >"$work/keys.csv"
gunzip -c "$corpus/disks/$variant.img.gz" >"$work/victim.img"
"$bin" image build --out "$work/stick.img" --bootchain "$bootchain" --init "$bin" --keys "$work/keys.csv" \
  --plaintext-keys --mode wizard --after poweroff >"$work/build.txt" 2>&1

# /dev/console is the last console= argument: make it the serial line.
start=$(sgdisk -i 1 "$work/stick.img" | awk '/^First sector/{print $3}')
esp="$work/stick.img@@$((start * 512))"
mtype -i "$esp" ::/EFI/debian/grub.cfg | sed 's/console=ttyS0,115200 console=tty0/console=tty0 console=ttyS0,115200/' >"$work/grub.cfg"
grep -q 'console=tty0 console=ttyS0,115200' "$work/grub.cfg" || { say "grub.cfg has no console=ttyS0,115200 console=tty0 to swap"; exit 1; }
mcopy -o -i "$esp" "$work/grub.cfg" ::/EFI/debian/grub.cfg

cp "$ovmf/OVMF_VARS_4M.fd" "$work/vars.fd"
mkfifo "$work/ser.in" "$work/ser.out"
t0=$(date +%s.%N)
timeout "$timeout_s" qemu-system-x86_64 -machine q35 -cpu max -smp 2 -m 1024 \
  -display none -no-reboot -net none -chardev pipe,id=ser0,path="$work/ser" -serial chardev:ser0 \
  -drive if=pflash,format=raw,unit=0,readonly=on,file="$ovmf/OVMF_CODE_4M.fd" \
  -drive if=pflash,format=raw,unit=1,file="$work/vars.fd" \
  -drive if=none,id=stick,format=raw,file="$work/stick.img" \
  -device qemu-xhci,id=xhci -device usb-storage,bus=xhci.0,drive=stick,removable=on,bootindex=0 \
  -drive if=none,id=v1,format=raw,file="$work/victim.img" -device nvme,serial=victim0001,drive=v1 &
qpid=$!
# Time-stamp every serial line as it arrives.
( while IFS= read -r line; do printf '%s %s\n' "$(date +%s.%N)" "${line%$'\r'}"; done <"$work/ser.out" >"$work/serial.log" ) &
rpid=$!
exec 7>"$work/ser.in"
enters=0 confirmed=0
: >"$work/serial.log"
while kill -0 "$qpid" 2>/dev/null; do
  n=$(grep -c 'Press Enter to continue\.' "$work/serial.log" || true)
  n=${n:-0}
  if [ "$n" -gt "$enters" ]; then printf '\r' >&7; enters=$n; fi
  if [ $confirmed = 0 ] && grep -q 'Delete 1 file(s) now?' "$work/serial.log"; then sleep 0.5; printf 'y\r' >&7; confirmed=1; fi
  # init's own "Press Enter to power off" after a problem
  if grep -q 'Press Enter to power off' "$work/serial.log"; then printf '\r' >&7; fi
  sleep 0.2
done
rc=0; wait "$qpid" || rc=$?
exec 7>&-; kill "$rpid" 2>/dev/null || true
[ $rc = 0 ] || { say "FAIL: qemu exited $rc (124 = timeout)"; tail -n 40 "$work/serial.log" >&2; exit 1; }

fail=0
welcome=$(grep -m1 'Welcome: unbrick help-desk wizard' "$work/serial.log" | cut -d' ' -f1 || true)
[ -n "$welcome" ] || { say "FAIL: the wizard's welcome screen never showed on the serial console"; tail -n 60 "$work/serial.log" >&2; exit 1; }
# The init's banner, and its last line before the wizard's first line.
first_init=$(grep -m1 '==== unbrick .*boot-time mode' "$work/serial.log" | cut -d' ' -f1)
handover=$(awk '/unbrick wizard: /{print prev; exit} NF>1{prev=$1}' "$work/serial.log")
grep -q 'accessible mode' "$work/serial.log" && say "mode: $(grep -m1 'accessible mode' "$work/serial.log" | cut -d' ' -f2-)"
python3 - "$t0" "$first_init" "$handover" "$welcome" <<'PY'
import sys
t0, init, hand, wel = map(float, sys.argv[1:])
print("wizard-qemu: first wizard screen: %.2f s after QEMU start, %.2f s after the init's banner, %.2f s after the init's last line before the wizard (TCG)" % (wel - t0, wel - init, wel - hand), file=sys.stderr)
PY
code=$(sed -n 's/^[0-9.]* Confirmation code: *\([0-9A-Z]\{8\}\).*/\1/p' "$work/serial.log" | head -n1)
[ -n "$code" ] || { say "FAIL: no confirmation code on the result screen"; fail=1; }
"$bin" image logs "$work/stick.img" --extract "$work/stick" >/dev/null
if [ -n "$code" ] && grep -q "\"confirmation_code\":\"$code\"" "$work/stick/logs/unbrick.jsonl" 2>/dev/null; then
  say "fleet log on the stick holds the record with code $code"
else
  say "FAIL: the stick's logs/unbrick.jsonl has no record with code '$code'"; fail=1
fi
if "$corpus/verify" "$work/victim.img" "$variant" --expect fixed | tail -n1 | tee "$work/verify.txt" | grep -q '^verify: PASS'; then
  say "verify $variant --expect fixed: PASS"
else
  say "FAIL: verify: $(cat "$work/verify.txt")"; fail=1
fi
[ "${WIZARD_QEMU_KEEP:-0}" = 1 ] && say "work directory kept: $work"
exit $fail
