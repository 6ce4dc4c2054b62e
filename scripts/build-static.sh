#!/usr/bin/env bash
# Builds a statically linked linux/amd64 unbrick binary (CGO_ENABLED=0) and
# checks with file(1)/ldd(1) that it has no dynamic dependencies.
# Usage: scripts/build-static.sh [OUT]   (default: ./unbrick)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${1:-./unbrick}
ver=$(git describe --always --dirty 2>/dev/null || echo dev)
CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath \
  -ldflags "-s -w -X main.version=$ver" -o "$out" ./cmd/unbrick
if command -v file >/dev/null; then
  desc=$(file -b "$out")
  case $desc in
    *"statically linked"*|*"static-pie linked"*) ;;
    *) echo "build-static: $out is not statically linked: $desc" >&2; exit 1 ;;
  esac
fi
if ldd "$out" >/dev/null 2>&1; then
  echo "build-static: ldd lists dynamic dependencies for $out" >&2; ldd "$out" >&2; exit 1
fi
echo "built $out ($(du -h "$out" | cut -f1), $ver, static)"
