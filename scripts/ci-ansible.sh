#!/usr/bin/env bash
# ci-ansible.sh - scripts/ansible/fix-vm-disks.yml run by ansible-playbook
# (Debian ansible-core) against localhost: it copies the unbrick binary,
# finds the VM disks of a folder (a qcow2 overlay, a fixed VHD, a raw image
# of the plain corpus disk), fixes them, fetches the fleet log and runs
# unbrick report. Checks: every disk remediated, the log fetched, the
# report written. redfish-boot-iso.yml is only
# syntax-checked (no BMC here; community.general is not in ansible-core).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
CORPUS=${UNBRICK_CORPUS:-../shared/corpus}
skip() {
  if [ "${CI:-}" = true ]; then echo "ci-ansible: FAIL (CI=true): $*" >&2; exit 1; fi
  echo "ci-ansible: SKIP: $*" >&2; exit 0
}
[ -f "$CORPUS/manifest.json" ] || skip "corpus not found at $CORPUS"
command -v ansible-playbook >/dev/null || skip "ansible-playbook missing (Debian package ansible-core)"
command -v qemu-img >/dev/null || skip "qemu-img missing (Debian package qemu-utils)"
WORK=$(mktemp -d)
rx=
trap '[ -n "$rx" ] && kill $rx 2>/dev/null; rm -rf "$WORK"' EXIT
fail() { echo "ci-ansible: FAIL $*" >&2; exit 1; }
CGO_ENABLED=0 go build -o "$WORK/unbrick" ./cmd/unbrick
mkdir -p "$WORK/vms"
gunzip -c "$CORPUS/disks/win10-plain-ntfs.img.gz" > "$WORK/vms/base.img.src"
qemu-img create -q -f qcow2 -b base.img.src -F raw "$WORK/vms/vm1.qcow2"
qemu-img convert -f raw -O vpc -o subformat=fixed,force_size=on "$WORK/vms/base.img.src" "$WORK/vms/vm2.vhd"
cp --sparse=always "$WORK/vms/base.img.src" "$WORK/vms/vm3.img"
cat > "$WORK/inventory.ini" <<INV
[hypervisors]
localhost ansible_connection=local ansible_python_interpreter=$(command -v python3)
INV
# a central JSON Lines receiver the play sends records to (unbrick_log_url)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 scripts/logship/receiver.py "$WORK/central.jsonl" "$port" & rx=$!
ANSIBLE_NOCOLOR=1 ANSIBLE_STDOUT_CALLBACK=default ansible-playbook -i "$WORK/inventory.ini" scripts/ansible/fix-vm-disks.yml \
  -e "unbrick_binary=$WORK/unbrick" -e "unbrick_fetch_dir=$WORK/fetched" -e "unbrick_workdir=$WORK/remote" \
  -e "unbrick_log_url=http://127.0.0.1:$port/unbrick" \
  -e "{\"unbrick_disk_dirs\": [\"$WORK/vms\"]}" -e unbrick_wave_size=2 > "$WORK/play.out" 2>&1 ||
  { cat "$WORK/play.out"; fail "ansible-playbook exit $?"; }
log=$WORK/fetched/localhost/unbrick.jsonl
[ -f "$log" ] || { cat "$WORK/play.out"; fail "no fleet log fetched"; }
n=$(grep -c '"status":"remediated"' "$log" || true)
[ "$n" = 3 ] || { cat "$WORK/play.out"; cat "$log"; fail "$n remediated records, want 3 (qcow2 overlay, fixed VHD, raw)"; }
[ "$(grep -c '"status":"remediated"' "$WORK/central.jsonl" 2>/dev/null || true)" = 3 ] || { cat "$WORK/play.out"; fail "the central receiver did not get the 3 records (unbrick_log_url)"; }
grep -q 'base.img.src' "$log" && fail "the base of the overlay was fixed (it is not a VM disk pattern here, and would be refused)"
[ -s "$WORK/fetched/report.csv" ] || fail "unbrick report wrote no CSV"
grep -q 'remediated' "$WORK/play.out" || fail "the report is not in the play output"
ansible-playbook --syntax-check -i scripts/ansible/inventory.example.ini scripts/ansible/fix-vm-disks.yml > /dev/null
if python3 -c "import ansible_collections.community.general" 2>/dev/null; then
  ansible-playbook --syntax-check -i scripts/ansible/inventory.example.ini scripts/ansible/redfish-boot-iso.yml > /dev/null
  echo "ci-ansible: redfish-boot-iso.yml: syntax OK"
else
  echo "ci-ansible: redfish-boot-iso.yml: not checked (community.general is not installed; ansible-core does not ship it)"
fi
echo "ci-ansible: PASS (playbook against localhost: 3 VM disks remediated, log fetched, report merged)"
