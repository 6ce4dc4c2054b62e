#!/usr/bin/env bash
# ci-logship.sh - fleet log shipping against real receivers: rsyslog
# (Debian package, started here on loopback with imtcp, RFC 5424,
# octet-counted framing) and a JSON Lines HTTP receiver
# (scripts/logship/receiver.py).
#   1. fix over 40 qcow2 overlays of a BitLocker corpus disk with
#      --log-url and --syslog; both receivers are stopped mid-run and
#      started again: every record arrives once, in order, at each.
#   2. A run while both are down: the records are spooled, the run says
#      so; once they are back, `unbrick ship` delivers them: still every
#      record of both runs once, in order.
#   3. No recovery password reaches either receiver.
# Needs root (the corpus disks' qemu-nbd path does not, but verify does),
# qemu-utils, rsyslog, python3. Run from the repository.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
CORPUS=${UNBRICK_CORPUS:-../shared/corpus}
skip() {
  if [ "${CI:-}" = true ]; then echo "ci-logship: FAIL (CI=true): $*" >&2; exit 1; fi
  echo "ci-logship: SKIP: $*" >&2; exit 0
}
[ -f "$CORPUS/manifest.json" ] || skip "corpus not found at $CORPUS"
for t in qemu-img qemu-nbd rsyslogd python3; do command -v "$t" >/dev/null || skip "missing $t (Debian packages qemu-utils, rsyslog, python3)"; done
WORK=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
fail() { echo "ci-logship: FAIL $*" >&2; exit 1; }
BIN=$WORK/unbrick
go build -o "$BIN" ./cmd/unbrick
export UNBRICK_RECOVERY_PASSWORD=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(next(v for v in m["variants"] if v["name"]=="win10-xts128-recoverypw")["os_volume"]["unlock"]["secret"])' "$CORPUS/manifest.json")
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
HPORT=$(freeport)
SPORT=$(freeport)
mkdir -p "$WORK/rs"
cat > "$WORK/rsyslog.conf" <<CONF
global(workDirectory="$WORK/rs" maxMessageSize="64k")
module(load="imtcp")
template(name="unbrick" type="string" string="%structured-data% %msg%\n")
ruleset(name="unbrick") { action(type="omfile" file="$WORK/syslog.out" template="unbrick") }
input(type="imtcp" address="127.0.0.1" port="$SPORT" ruleset="unbrick")
CONF
rsyslogd -N1 -f "$WORK/rsyslog.conf" > "$WORK/rsyslog.check" 2>&1 || { cat "$WORK/rsyslog.check"; fail "rsyslog refuses the test configuration"; }
rs_pid=; rx_pid=
start_receivers() {
  rsyslogd -n -f "$WORK/rsyslog.conf" -i "$WORK/rs/pid" > "$WORK/rsyslog.log" 2>&1 & rs_pid=$!
  python3 scripts/logship/receiver.py "$WORK/http.out" "$HPORT" & rx_pid=$!
  pids+=("$rs_pid" "$rx_pid")
  for _ in $(seq 100); do
    if (echo > /dev/tcp/127.0.0.1/$SPORT) 2>/dev/null && (echo > /dev/tcp/127.0.0.1/$HPORT) 2>/dev/null; then return; fi
    sleep 0.1
  done
  cat "$WORK/rsyslog.log"; fail "the receivers did not start"
}
stop_receivers() {
  kill -TERM "$rs_pid" "$rx_pid"
  wait "$rs_pid" "$rx_pid" 2>/dev/null || true
}
lines() { [ -f "$1" ] && wc -l < "$1" || echo 0; }
SHIP=(--log-url "http://127.0.0.1:$HPORT/unbrick" --syslog "tcp://127.0.0.1:$SPORT")

vms=$WORK/vms
mkdir -p "$vms"
gunzip -c "$CORPUS/disks/win10-xts128-recoverypw.img.gz" > "$vms/base.raw"
for i in $(seq -w 1 50); do qemu-img create -q -f qcow2 -b base.raw -F raw "$vms/vm$i.qcow2"; done
ls "$vms"/vm*.qcow2 | head -40 > "$WORK/list1"
ls "$vms"/vm*.qcow2 | tail -10 > "$WORK/list2"

# 1. receivers stopped mid-run and back
start_receivers
"$BIN" fix --parallel 1 --targets-from "$WORK/list1" --log "$WORK/logs" "${SHIP[@]}" --json > "$WORK/out1" 2> "$WORK/err1" & fx=$!
for _ in $(seq 600); do [ "$(lines "$WORK/logs/unbrick.jsonl")" -ge 8 ] && break; sleep 0.05; done
stop_receivers
at_stop=$(lines "$WORK/logs/unbrick.jsonl")
for _ in $(seq 600); do [ "$(lines "$WORK/logs/unbrick.jsonl")" -ge $((at_stop + 10)) ] && break; sleep 0.05; done
kill -0 $fx 2>/dev/null || fail "the run ended before the receivers came back: make it longer"
start_receivers
wait $fx || { cat "$WORK/err1"; fail "fix with log shipping: exit $?"; }
[ "$(grep -c '"status":"remediated"' "$WORK/logs/unbrick.jsonl")" = 40 ] || fail "not 40 remediated records"
grep -q 'NOT delivered' "$WORK/err1" && { cat "$WORK/err1"; fail "records left undelivered after the receivers came back"; }
grep -q 'log receiver .* answers again' "$WORK/err1" || { cat "$WORK/err1"; fail "the outage was not reported"; }
stop_receivers # rsyslog writes out its queue (it acknowledges by closing before its file action runs)
python3 scripts/logship/check.py "$WORK/logs/unbrick.jsonl" "$WORK/http.out" "$WORK/syslog.out" || { cat "$WORK/err1"; fail "run 1"; }
echo "ci-logship: receivers stopped after $at_stop of 40 records and started again during the run: all delivered once"

# 2. both down for a whole run, then `unbrick ship`
"$BIN" fix --parallel 2 --targets-from "$WORK/list2" --log "$WORK/logs" "${SHIP[@]}" --log-wait 2s > "$WORK/out2" 2> "$WORK/err2" || { cat "$WORK/err2"; fail "fix with the receivers down: exit $? (the disks were fixed: want 0)"; }
[ "$(grep -c 'record(s) NOT delivered' "$WORK/err2")" = 2 ] || { cat "$WORK/err2"; fail "the undelivered records were not reported for both receivers"; }
grep -q 'unbrick ship --log' "$WORK/err2" || fail "no hint to run unbrick ship"
set +e; "$BIN" ship --log "$WORK/logs" "${SHIP[@]}" --log-wait 1s > "$WORK/out3" 2>&1; rc=$?; set -e
[ $rc = 1 ] || { cat "$WORK/out3"; fail "ship with the receivers down: exit $rc, want 1"; }
start_receivers
"$BIN" ship --log "$WORK/logs" "${SHIP[@]}" > "$WORK/out4" 2>&1 || { cat "$WORK/out4"; fail "ship once the receivers are back: exit $?"; }
grep -q 'syslog tcp://127.0.0.1:'"$SPORT"': 10 record(s) delivered' "$WORK/out4" || { cat "$WORK/out4"; fail "ship did not deliver the 10 spooled records to syslog"; }
stop_receivers # rsyslog writes what it has
python3 scripts/logship/check.py "$WORK/logs/unbrick.jsonl" "$WORK/http.out" "$WORK/syslog.out" || fail "after ship"
grep -q "$UNBRICK_RECOVERY_PASSWORD" "$WORK/http.out" "$WORK/syslog.out" && fail "the recovery password reached a receiver"
echo "ci-logship: a run with both receivers down spooled its 10 records; unbrick ship delivered them once back: 50 records, each once, in order, at rsyslog and at the HTTP receiver"
