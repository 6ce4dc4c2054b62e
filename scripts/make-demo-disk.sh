#!/usr/bin/env bash
# Builds testdata/demo-disk.img.gz: a small GPT disk that looks like a
# bricked Windows host of 19 July 2024, for README's Quick start and tests.
#
# Made only with independent tools (sgdisk, mkfs.vfat, mkntfs, ntfs-3g,
# hivexregedit), never with unbrick's own code:
#   partition 1  EFI system partition (FAT, placeholder boot files)
#   partition 2  Microsoft basic data, NTFS "Windows" with
#                Windows/System32/config/SYSTEM (computer name DEMO-PC-0719),
#                Windows/System32/drivers/CrowdStrike/ holding csagent.sys, an
#                older channel file, the faulty C-00000291-00000000-00000032.sys
#                (last write 2024-07-19 04:09:27 UTC) and the good
#                C-00000291-00000000-00000033.sys (05:27:14 UTC).
#
# Needs root (ntfs-3g FUSE mount), and the Debian packages gdisk dosfstools
# mtools ntfs-3g attr libwin-hivex-perl. The base registry hive is the empty
# hive from libguestfs/hivex that ../shared/corpus/src carries
# (override with HIVE=path).
# Usage: scripts/make-demo-disk.sh [OUT.img.gz]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT=${1:-testdata/demo-disk.img.gz}
HIVE=${HIVE:-../shared/corpus/src/hivex-minimal.hive}
HOST=DEMO-PC-0719
for t in sgdisk mkfs.vfat mcopy mkntfs ntfs-3g setfattr hivexregedit hivexget; do
  command -v $t >/dev/null || { echo "make-demo-disk: $t is missing (apt-get install gdisk dosfstools mtools ntfs-3g attr libwin-hivex-perl)" >&2; exit 1; }
done
[ -f "$HIVE" ] || { echo "make-demo-disk: base hive $HIVE not found (set HIVE=)" >&2; exit 1; }

W=$(mktemp -d)
cleanup() { mountpoint -q "$W/m" 2>/dev/null && umount "$W/m"; rm -rf "$W"; }
trap cleanup EXIT
export LC_ALL=C TZ=UTC MTOOLS_SKIP_CHECK=1

# Layout (512-byte sectors): ESP at LBA 2048 (8 MiB), OS at LBA 18432 (24 MiB).
ESP_START=2048 ESP_SECTORS=16384 OS_START=18432 OS_SECTORS=49152
DISK_SECTORS=$((OS_START + OS_SECTORS + 2048))

# --- registry hive with the computer name
cp "$HIVE" "$W/SYSTEM"; chmod 644 "$W/SYSTEM"
cat >"$W/system.reg" <<REG
Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\\SYSTEM\\Select]
"Current"=dword:00000001
"Default"=dword:00000001
"LastKnownGood"=dword:00000001

[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001]

[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control]

[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\ComputerName]

[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\ComputerName\\ComputerName]
"ComputerName"="$HOST"

[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\TimeZoneInformation]
"Bias"=dword:00000000
"ActiveTimeBias"=dword:00000000

[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Services]

[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Services\\CSAgent]
"Start"=dword:00000001
"DisplayName"="CrowdStrike Falcon"
REG
hivexregedit --merge --prefix 'HKEY_LOCAL_MACHINE\SYSTEM' "$W/SYSTEM" "$W/system.reg"
[ "$(hivexget "$W/SYSTEM" '\ControlSet001\Control\ComputerName\ComputerName' ComputerName)" = "$HOST" ]

# --- ESP
truncate -s $((ESP_SECTORS * 512)) "$W/esp.img"
mkfs.vfat -F 16 -s 1 -n SYSTEM "$W/esp.img" >/dev/null
printf 'MZ placeholder for bootmgfw.efi - demo fixture\r\n' >"$W/bootmgfw.efi"
mmd -i "$W/esp.img" ::/EFI ::/EFI/Microsoft ::/EFI/Microsoft/Boot
mcopy -i "$W/esp.img" "$W/bootmgfw.efi" ::/EFI/Microsoft/Boot/

# --- NTFS
truncate -s $((OS_SECTORS * 512)) "$W/os.img"
mkntfs -Q -F -c 4096 -s 512 -p $OS_START -H 255 -S 63 -L Windows "$W/os.img" >/dev/null
mkdir -p "$W/m"
ntfs-3g -o no_detach,windows_names "$W/os.img" "$W/m" &
for _ in $(seq 50); do mountpoint -q "$W/m" && break; sleep 0.1; done
mountpoint -q "$W/m" || { echo "make-demo-disk: ntfs-3g mount failed" >&2; exit 1; }

R=$W/m
CS=$R/Windows/System32/drivers/CrowdStrike
mkdir -p "$R/Windows/System32/config" "$CS" "$R/Users/Public/Documents" "$R/Program Files/CrowdStrike"
cp "$W/SYSTEM" "$R/Windows/System32/config/SYSTEM"
placeholder() { printf 'MZ placeholder for %s - demo fixture, not a real binary\r\n' "$1"; }
for f in ntoskrnl.exe hal.dll kernel32.dll winload.efi; do placeholder "$f" >"$R/Windows/System32/$f"; done
for f in ntfs.sys disk.sys tcpip.sys; do placeholder "$f" >"$R/Windows/System32/drivers/$f"; done
placeholder csagent.sys >"$CS/csagent.sys"
# channel files: deterministic pseudo-random content
chan() { head -c "$2" </dev/zero | openssl enc -aes-128-ctr -nosalt -pass "pass:$1" 2>/dev/null >"$CS/$1" || python3 -c "import random,sys;r=random.Random(sys.argv[1]);sys.stdout.buffer.write(bytes(r.getrandbits(8) for _ in range(int(sys.argv[2]))))" "$1" "$2" >"$CS/$1"; }
chan C-00000290-00000000-00000015.sys 14308
chan C-00000291-00000000-00000032.sys 40960
chan C-00000291-00000000-00000033.sys 40960
placeholder desktop.ini >"$R/Users/Public/Documents/desktop.ini"

settime() { # PATH "UTC time" [DOS name]
  [ -n "${3:-}" ] && setfattr -n system.ntfs_dos_name -v "$3" "$1"
  touch -d "$2" "$1"
  local s; s=$(date -u -d "$2" +%s)
  # $STANDARD_INFORMATION creation time = same instant (NTFS time: 100 ns since 1601)
  python3 -c "import os,struct,sys;os.setxattr(sys.argv[1],'system.ntfs_crtime',struct.pack('<Q',(int(sys.argv[2])+11644473600)*10**7))" "$1" "$s"
}
settime "$CS/csagent.sys" "2024-07-11 17:31:05"
settime "$CS/C-00000290-00000000-00000015.sys" "2024-07-18 19:51:36" C-0000~1.SYS
settime "$CS/C-00000291-00000000-00000032.sys" "2024-07-19 04:09:27" C-0000~2.SYS
settime "$CS/C-00000291-00000000-00000033.sys" "2024-07-19 05:27:14" C-0000~3.SYS
sync
umount "$W/m"; wait
ntfsfix -n "$W/os.img" >/dev/null

# --- disk
truncate -s $((DISK_SECTORS * 512)) "$W/disk.img"
sgdisk -Z "$W/disk.img" >/dev/null 2>&1 || true
sgdisk -a 2048 -n 1:$ESP_START:+$ESP_SECTORS -t 1:EF00 -c 1:"EFI system partition" \
       -n 2:$OS_START:+$OS_SECTORS -t 2:0700 -c 2:"Basic data partition" "$W/disk.img" >/dev/null
dd if="$W/esp.img" of="$W/disk.img" bs=512 seek=$ESP_START conv=notrunc,sparse status=none
dd if="$W/os.img" of="$W/disk.img" bs=512 seek=$OS_START conv=notrunc,sparse status=none
sgdisk -v "$W/disk.img" >/dev/null
mkdir -p "$(dirname "$OUT")"
gzip -9 -n <"$W/disk.img" >"$OUT"
echo "wrote $OUT ($(du -h "$OUT" | cut -f1) compressed, $((DISK_SECTORS * 512)) bytes)"
