#!/usr/bin/env bash
# Full decrypt of a 64 MiB BitLocker volume (corpus src/recovery_password.bin,
# AES-XTS-128, recovery password protector): `unbrick bitlocker decrypt`
# against `dislocker-file` on the same volume, same machine, same run, with
# hyperfine. Both include the 2^20-round key derivation. Also runs the Go
# benchmarks of the bitlocker package for the in-process numbers.
#
# usage: scripts/bench-bitlocker.sh [CORPUS_DIR]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
corpus=${1:-${UNBRICK_CORPUS:-../shared/corpus}}
for tool in hyperfine dislocker-file go; do
  command -v "$tool" >/dev/null || { echo "bench-bitlocker: $tool is not installed" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
gunzip -c "$corpus/src/recovery_password.bin.gz" > "$work/vol.bin"
go build -o "$work/unbrick" ./cmd/unbrick
rp=284867-596541-514998-422114-660297-261613-215424-199408
export UNBRICK_RECOVERY_PASSWORD=$rp
hyperfine --warmup 2 --runs 10 \
  --prepare "rm -f $work/a.out $work/b.out" \
  -n "unbrick bitlocker decrypt" "$work/unbrick bitlocker decrypt --out $work/a.out $work/vol.bin" \
  -n "dislocker-file" "dislocker-file -V $work/vol.bin -p$rp -- $work/b.out"
rm -f "$work/a.out" "$work/b.out"   # dislocker-file refuses to overwrite
"$work/unbrick" bitlocker decrypt --out "$work/a.out" "$work/vol.bin" 2>/dev/null
dislocker-file -V "$work/vol.bin" -p$rp -- "$work/b.out" >/dev/null 2>&1
cmp "$work/a.out" "$work/b.out" && echo "bench-bitlocker: outputs are byte-identical"
go test ./bitlocker -run '^$' -bench 'DecryptVolume|UnlockAndDecrypt|DislockerFile|Stretch' -benchtime 5x
