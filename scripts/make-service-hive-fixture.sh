#!/bin/sh
# Builds internal/regf/testdata/system-services.hive.gz, the SYSTEM hive
# fixture of package internal/regf: internal/hostid's system-cs2 hive
# (Select Current = Default = 2, LastKnownGood = 1; 300 services in
# ControlSet002; a UTF-16 key name) with service keys merged in by
# hivexregedit (Debian libwin-hivex-perl), an independent writer.
#
#   CSAgent    Start 1 in both control sets (key spelled "csagent" in 002)
#   Half       Start 4 in ControlSet001, 2 in ControlSet002
#   Off        Start 4 in both (nothing to do)
#   NoStart    no Start value
#   SzStart    Start is a REG_SZ
#   LongStart  Start is type 4 with 5 bytes of data (stored in its own cell)
#   Only1      only in ControlSet001
set -eu
cd "$(dirname "$0")/.."
out=internal/regf/testdata/system-services.hive
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gzip -dc internal/hostid/testdata/system-cs2.hive.gz > "$tmp/h"
svc() { # control set, key, value lines...
	cs=$1 k=$2
	shift 2
	printf '[\\%s\\Services\\%s]\r\n' "$cs" "$k"
	for v in "$@"; do printf '%s\r\n' "$v"; done
	printf '\r\n'
}
{
	printf 'Windows Registry Editor Version 5.00\r\n\r\n'
	printf '[\\ControlSet001\\Services]\r\n\r\n'
	svc ControlSet001 CSAgent '"Start"=dword:00000001' '"Type"=dword:00000002' '"ErrorControl"=dword:00000001'
	svc ControlSet002 csagent '"Start"=dword:00000001' '"Type"=dword:00000002' '"ErrorControl"=dword:00000001'
	svc ControlSet001 Half '"Start"=dword:00000004'
	svc ControlSet002 Half '"Start"=dword:00000002'
	for cs in ControlSet001 ControlSet002; do
		svc $cs Off '"Start"=dword:00000004'
		svc $cs NoStart '"Type"=dword:00000001'
		svc $cs SzStart '"Start"=hex(1):33,00,00,00'
		svc $cs LongStart '"Start"=hex(4):01,00,00,00,00'
	done
	svc ControlSet001 Only1 '"Start"=dword:00000003'
} > "$tmp/services.reg"
hivexregedit --merge "$tmp/h" --prefix '' "$tmp/services.reg"
gzip -9nc "$tmp/h" > "$out.gz"
echo "wrote $out.gz"
