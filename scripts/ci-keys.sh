#!/usr/bin/env bash
# KEYS: sealed key bundles against the reference age CLI (Debian package
# "age"), which the Go tests use as an independent witness; here the test
# may not skip.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! command -v age >/dev/null || ! command -v age-keygen >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends age
fi
UNBRICK_REQUIRE_AGE=1 go test -count=1 -run 'TestSealInteropWithAgeCLI' ./internal/keys
