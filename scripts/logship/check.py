#!/usr/bin/env python3
"""check.py JSONL HTTP_OUT SYSLOG_OUT: every record of the fleet log
arrived exactly once at the HTTP receiver and at rsyslog, in the log's
order, with the same content; no recovery password anywhere."""
import json, re, sys

log, http_out, syslog_out = sys.argv[1:4]
want = [json.loads(l) for l in open(log, encoding="utf-8") if l.strip()]
ids = [r["record_id"] for r in want]
assert len(set(ids)) == len(ids), "the fleet log repeats a record_id"
rp = re.compile(r"\d{6}(-\d{6}){7}")

def check(name, got):
    got_ids = [r["record_id"] for r in got]
    dup = {i for i in got_ids if got_ids.count(i) > 1}
    if dup:
        sys.exit(f"{name}: {len(dup)} record(s) arrived more than once")
    missing = set(ids) - set(got_ids)
    if missing:
        sys.exit(f"{name}: {len(missing)} of {len(ids)} record(s) never arrived")
    if got_ids != ids:
        sys.exit(f"{name}: records arrived out of order")
    for a, b in zip(want, got):
        if a != b:
            sys.exit(f"{name}: record {a['record_id']} arrived changed")

raw = open(http_out, encoding="utf-8").read()
if rp.search(raw):
    sys.exit("HTTP: a recovery password was sent")
check("HTTP", [json.loads(l) for l in raw.splitlines() if l.strip()])

got = []
for line in open(syslog_out, encoding="utf-8"):
    if rp.search(line):
        sys.exit("syslog: a recovery password was sent")
    m = re.match(r'^\[unbrick@32473 id="([0-9a-f]{32})"[^\]]*\] (?:\ufeff)?(\{.*\})$', line.rstrip("\n"))
    if not m:
        sys.exit(f"syslog: unexpected line {line[:200]!r}")
    rec = json.loads(m.group(2))
    if rec["record_id"] != m.group(1):
        sys.exit("syslog: structured data and message disagree")
    got.append(rec)
check("syslog", got)
print(f"{len(ids)} records, each once and in order at both receivers")
