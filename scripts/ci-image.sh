#!/usr/bin/env bash
# CI for the bootable USB image (run by .ci/run): installs QEMU and OVMF
# when missing, fetches the Debian boot chain (cached between runs in
# ~/.cache/unbrick/bootchain), runs the image tests that need the real boot
# chain, then the QEMU end-to-end test (scripts/e2e-qemu.sh, about 3-5 min
# under TCG). On failure the serial logs are kept; the path is printed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH=/usr/local/go/bin:$PATH
say() { printf 'ci-image: %s\n' "$*" >&2; }

if ! command -v qemu-system-x86_64 >/dev/null || [ ! -f /usr/share/OVMF/OVMF_CODE_4M.secboot.fd ]; then
  say "installing qemu-system-x86 ovmf"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends qemu-system-x86 ovmf >/dev/null
fi
for t in sgdisk fsck.fat mtype; do
  command -v "$t" >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends gdisk dosfstools mtools >/dev/null
done

export UNBRICK_BOOTCHAIN=${UNBRICK_BOOTCHAIN:-$HOME/.cache/unbrick/bootchain}
if [ -f "$UNBRICK_BOOTCHAIN/MANIFEST" ]; then
  say "boot chain cached in $UNBRICK_BOOTCHAIN: $(grep ^kernel_version "$UNBRICK_BOOTCHAIN/MANIFEST")"
else
  bash scripts/fetch-bootchain.sh "$UNBRICK_BOOTCHAIN" >/dev/null
fi

say "image tests with the real boot chain"
UNBRICK_REQUIRE_BOOTCHAIN=1 go test ./image/ -run 'Real' -count=1
say "image build refuses a revoked chain (real boot chain, edited copy)"
UNBRICK_REQUIRE_BOOTCHAIN=1 go test ./cmd/unbrick/ -run 'ImageBuild.*Real' -count=1

art=${E2E_ARTIFACTS:-${TMPDIR:-/tmp}/unbrick-ci-image-artifacts}
say "QEMU end-to-end (serial logs go to $art on failure)"
E2E_ARTIFACTS=$art timeout 900 bash scripts/e2e-qemu.sh
