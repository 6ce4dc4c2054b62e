#!/usr/bin/env bash
# CI for "boot anywhere" (run by .ci/run): five QEMU (TCG) boots with Secure Boot ON
# (OVMF_CODE_4M.secboot.fd + a copy of OVMF_VARS_4M.ms.fd, Microsoft 2011 keys), four of them fixing
# the BitLocker corpus disk win10-xts128-recoverypw (NVMe), against one HTTPS server the test
# runs on loopback (scripts/logship/receiver.py with a CA and server certificate made here;
# QEMU's user-mode network shows the host's loopback as 10.0.2.2):
#
#   netboot  `unbrick image build --netboot TREE --config-url https://10.0.2.2:PORT/unbrick.conf
#            --ca ca.pem`; OVMF boots it over PXE from QEMU's built-in TFTP server
#            (-netdev user,tftp=TREE,bootfile=bootx64.efi): shim -> grubnetx64 -> kernel and
#            initramfs over TFTP. No LOGS disk: the initramfs asks DHCP, fetches unbrick.conf and
#            the key export (keys_url) over HTTPS with the pinned CA, fixes the disk, and sends
#            the fleet record AND the undo journal to log_url.
#   dead     the same tree with grub.cfg naming a port where nothing listens: the screen must say
#            what could not be fetched and what to check, and the disk must stay unchanged.
#   iso      `unbrick image build --format iso --ca ca.pem --keys ... --config ...` as a SATA
#            CD-ROM, with a LOGS disk (--format logs) whose unbrick.conf names log_url: logs and
#            journal on the LOGS disk, the record also delivered to the receiver.
#   stick    the SAME ISO file copied whole onto a larger USB stick (as dd or Rufus' DD mode
#            would): OVMF boots it from the GPT the ISO carries in its system area, and the run
#            uses the ISO's own LOGS partition (keys and unbrick.conf given at build time), with
#            no LOGS disk; the ISO 9660 part of the stick is unchanged afterwards.
#
#   http     UEFI HTTP boot of the netboot tree's unbrick.iso: a tap device (10.0.2.2, the
#            address the guest also uses under user-mode networking), dnsmasq configured with
#            the HTTP boot lines of the tree's README.txt, the tree served over plain HTTP.
#            OVMF downloads the ISO into a RAM disk and boots it as a CD; the initramfs takes
#            the settings from --config-url as in the netboot case. Needs root and
#            /dev/net/tun: where a tap device cannot be made the case is SKIPPED and says so.
#
# Checked for each: QEMU powered off by itself; "EFI stub: UEFI Secure Boot is enabled";
# ../shared/corpus/verify --expect fixed PASS; exactly one "remediated" record for the host at
# the receiver; netboot: `unbrick undo` with the journal the receiver got puts a copy of the
# fixed disk back byte for byte; iso: the record and the journal are also on the LOGS disk;
# stick: they are on the stick's LOGS partition (`unbrick image logs` reads the stick). Prints
# sizes and the wall time from QEMU start to the record received.
#
# Usage: scripts/ci-netboot.sh   env: UNBRICK_BIN, UNBRICK_BOOTCHAIN, UNBRICK_CORPUS,
#        E2E_TIMEOUT (s per boot, default 420), E2E_KEEP=1,
#        NETBOOT_CASES (default "netboot dead iso stick http"; stick needs iso).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$(pwd)
corpus=${UNBRICK_CORPUS:-$repo/../shared/corpus}
bootchain=${UNBRICK_BOOTCHAIN:-$HOME/.cache/unbrick/bootchain}
timeout_s=${E2E_TIMEOUT:-420}
ovmf=/usr/share/OVMF
variant=win10-xts128-recoverypw

cases=" ${NETBOOT_CASES:-netboot dead iso stick http} "
net_secs=- net_rec=- dead_secs=- iso_mib=- iso_secs=- iso_rec=- stick_secs=- stick_rec=- http_secs=- http_rec=- http_note=
want() { case "$cases" in *" $1 "*) return 0 ;; esac; return 1; }

say() { printf 'ci-netboot: %s\n' "$*" >&2; }
work=$(mktemp -d /tmp/unbrick-netboot.XXXXXX)
failed=0
srv_pid= dns_pid= web_pid= tap=
fail() { say "FAIL: $*"; failed=1; }
finish() {
  for p in "$srv_pid" "$dns_pid" "$web_pid"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
  [ -n "$tap" ] && ip link del "$tap" 2>/dev/null
  true
  if [ "$failed" != 0 ]; then
    for f in "$work"/*.serial.log; do [ -f "$f" ] && { say "--- tail of $f"; tail -n 40 "$f" >&2; }; done
  fi
  if [ "${E2E_KEEP:-0}" = 1 ] || [ "$failed" != 0 ]; then say "work dir kept: $work"; else rm -rf "$work"; fi
}
trap finish EXIT

for f in "$ovmf/OVMF_CODE_4M.secboot.fd" "$ovmf/OVMF_VARS_4M.ms.fd"; do
  [ -f "$f" ] || { say "missing $f: scripts/install-test-deps.sh"; exit 1; }
done
for t in qemu-system-x86_64 openssl python3 sgdisk isoinfo; do
  command -v "$t" >/dev/null || { say "$t missing: scripts/install-test-deps.sh"; exit 1; }
done
[ -f "$corpus/manifest.json" ] || { say "corpus not found at $corpus (set UNBRICK_CORPUS)"; exit 1; }
[ -f "$bootchain/MANIFEST" ] && [ -f "$bootchain/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed" ] \
  || bash scripts/fetch-bootchain.sh "$bootchain" >/dev/null

bin=${UNBRICK_BIN:-}
if [ -z "$bin" ]; then
  bin=$work/unbrick
  bash scripts/build-static.sh "$bin" >&2
fi

manifest() { python3 -c 'import json,sys; v={x["name"]:x for x in json.load(open(sys.argv[1]))["variants"]}[sys.argv[2]]; print(eval(sys.argv[3]))' "$corpus/manifest.json" "$variant" "$1"; }
host=$(manifest 'v["host_name"]')

# A CA and a server certificate for 10.0.2.2 (the host as the guest sees it) and 127.0.0.1.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=unbrick test CA" \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign \
  -keyout "$work/ca.key" -out "$work/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=10.0.2.2" \
  -keyout "$work/srv.key" -out "$work/srv.csr" 2>/dev/null
printf 'subjectAltName=IP:10.0.2.2,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$work/srv.ext"
openssl x509 -req -in "$work/srv.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial -days 2 \
  -extfile "$work/srv.ext" -out "$work/srv.pem" 2>/dev/null

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base=https://10.0.2.2:$port
mkdir -p "$work/www"
{
  echo '"Hostname","KeyID","RecoveryKey","Directory"'
  python3 - "$corpus/manifest.json" "$variant" <<'EOF'
import json, sys
v = {x["name"]: x for x in json.load(open(sys.argv[1]))["variants"]}[sys.argv[2]]
for p in v["os_volume"]["bitlocker"]["key_protectors"]:
    if p["type"] == "recovery_password":
        print('"%s","%s","%s","ActiveDirectory"' % (v["host_name"], p["id"], v["os_volume"]["unlock"]["secret"]))
EOF
} >"$work/www/keys.csv"
cat >"$work/www/unbrick.conf" <<EOF
# served to the network-booted machine
mode = auto
after = poweroff
disk_wait = 5
keys_url = keys.csv
log_url = $base/log
EOF
# Bound to every address: user-mode networking reaches it on loopback, the http case on the tap.
RECEIVER_BIND=0.0.0.0 RECEIVER_TLS_CERT=$work/srv.pem RECEIVER_TLS_KEY=$work/srv.key \
  python3 scripts/logship/receiver.py "$work/received.jsonl" "$port" "$work/www" 2>"$work/receiver.err" &
srv_pid=$!
for _ in $(seq 50); do curl -sf --cacert "$work/ca.pem" --resolve "10.0.2.2:$port:127.0.0.1" "$base/unbrick.conf" >/dev/null && break; sleep 0.2; done
curl -sf --cacert "$work/ca.pem" --resolve "10.0.2.2:$port:127.0.0.1" "$base/unbrick.conf" >/dev/null \
  || { fail "the test HTTPS server did not come up: $(cat "$work/receiver.err")"; exit 1; }

# boot NAME DEVICE_ARGS... : Secure Boot on, serial log, bounded; sets secs and t_start.
boot() {
  local name=$1; shift
  cp "$ovmf/OVMF_VARS_4M.ms.fd" "$work/$name.vars.fd"
  local rc=0
  t_start=$(date +%s.%N)
  timeout "$timeout_s" qemu-system-x86_64 -machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on \
    -cpu max -smp 2 -m 1536 -display none -no-reboot -serial file:"$work/$name.serial.log" \
    -drive if=pflash,format=raw,unit=0,readonly=on,file="$ovmf/OVMF_CODE_4M.secboot.fd" \
    -drive if=pflash,format=raw,unit=1,file="$work/$name.vars.fd" \
    "$@" </dev/null || rc=$?
  secs=$(python3 -c "import time; print(round(time.time() - $t_start))")
  if [ $rc = 124 ]; then fail "$name: no power-off within ${timeout_s}s"; elif [ $rc != 0 ]; then fail "$name: qemu exited $rc"; fi
  grep -q 'reboot: Power down' "$work/$name.serial.log" || fail "$name: the kernel did not power off"
  grep -q 'EFI stub: UEFI Secure Boot is enabled' "$work/$name.serial.log" || fail "$name: EFI stub did not report Secure Boot"
}
# check_fixed NAME IMG: verify PASS and one remediated record for the host at the receiver
# (counted in the records received since the mark); prints the time from QEMU start to the record.
check_fixed() {
  local name=$1 img=$2 n
  "$corpus/verify" "$img" "$variant" --expect fixed | tail -n1 | grep -q '^verify: PASS' \
    || fail "$name: verify $variant --expect fixed did not PASS"
  n=$(tail -c +"$((mark + 1))" "$work/received.jsonl" 2>/dev/null | grep -E '"status" *: *"remediated"' | grep -c "\"$host\"" || true)
  [ "$n" = 1 ] || fail "$name: expected one remediated record for $host at the receiver, got $n"
  rec_at=$(stat -c %Y "$work/received.jsonl" 2>/dev/null || echo 0)
  rec_secs=$(python3 -c "print(round($rec_at - $t_start))")
}

# --- netboot ---
t0=$SECONDS
"$bin" image build --netboot "$work/tree" --config-url "$base/unbrick.conf" --ca "$work/ca.pem" \
  --bootchain "$bootchain" --init "$bin" >"$work/build-net.txt" 2>&1 || { cat "$work/build-net.txt" >&2; fail "netboot build failed"; exit 1; }
tree_mib=$(du -sm "$work/tree" | cut -f1)
grep -q "unbrick.config=$base/unbrick.conf" "$work/tree/grub/grub.cfg" || fail "grub.cfg lacks unbrick.config"
(cd "$work/tree" && sha256sum -c --quiet SHA256SUMS) || fail "SHA256SUMS does not match the tree"
sbverify --list "$work/tree/bootx64.efi" 2>/dev/null | grep -q 'Microsoft Corporation UEFI CA 2011' || fail "bootx64.efi is not the Microsoft-signed shim"
sbverify --list "$work/tree/grubx64.efi" 2>/dev/null | grep -qi 'debian' || fail "grubx64.efi is not Debian-signed"
say "netboot tree built in $((SECONDS - t0))s: ${tree_mib} MiB ($(grep -o 'initramfs [0-9.]* MiB' "$work/build-net.txt" | head -1))"
if want netboot; then
gunzip -c "$corpus/disks/$variant.img.gz" >"$work/net-victim.img"
mark=$(stat -c %s "$work/received.jsonl" 2>/dev/null || echo 0)
boot net -netdev user,id=n0,tftp="$work/tree",bootfile=bootx64.efi -device virtio-net-pci,netdev=n0,romfile=,bootindex=0 \
  -drive if=none,id=v1,format=raw,file="$work/net-victim.img" -device nvme,serial=victim0001,drive=v1
net_secs=$secs
grep -q 'Network: .*(DHCP server' "$work/net.serial.log" || fail "netboot: no DHCP lease reported"
check_fixed netboot "$work/net-victim.img"
net_rec=$rec_secs
nj=$(ls "$work/received.jsonl.journals" 2>/dev/null | wc -l)
[ "$nj" -ge 1 ] || fail "netboot: the receiver got no undo journal"
for j in "$work"/received.jsonl.journals/*; do
  [ -f "$j" ] || continue
  # The received journal must be one unbrick undo can use: undo it on a copy of the fixed
  # disk, and the copy must be byte for byte the corpus disk before the fix.
  cp "$work/net-victim.img" "$work/net-undo.img"
  if "$bin" undo --journal "$j" --log "$work/undo-logs" "$work/net-undo.img" >"$work/undo.txt" 2>&1; then
    gunzip -c "$corpus/disks/$variant.img.gz" | cmp -s - "$work/net-undo.img" \
      || fail "netboot: undo with the received journal did not give back the original disk"
  else
    fail "netboot: unbrick undo refused the received journal: $(tail -n3 "$work/undo.txt")"
  fi
  rm -f "$work/net-undo.img"
  break
done
say "netboot: QEMU start -> power-off ${net_secs}s, -> record received ${net_rec}s; $nj journal(s) received"
fi

# --- netboot, settings server unreachable: a clear screen message, nothing changed ---
if want dead; then
# The same tree with grub.cfg pointing at a port where nothing listens (grub.cfg is not
# signed: it is what a site edits). The machine must say so on screen and touch no disk;
# QEMU is stopped once the message is there (the machine would wait 60 s for Enter).
cp -r "$work/tree" "$work/tree-dead"
dead=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sed -i "s|unbrick.config=$base/|unbrick.config=https://10.0.2.2:$dead/|" "$work/tree-dead/grub/grub.cfg"
gunzip -c "$corpus/disks/$variant.img.gz" >"$work/dead-victim.img"
cp "$ovmf/OVMF_VARS_4M.ms.fd" "$work/dead.vars.fd"
t_start=$(date +%s.%N)
timeout "$timeout_s" qemu-system-x86_64 -machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on \
  -cpu max -smp 2 -m 1536 -display none -no-reboot -serial file:"$work/dead.serial.log" \
  -drive if=pflash,format=raw,unit=0,readonly=on,file="$ovmf/OVMF_CODE_4M.secboot.fd" \
  -drive if=pflash,format=raw,unit=1,file="$work/dead.vars.fd" \
  -netdev user,id=n0,tftp="$work/tree-dead",bootfile=bootx64.efi -device virtio-net-pci,netdev=n0,romfile=,bootindex=0 \
  -drive if=none,id=v1,format=raw,file="$work/dead-victim.img" -device nvme,serial=victim0001,drive=v1 </dev/null &
qpid=$!
seen=0
for _ in $(seq "$timeout_s"); do
  if grep -aq 'Not everything went well' "$work/dead.serial.log" 2>/dev/null; then seen=1; break; fi
  kill -0 "$qpid" 2>/dev/null || break
  sleep 1
done
dead_secs=$(python3 -c "import time; print(round(time.time() - $t_start))")
kill "$qpid" 2>/dev/null || true
wait "$qpid" 2>/dev/null || true
if [ "$seen" = 1 ]; then
  grep -aq "PROBLEM: CANNOT GET THE SETTINGS: settings (unbrick.conf) https://10.0.2.2:$dead/unbrick.conf: cannot fetch: .*check the server is up and reachable" "$work/dead.serial.log" \
    || fail "unreachable settings: the screen does not say what could not be fetched and what to check"
  grep -aq 'result: *not run: no settings' "$work/dead.serial.log" || fail "unreachable settings: the summary does not say 'not run: no settings'"
else
  fail "unreachable settings: no 'Not everything went well' prompt within ${dead_secs}s"
fi
gunzip -c "$corpus/disks/$variant.img.gz" | cmp -s - "$work/dead-victim.img" || fail "unreachable settings: the disk was changed"
rm -f "$work/dead-victim.img"
say "netboot, settings unreachable: message on screen after ${dead_secs}s, disk unchanged"
fi

# --- ISO with a LOGS disk, record delivered ---
if want iso || want stick; then
t0=$SECONDS
printf 'mode = auto\nafter = poweroff\ndisk_wait = 5\nlog_url = %s/log\n' "$base" >"$work/logs.conf"
# The ISO carries keys and settings for its stick view too: as a CD it cannot show them.
"$bin" image build --format iso --out "$work/unbrick.iso" --ca "$work/ca.pem" --bootchain "$bootchain" --init "$bin" \
  --keys "$work/www/keys.csv" --plaintext-keys --config "$work/logs.conf" \
  >"$work/build-iso.txt" 2>&1 || { cat "$work/build-iso.txt" >&2; fail "ISO build failed"; exit 1; }
"$bin" image build --format logs --out "$work/logs.img" --keys "$work/www/keys.csv" --plaintext-keys --config "$work/logs.conf" \
  >"$work/build-logs.txt" 2>&1 || { cat "$work/build-logs.txt" >&2; fail "LOGS disk build failed"; exit 1; }
iso_mib=$(( $(stat -c %s "$work/unbrick.iso") >> 20 ))
say "ISO built in $((SECONDS - t0))s: ${iso_mib} MiB"
fi
if want iso; then
gunzip -c "$corpus/disks/$variant.img.gz" >"$work/iso-victim.img"
mark=$(stat -c %s "$work/received.jsonl" 2>/dev/null || echo 0)
boot iso -drive if=none,id=cd,format=raw,media=cdrom,readonly=on,file="$work/unbrick.iso" -device ide-cd,bus=ide.0,drive=cd,bootindex=0 \
  -drive if=none,id=logs,format=raw,file="$work/logs.img" -device virtio-blk-pci,drive=logs \
  -netdev user,id=n0 -device virtio-net-pci,netdev=n0,romfile= \
  -drive if=none,id=v1,format=raw,file="$work/iso-victim.img" -device nvme,serial=victim0001,drive=v1
iso_secs=$secs
check_fixed iso "$work/iso-victim.img"
iso_rec=$rec_secs
"$bin" image logs "$work/logs.img" --extract "$work/logs" >/dev/null || fail "iso: unbrick image logs failed"
n=$(grep -E '"status" *: *"remediated"' "$work/logs/logs/unbrick.jsonl" 2>/dev/null | grep -c "\"$host\"" || true)
[ "$n" = 1 ] || fail "iso: expected the remediated record on the LOGS disk too, found $n"
ls "$work"/logs/journal/* >/dev/null 2>&1 || fail "iso: no undo journal on the LOGS disk"
say "iso: QEMU start -> power-off ${iso_secs}s, -> record received ${iso_rec}s"
fi

# --- the same ISO file written to a (larger) USB stick: its own LOGS partition serves ---
if want stick; then
vol_bytes=$(isoinfo -d -i "$work/unbrick.iso" | sed -n 's/^Volume size is: //p')
vol_bytes=$((vol_bytes * 2048))
cp "$work/unbrick.iso" "$work/stick.img"
truncate -s +64M "$work/stick.img" # a stick is larger than the image: the backup GPT is not at its end
gunzip -c "$corpus/disks/$variant.img.gz" >"$work/stick-victim.img"
mark=$(stat -c %s "$work/received.jsonl" 2>/dev/null || echo 0)
boot stick -device qemu-xhci -drive if=none,id=stick,format=raw,file="$work/stick.img" -device usb-storage,drive=stick,bootindex=0 \
  -netdev user,id=n0 -device virtio-net-pci,netdev=n0,romfile= \
  -drive if=none,id=v1,format=raw,file="$work/stick-victim.img" -device nvme,serial=victim0001,drive=v1
stick_secs=$secs
check_fixed stick "$work/stick-victim.img"
stick_rec=$rec_secs
grep -aq 'Stick: /dev/sd[a-z] (LOGS = /dev/sd[a-z]2)' "$work/stick.serial.log" || fail "stick: the run did not use the ISO's own LOGS partition"
"$bin" image logs "$work/stick.img" --extract "$work/stick-logs" >/dev/null || fail "stick: unbrick image logs on the stick failed"
n=$(grep -E '"status" *: *"remediated"' "$work/stick-logs/logs/unbrick.jsonl" 2>/dev/null | grep -c "\"$host\"" || true)
[ "$n" = 1 ] || fail "stick: expected the remediated record on the stick's LOGS partition, found $n"
ls "$work"/stick-logs/journal/* >/dev/null 2>&1 || fail "stick: no undo journal on the stick's LOGS partition"
cmp -s -n "$vol_bytes" "$work/unbrick.iso" "$work/stick.img" || fail "stick: the ISO 9660 part of the stick was changed"
say "stick (the ISO file on a USB stick): QEMU start -> power-off ${stick_secs}s, -> record received ${stick_rec}s"
fi

# --- UEFI HTTP boot of the tree's unbrick.iso, DHCP from dnsmasq with the README's lines ---
if want http; then
  http_note=
  tap=ubk$$
  if ! command -v dnsmasq >/dev/null; then
    fail "http: dnsmasq missing: scripts/install-test-deps.sh"
  elif ip -4 addr | grep -q 'inet 10\.0\.2\.'; then
    http_note="SKIPPED: this machine already has an address in 10.0.2.0/24"; tap=
  elif ! ip tuntap add "$tap" mode tap 2>"$work/tap.err"; then
    http_note="SKIPPED: cannot create a tap device (needs root and /dev/net/tun): $(head -c 200 "$work/tap.err")"; tap=
  fi
  if [ -n "$http_note" ]; then
    say "http: $http_note"
  elif [ -n "$tap" ]; then
    ip addr add 10.0.2.2/24 dev "$tap" && ip link set "$tap" up
    hport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    python3 -m http.server --bind 10.0.2.2 "$hport" --directory "$work/tree" >"$work/http.log" 2>&1 &
    web_pid=$!
    # The dnsmasq lines for HTTP boot exactly as the tree's README.txt gives them, with this
    # server's URL in place of the example's.
    tr -d '\r' <"$work/tree/README.txt" | sed -n '/^DHCP, UEFI HTTP boot/,/ISC dhcpd/p' \
      | sed -n 's/^ *\(dnsmasq: *\)\{0,1\}\([a-z-]*=.*\)$/\2/p' \
      | sed "s|http://192.0.2.10/unbrick-netboot/|http://10.0.2.2:$hport/|" >"$work/dnsmasq-readme.conf"
    grep -q 'dhcp-boot=tag:efihttp,http://10.0.2.2:.*/unbrick.iso' "$work/dnsmasq-readme.conf" \
      || fail "http: README.txt has no dnsmasq HTTP boot line for unbrick.iso: $(cat "$work/dnsmasq-readme.conf")"
    {
      printf 'port=0\ninterface=%s\nbind-interfaces\nuser=root\nlog-dhcp\n' "$tap"
      printf 'dhcp-range=10.0.2.50,10.0.2.99,255.255.255.0,1h\ndhcp-leasefile=%s\n' "$work/leases"
      cat "$work/dnsmasq-readme.conf"
    } >"$work/dnsmasq.conf"
    dnsmasq --keep-in-foreground --conf-file="$work/dnsmasq.conf" --log-facility="$work/dnsmasq.log" &
    dns_pid=$!
    sleep 1
    kill -0 "$dns_pid" 2>/dev/null || fail "http: dnsmasq did not start: $(tail -n3 "$work/dnsmasq.log" 2>/dev/null)"
    gunzip -c "$corpus/disks/$variant.img.gz" >"$work/http-victim.img"
    mark=$(stat -c %s "$work/received.jsonl" 2>/dev/null || echo 0)
    # OVMF would try PXE (IPv4, IPv6) first and wait for offers that never come: switched off.
    boot http -netdev tap,id=n0,ifname="$tap",script=no,downscript=no -device virtio-net-pci,netdev=n0,romfile=,bootindex=0 \
      -fw_cfg name=opt/org.tianocore/IPv4PXESupport,string=n -fw_cfg name=opt/org.tianocore/IPv6PXESupport,string=n \
      -drive if=none,id=v1,format=raw,file="$work/http-victim.img" -device nvme,serial=victim0001,drive=v1
    http_secs=$secs
    grep -aq 'Start HTTP Boot over IPv4' "$work/http.serial.log" || fail "http: OVMF did not start an HTTP boot"
    grep -q 'GET /unbrick.iso ' "$work/http.log" || fail "http: the firmware did not download unbrick.iso"
    grep -q 'vendor class: HTTPClient' "$work/dnsmasq.log" || fail "http: dnsmasq saw no HTTPClient request"
    check_fixed http "$work/http-victim.img"
    http_rec=$rec_secs
    say "http (UEFI HTTP boot of unbrick.iso): QEMU start -> power-off ${http_secs}s, -> record received ${http_rec}s"
  fi
fi

if grep -q "$(manifest 'v["os_volume"]["unlock"]["secret"]')" "$work/received.jsonl" "$work"/*.serial.log 2>/dev/null; then
  fail "a recovery password reached the receiver or a console"
fi
if [ "$failed" != 0 ]; then say "FAILED"; exit 1; fi
say "PASS (netboot tree ${tree_mib} MiB: power-off ${net_secs}s, record at ${net_rec}s; unreachable settings reported at ${dead_secs}s; ISO ${iso_mib} MiB: power-off ${iso_secs}s, record at ${iso_rec}s; as a stick: power-off ${stick_secs}s, record at ${stick_rec}s; HTTP boot: ${http_note:-power-off ${http_secs}s, record at ${http_rec}s})"
