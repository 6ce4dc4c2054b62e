#!/usr/bin/env bash
# Wizard end-to-end checks: drives the real unbrick binary in tmux (full
# screen, TERM=linux without terminfo) and through standard input
# (accessible mode) against the fixture corpus, runs `unbrick version` in a
# pseudo-terminal that never answers (script(1)) to check that nothing
# queries the terminal at start, then checks every fixed disk
# with ../shared/corpus/verify (dislocker, ntfs-3g, sleuthkit, libfsntfs;
# needs root and FUSE). Screen captures go to $UNBRICK_ARTIFACTS
# (default: a directory printed below).
set -euo pipefail
cd "$(dirname "$0")/.."
export UNBRICK_ARTIFACTS="${UNBRICK_ARTIFACTS:-$(mktemp -d /tmp/unbrick-wizard-artifacts.XXXXXX)}"
echo "ci-wizard: screen captures and transcripts in $UNBRICK_ARTIFACTS"
command -v tmux >/dev/null || { echo "ci-wizard: tmux is required (apt-get install tmux)"; exit 1; }
# No terminal library may query the terminal from a package init (the
# binary's every subcommand would wait for the answer): bubbletea v1 did
# (OSC 11 + DSR, up to 5 s), and so does lipgloss v2's compat package.
# TestWizardLibrariesSendNoTerminalQueryAtStart below is the behavioural
# check (unbrick version under script(1)); this names the packages.
if bad=$(go list -deps ./cmd/unbrick | grep -xE 'github.com/charmbracelet/(bubbletea|lipgloss|huh)|charm.land/lipgloss/v2/compat'); then
  echo "ci-wizard: the binary links" $bad "(bubbletea v1's package init and lipgloss v2 compat's query the terminal; use charm.land/huh/v2, bubbletea/v2, lipgloss/v2)"; exit 1
fi
set +e
UNBRICK_WIZARD_VERIFY=1 go test ./cmd/unbrick -run 'TestWizard' -count=1 -v 2>&1 | tee "$UNBRICK_ARTIFACTS/go-test.log" | grep -E '^(=== RUN|--- |PASS|FAIL|ok )|verify: |screen captures'
rc=${PIPESTATUS[0]}
set -e
# The boot image in QEMU (wizard on the serial console, then full screen on
# the screen console), when its inputs are here.
bootchain=${UNBRICK_BOOTCHAIN:-$HOME/.cache/unbrick/bootchain}
if [ -d "$bootchain" ] && [ -f /usr/share/OVMF/OVMF_CODE_4M.fd ] && command -v qemu-system-x86_64 >/dev/null; then
  bash scripts/wizard-qemu.sh || rc=1
  # The full-screen wizard on the screen console (the stick's default).
  bash scripts/wizard-vga-qemu.sh || rc=1
else
  echo "ci-wizard: skipping scripts/wizard-qemu.sh and wizard-vga-qemu.sh (need the boot chain at $bootchain, OVMF and qemu-system-x86_64)"
fi
exit "$rc"
