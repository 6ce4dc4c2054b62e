#!/usr/bin/env bash
# Fetches the Secure Boot chain for the unbrick USB image from Debian's
# archive and unpacks it into a cache directory, without root:
#
#   shim-signed                 Microsoft-signed shim  -> usr/lib/shim/shimx64.efi.signed
#   shim-helpers-amd64-signed   Debian-signed MokManager (mmx64.efi.signed); fbx64 is never used
#   grub-efi-amd64-signed       Debian-signed grub (usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed,
#                               and grubnetx64.efi.signed for the network boot tree)
#   linux-image-VERSION         ONE versioned, Debian-signed kernel: boot/vmlinuz-VERSION and its
#                               lib/modules/VERSION (kernel and modules always from this one package,
#                               because each kernel build signs its modules with a fresh key)
#   busybox-static              a shell, only copied into the initramfs for `--after shell`
#
# Usage: scripts/fetch-bootchain.sh [DIR]
#   DIR defaults to $UNBRICK_BOOTCHAIN or ~/.cache/unbrick/bootchain.
#   KERNEL=linux-image-6.1.0-56-amd64 picks a kernel package; default: the one linux-image-amd64
#   depends on.
# Writes DIR/MANIFEST (key=value: package versions, .deb and file sha256) which
# `unbrick image build --bootchain DIR` reads. An existing complete cache is replaced.
set -euo pipefail

dir=${1:-${UNBRICK_BOOTCHAIN:-$HOME/.cache/unbrick/bootchain}}
say() { printf 'fetch-bootchain: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

for t in apt-get apt-cache dpkg-deb sha256sum; do
  command -v "$t" >/dev/null || die "$t not found: run this on Debian/Ubuntu (apt and dpkg are needed)"
done

if [ "$(id -u)" = 0 ]; then
  say "apt-get update"
  apt-get update -qq || say "apt-get update failed; trying with the current package lists"
else
  say "not root: skipping apt-get update (package lists may be old; run 'sudo apt-get update' if a download fails)"
fi

kernel=${KERNEL:-}
if [ -z "$kernel" ]; then
  kernel=$(apt-cache depends linux-image-amd64 2>/dev/null |
    awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
  [ -n "$kernel" ] || die "cannot resolve linux-image-amd64 to a versioned kernel package (apt-cache depends); set KERNEL=linux-image-X.Y.Z-N-amd64"
fi
case $kernel in
  linux-image-*-amd64) ;;
  *) die "KERNEL=$kernel is not a versioned signed kernel package (linux-image-X.Y.Z-N-amd64)" ;;
esac
kver=${kernel#linux-image-}

pkgs=(shim-signed shim-helpers-amd64-signed grub-efi-amd64-signed "$kernel" busybox-static)

tmp=$(mktemp -d)
chmod 755 "$tmp" # apt's _apt user downloads into it when we are root
trap 'rm -rf "$tmp"' EXIT
say "downloading ${pkgs[*]}"
(cd "$tmp" && apt-get download "${pkgs[@]}") >&2 ||
  die "apt-get download failed (is the package list current? is a Debian archive reachable?)"

stage=$tmp/root
mkdir -p "$stage"
{
  echo "# unbrick boot chain, fetched $(date -u +%Y-%m-%dT%H:%M:%SZ) by scripts/fetch-bootchain.sh"
  echo "kernel_version=$kver"
} >"$tmp/MANIFEST"
for p in "${pkgs[@]}"; do
  deb=$(ls "$tmp"/"${p}"_*.deb 2>/dev/null | head -n1)
  [ -n "$deb" ] || die "apt-get download produced no .deb for $p"
  ver=$(dpkg-deb -f "$deb" Version)
  sum=$(sha256sum "$deb" | cut -d' ' -f1)
  say "unpacking $p $ver"
  dpkg-deb -x "$deb" "$stage"
  echo "package.$p=$ver sha256:$sum"
done >>"$tmp/MANIFEST"

files=(
  usr/lib/shim/shimx64.efi.signed
  usr/lib/shim/mmx64.efi.signed
  usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed
  usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed
  "boot/vmlinuz-$kver"
  "boot/config-$kver"
  "lib/modules/$kver/modules.order"
  bin/busybox
)
for f in "${files[@]}"; do
  [ -f "$stage/$f" ] || die "expected file $f is missing from the unpacked packages"
  echo "file.$f=sha256:$(sha256sum "$stage/$f" | cut -d' ' -f1)"
done >>"$tmp/MANIFEST"
mv "$tmp/MANIFEST" "$stage/MANIFEST"

# Replace the cache in one step. The whole kernel package is kept (image.Options.Modules may name any module).
mkdir -p "$(dirname "$dir")"
rm -rf "$dir.new"
mv "$stage" "$dir.new"
rm -rf "$dir"
mv "$dir.new" "$dir"
say "boot chain in $dir (kernel $kver, $(du -sh "$dir" | cut -f1))"
echo "$dir"
