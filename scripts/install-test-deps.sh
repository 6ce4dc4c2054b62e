#!/usr/bin/env bash
# Installs the Debian packages the tests and CI need, listed once in
# scripts/test-packages.txt. Needs root (or sudo) on Debian 12 or later.
# Usage: scripts/install-test-deps.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mapfile -t pkgs < <(grep -v '^\s*#' scripts/test-packages.txt | grep -v '^\s*$')
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update
$sudo apt-get install -y --no-install-recommends "${pkgs[@]}"
$sudo modprobe fuse 2>/dev/null || true
$sudo modprobe loop 2>/dev/null || true
echo "install-test-deps: ${#pkgs[@]} packages installed"
