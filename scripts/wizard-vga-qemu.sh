#!/usr/bin/env bash
# Boot-image check of the full-screen wizard on the Linux screen console, as
# a stick built in wizard mode runs it by default (console=tty0 last, so the
# wizard owns /dev/console = the framebuffer VT, TERM=linux, no terminfo).
# QEMU (TCG, OVMF, Secure Boot off) boots the stick with the victim disk
# win10-xts128-recoverypw as NVMe and no key on the stick; this script
# presses keys through QEMU's QMP (send-key: the guest kernel's own
# keymap makes the escape sequences, so F1..F5 arrive as the console's
# ESC [ [ A..E) and types the whole 48-digit recovery password with F1..F10
# only, confirms, and leaves. It cannot read the screen's text: it waits for
# each screen to settle (at most two distinct screendumps over 2.5 s: a
# blinking cursor, not a spinner) and keeps every screen as PNG for a human.
# The checks are the outcome: the wizard exits 0, the stick's fleet log has
# a "remediated" record unlocked by the typed recovery password, and
# ../shared/corpus/verify --expect fixed passes on the victim.
# Slow (about 2-4 minutes); not part of go test.
#
# env: UNBRICK_BOOTCHAIN (default ~/.cache/unbrick/bootchain), UNBRICK_CORPUS
#      (default ../shared/corpus), WIZARD_QEMU_TIMEOUT (s, default 420),
#      UNBRICK_ARTIFACTS (screens go to its wizard-vga/; default: a new
#      directory under /tmp, printed), WIZARD_QEMU_KEEP=1 keeps the work
#      directory (stick, victim, serial log).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$(pwd)
corpus=${UNBRICK_CORPUS:-$repo/../shared/corpus}
bootchain=${UNBRICK_BOOTCHAIN:-$HOME/.cache/unbrick/bootchain}
timeout_s=${WIZARD_QEMU_TIMEOUT:-420}
ovmf=/usr/share/OVMF
variant=win10-xts128-recoverypw
say() { printf 'wizard-vga-qemu: %s\n' "$*" >&2; }
work=$(mktemp -d /tmp/unbrick-wizard-vga.XXXXXX)
if [ -n "${UNBRICK_ARTIFACTS:-}" ]; then shots=$UNBRICK_ARTIFACTS/wizard-vga; else shots=$(mktemp -d /tmp/unbrick-wizard-vga-screens.XXXXXX); fi
mkdir -p "$shots"
qpid=
cleanup() {
  [ -n "$qpid" ] && kill "$qpid" 2>/dev/null || true
  [ "${WIZARD_QEMU_KEEP:-0}" = 1 ] && say "work directory kept: $work" || rm -rf "$work"
}
trap cleanup EXIT
for t in qemu-system-x86_64 python3; do command -v $t >/dev/null || { say "$t missing"; exit 1; }; done
[ -f "$ovmf/OVMF_CODE_4M.fd" ] || { say "OVMF missing (apt-get install ovmf)"; exit 1; }
[ -d "$bootchain" ] || { say "no boot chain at $bootchain (scripts/fetch-bootchain.sh)"; exit 1; }

bin=$work/unbrick
bash scripts/build-static.sh "$bin" >&2
gunzip -c "$corpus/disks/$variant.img.gz" >"$work/victim.img"
# The victim crashed: its OS volume has an unclean version 2.0 journal with a
# committed change, which the wizard replays before deleting.
secret=$(python3 -c 'import json,sys; print({x["name"]:x for x in json.load(open(sys.argv[1]))["variants"]}[sys.argv[2]]["os_volume"]["unlock"]["secret"])' "$corpus/manifest.json" "$variant")
UNBRICK_TEST_RECOVERY_PASSWORD=$secret go run ./internal/remedy/remedytest/installlog "$work/victim.img" 3 \
  ntfs/testdata/journal/win10-xts128-recoverypw-label.logfile.gz
"$bin" image build --out "$work/stick.img" --bootchain "$bootchain" --init "$bin" \
  --mode wizard --after poweroff >"$work/build.txt" 2>&1

cp "$ovmf/OVMF_VARS_4M.fd" "$work/vars.fd"
timeout "$timeout_s" qemu-system-x86_64 -machine q35 -cpu max -smp 2 -m 1024 \
  -display none -vga std -no-reboot -net none \
  -serial file:"$work/serial.log" -qmp unix:"$work/qmp.sock",server,nowait \
  -drive if=pflash,format=raw,unit=0,readonly=on,file="$ovmf/OVMF_CODE_4M.fd" \
  -drive if=pflash,format=raw,unit=1,file="$work/vars.fd" \
  -drive if=none,id=stick,format=raw,file="$work/stick.img" \
  -device qemu-xhci,id=xhci -device usb-storage,bus=xhci.0,drive=stick,removable=on,bootindex=0 \
  -drive if=none,id=v1,format=raw,file="$work/victim.img" -device nvme,serial=victim0001,drive=v1 \
  >"$work/qemu.out" 2>&1 &
qpid=$!

# The driver: screens are recognised only by settling after a key.
set +e
python3 - "$work" "$shots" "$timeout_s" <<'PY'
import hashlib, json, os, socket, struct, sys, time, zlib
work, shots, limit = sys.argv[1], sys.argv[2], float(sys.argv[3])
t_end = time.time() + limit
def log(msg): print("wizard-vga-qemu: " + msg, file=sys.stderr, flush=True)
def die(msg): log("FAIL: " + msg); sys.exit(1)

qmp = None
while qmp is None:
    try:
        qmp = socket.socket(socket.AF_UNIX); qmp.connect(os.path.join(work, "qmp.sock"))
    except OSError:
        qmp = None
        if time.time() > t_end: die("no QEMU QMP socket")
        time.sleep(0.2)
rd = qmp.makefile("rb")
def call(name, **args):
    """Runs one QMP command and returns its result (events are skipped)."""
    qmp.sendall(json.dumps({"execute": name, "arguments": args}).encode() + b"\n")
    while True:
        line = rd.readline()
        if not line: die("QEMU went away during " + name)
        r = json.loads(line)
        if "error" in r: die("QMP %s: %s" % (name, r["error"]))
        if "return" in r: return r["return"]
json.loads(rd.readline())  # greeting
call("qmp_capabilities")

n = 0
def dump():
    p = os.path.join(work, "screen.ppm")
    call("screendump", filename=p)
    return open(p, "rb").read()
def png(ppm, name):
    global n
    n += 1
    head = ppm.split(b"\n", 3)
    w, h = map(int, head[1].split()); rgb = head[3]
    raw = b"".join(b"\0" + rgb[y*w*3:(y+1)*w*3] for y in range(h))
    ch = lambda t, b: struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b) & 0xffffffff)
    with open(os.path.join(shots, "%02d-%s.png" % (n, name)), "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + ch(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + ch(b"IDAT", zlib.compress(raw)) + ch(b"IEND", b""))
def wizard_bar(ppm):
    """Whether the top left character cell holds the wizard theme's cyan
    bar (the init's log, white on black, does not)."""
    head = ppm.split(b"\n", 3)
    w = int(head[1].split()[0]); rgb = head[3]
    for y in range(16):
        for x in range(8):
            r, g, b = rgb[(y*w + x)*3:(y*w + x)*3 + 3]
            if g > 120 and b > 120 and r < 80:
                return True
    return False
def settle(name, before=None, timeout=120, wizard=False):
    """Waits until the screen differs from the hashes in before and shows at
    most two distinct states (a blinking cursor) over 2.5 s."""
    deadline = min(time.time() + timeout, t_end)
    hist = []
    states = set()
    while time.time() < deadline:
        d = dump(); h = hashlib.sha1(d).hexdigest()
        hist.append((time.time(), h, d))
        hist = [x for x in hist if x[0] > time.time() - 2.5]
        if hist[-1][0] - hist[0][0] >= 2.0:
            states = {x[1] for x in hist}
            if len(states) <= 2 and not (before and states & before) and (not wizard or wizard_bar(d)):
                png(d, name)
                log("screen %d: %s" % (n, name))
                return states
        time.sleep(0.25)
    png(hist[-1][2] if hist else dump(), name + "-TIMEOUT")
    die("the screen never settled on: %s (%d states in the last 2.5 s)" % (name, len(states)))
def keys(*ks):
    for k in ks:
        call("send-key", keys=[{"type": "qcode", "data": k}]); time.sleep(0.08)

# The init writes its log to the serial line too; the wizard starts after
# it names the disks.
while b"Disk: " not in open(os.path.join(work, "serial.log"), "rb").read():
    if time.time() > t_end: die("the init never named a disk (serial.log)")
    time.sleep(0.5)
s = settle("welcome", wizard=True)
keys("ret"); s = settle("disks", s)
keys("ret"); s = settle("unlock-choice", s)
keys("ret"); s = settle("password-question", s)
pw = "284867-596541-514998-422114-660297-261613-215424-199408"
keys(*["minus" if c == "-" else "f%d" % (int(c) or 10) for c in pw])
s = settle("password-typed-with-F1-F10", s)
keys("ret"); s = settle("preview", s, timeout=240)
keys("ret"); s = settle("confirm", s)
keys("down"); s = settle("confirm-yes", s)
keys("ret"); s = settle("result", s, timeout=240)
keys("ret")
log("screens in " + shots)
PY
drv=$?
set -e
[ $drv = 0 ] || { kill "$qpid" 2>/dev/null; wait "$qpid" 2>/dev/null; qpid=; tail -n 30 "$work/serial.log" >&2; exit 1; }
rc=0; wait "$qpid" || rc=$?
qpid=
[ $rc = 0 ] || { say "FAIL: qemu exited $rc (124 = timeout)"; tail -n 30 "$work/serial.log" >&2; exit 1; }

fail=0
grep -q '^result: *wizard exit 0' "$work/serial.log" || { say "FAIL: the boot record does not say 'wizard exit 0':"; grep '^result:' "$work/serial.log" >&2 || true; fail=1; }
"$bin" image logs "$work/stick.img" --extract "$work/stick" >/dev/null
if python3 - "$work/stick/logs/unbrick.jsonl" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ok = [r for r in recs if r.get("status") == "remediated" and r.get("recovery_key_id") == "3C116B76-C67B-484E-B439-CE2ED68B561E"
      and r.get("journal_action") == "replayed"]
print("wizard-vga-qemu: fleet log: %d record(s), %d remediated with the typed key after a journal replay" % (len(recs), len(ok)), file=sys.stderr)
sys.exit(0 if ok else 1)
PY
then :; else say "FAIL: no remediated record for key 3C116B76 in the stick's fleet log"; fail=1; fi
if "$corpus/verify" "$work/victim.img" "$variant" --expect fixed --allow-journal-change | tail -n1 | tee "$work/verify.txt" | grep -q '^verify: PASS'; then
  say "verify $variant --expect fixed: PASS"
else
  say "FAIL: verify: $(cat "$work/verify.txt")"; fail=1
fi
say "screens: $shots"
exit $fail
