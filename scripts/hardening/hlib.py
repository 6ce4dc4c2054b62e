"""Shared helpers of scripts/ci-hardening.sh (see hardening.py).

Everything here judges unbrick from the outside: the corpus manifest, the
corpus tools (ntfslib.py, ntfs-check, verify), dislocker-file; never
unbrick's own parsers."""
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import threading

ALL_GOOD = ('remediated', 'already-clean')
# exit code of a record status (README: 1 failed > 4 refused > 3 locked > 5 review > 0)
STATUS_CODE = {'remediated': 0, 'already-clean': 0, 'dry-run': 0,
               'needs-review': 5, 'unrecognized': 5, 'no-windows': 5,
               'locked': 3, 'refused': 4, 'busy': 4, 'failed': 1}
SEVERITY = {0: 0, 5: 1, 3: 2, 4: 3, 1: 4}
NTFS_CHECK_TIMEOUT = int(os.environ.get('HARDENING_NTFS_CHECK_TIMEOUT', '30'))


class Ctx:
    """Paths and tools of one hardening run."""

    def __init__(self, binary, corpus, work):
        self.bin = binary
        self.corpus = corpus
        self.work = work
        self.manifest = json.load(open(os.path.join(corpus, 'manifest.json')))
        self.variants = {v['name']: v for v in self.manifest['variants']}
        self.verify = os.path.join(corpus, 'verify')
        self.ntfs_check = os.path.join(corpus, 'tools', 'ntfs-check')
        sys.path.insert(0, os.path.join(corpus, 'tools'))
        self.lock = threading.Lock()
        self.verified = {}  # variant -> [Reference]
        self.verify_runs = 0
        self.equiv_hits = 0
        self.full_verify = os.environ.get('HARDENING_FULL_VERIFY') == '1'
        os.makedirs(os.path.join(work, 'base'), exist_ok=True)
        os.makedirs(os.path.join(work, 'ref'), exist_ok=True)

    # -- variants -----------------------------------------------------------
    def info(self, name):
        v = self.variants[name]
        o = v['os_volume']
        d = dict(name=name, part=v['os_partition_index'], off=o['offset_bytes'], size=o['size_bytes'],
                 bitlocker=o['encryption'] != 'none', sha256=v['sha256'], table=v['partition_table'],
                 unlock=o['unlock'], faulty=[f for f in v['crowdstrike']['files'] if f['role'] == 'faulty-291'],
                 all_cs=v['crowdstrike']['files'])
        if d['bitlocker']:
            bl = o['bitlocker']
            d['meta'] = bl['metadata_offsets']
            d['meta_size'] = bl['metadata_block_size']
            d['bsb'] = bl['boot_sectors_backup']
            d['bsb_len'] = bl['boot_sectors_backup_bytes']
        return d

    def keyargs(self, name):
        u = self.variants[name]['os_volume']['unlock']
        if u['method'] == 'recovery_password':
            return ['--recovery-password', u['secret']]
        if u['method'] == 'password':
            return ['--password', u['secret']]
        if u['method'] == 'bek':
            return ['--bek', os.path.join(self.corpus, u['bek_file'])]
        return []

    def dislocker_args(self, name):
        u = self.variants[name]['os_volume']['unlock']
        if u['method'] == 'recovery_password':
            return ['-p' + u['secret']]
        if u['method'] == 'password':
            return ['-u' + u['secret']]
        if u['method'] == 'bek':
            return ['-f', os.path.join(self.corpus, u['bek_file'])]
        return ['-c']

    def base(self, name):
        """The decompressed corpus disk (sparse), made once; its sha256 is checked."""
        p = os.path.join(self.work, 'base', name + '.img')
        with self.lock:
            if not os.path.exists(p):
                gz = os.path.join(self.corpus, 'disks', name + '.img.gz')
                sh('gunzip -c %s | cp --sparse=always /dev/stdin %s.tmp' % (q(gz), q(p)))
                if sha256(p + '.tmp') != self.variants[name]['sha256']:
                    raise SystemExit('hardening: %s does not match the manifest sha256' % gz)
                os.rename(p + '.tmp', p)
        return p

    def copy(self, name, dst):
        subprocess.run(['cp', '--sparse=always', self.base(name), dst], check=True)
        return dst

    # -- fixed-state judge ---------------------------------------------------
    def reference(self, name):
        """A normally fixed copy of the variant that verify --expect fixed passed."""
        with self.lock:
            if name in self.verified:
                return
        img = os.path.join(self.work, 'ref', name + '.img')
        self.copy(name, img)
        logd = os.path.join(self.work, 'ref', name + '.log')
        r = run_fix(self, img, logd, name)
        if r.rc != 0 or status_of(r.records, self.info(name)['part']) != 'remediated':
            raise SystemExit('hardening: FAIL reference fix of %s: exit %d\n%s' % (name, r.rc, r.err))
        ok, line = self.run_verify(img, name)
        if not ok:
            raise SystemExit('hardening: FAIL reference fix of %s does not verify: %s' % (name, line))
        self._add_ref(name, img)

    def _add_ref(self, name, img):
        ref = Reference(self, name, img)
        with self.lock:
            self.verified.setdefault(name, []).append(ref)

    def run_verify(self, img, name):
        p = subprocess.run([self.verify, img, name, '--expect', 'fixed'], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        with self.lock:
            self.verify_runs += 1
        last = p.stdout.strip().splitlines()[-1] if p.stdout.strip() else '(no output)'
        return p.returncode == 0 and last.startswith('verify: PASS'), last

    def check_fixed(self, img, name):
        """True when `verify IMAGE NAME --expect fixed` passes. An image that
        differs from one verify already passed only in the $STANDARD_INFORMATION
        times of directories (fix sets the CrowdStrike folder's last-write
        time to the time of the run; verify reads no directory time) gets
        the same verdict without running verify again. HARDENING_FULL_VERIFY=1
        runs verify every time. Returns (ok, how)."""
        self.reference(name)
        if not self.full_verify:
            for ref in list(self.verified.get(name, [])):
                why = ref.equivalent(img)
                if why is None:
                    with self.lock:
                        self.equiv_hits += 1
                    return True, 'equivalent to a verified image (directory times only)'
        ok, line = self.run_verify(img, name)
        if ok and not self.full_verify and len(self.verified.get(name, [])) < 4:
            keep = os.path.join(self.work, 'ref', '%s.%d.img' % (name, len(self.verified[name])))
            subprocess.run(['cp', '--sparse=always', img, keep], check=True)
            self._add_ref(name, keep)
        return ok, line


class Reference:
    """An image verify passed, and what an equivalent image may differ in."""

    def __init__(self, ctx, name, img):
        self.ctx, self.name, self.img = ctx, name, img
        self.i = ctx.info(name)
        self.plain = None
        if self.i['bitlocker']:
            self.plain = img + '.plain'
            decrypt(ctx, name, img, self.plain)

    def equivalent(self, img):
        """None if equivalent, else the first reason it is not."""
        i = self.i
        lo, hi = i['off'], i['off'] + i['size']
        raw = diff_sectors(self.img, img)
        if raw is None:
            return 'size differs'
        if not raw:
            return None
        for s in raw:
            if not (lo <= s * 512 < hi):
                return 'sector %d outside the OS partition differs' % s
        if not i['bitlocker']:
            return allowed_diffs(self.img, img, i['off'], [s * 512 - i['off'] for s in raw])
        plain = img + '.plain.tmp'
        try:
            decrypt(self.ctx, self.name, img, plain)
            pdiff = set(diff_sectors(self.plain, plain) or [])
            for s in raw:
                o = s * 512 - i['off']
                if o < 8192:
                    return 'FVE header area (volume offset %d) differs' % o
                if any(m <= o < m + i['meta_size'] for m in i['meta']):
                    return 'FVE metadata block (volume offset %d) differs' % o
                po = o - i['bsb'] if i['bsb'] <= o < i['bsb'] + i['bsb_len'] else o
                if po // 512 not in pdiff:
                    return 'ciphertext sector at volume offset %d differs but its plaintext does not' % o
            return allowed_diffs(self.plain, plain, 0, [s * 512 for s in sorted(pdiff)])
        finally:
            if os.path.exists(plain):
                os.unlink(plain)


def decrypt(ctx, name, img, out):
    i = ctx.info(name)
    if os.path.exists(out):
        os.unlink(out)  # dislocker-file never overwrites
    p = subprocess.run(['dislocker-file', '-O', str(i['off']), '-V', img] + ctx.dislocker_args(name) + ['--', out],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0 or not os.path.exists(out):
        raise RuntimeError('dislocker-file failed on %s: %s' % (img, p.stdout[-500:]))


def diff_sectors(a, b, chunk=1 << 20):
    """512-byte sector numbers where files a and b differ (None: sizes differ)."""
    if os.path.getsize(a) != os.path.getsize(b):
        return None
    out = []
    with open(a, 'rb') as fa, open(b, 'rb') as fb:
        pos = 0
        while True:
            x, y = fa.read(chunk), fb.read(chunk)
            if not x:
                break
            if x != y:
                for s in range(0, len(x), 512):
                    if x[s:s + 512] != y[s:s + 512]:
                        out.append((pos + s) // 512)
            pos += len(x)
    return out


def allowed_diffs(ref_path, img_path, base, sector_offsets):
    """Every differing byte (in the given sectors, volume-relative) must be
    inside the first 32 bytes (the four times) of the $STANDARD_INFORMATION
    value of an in-use directory MFT record, in both images."""
    from ntfslib import Record
    rv, iv = OffVolume(ref_path, base), OffVolume(img_path, base)
    for so in sector_offsets:
        a, b = rv.pread(so, 512), iv.pread(so, 512)
        for k in range(512):
            if a[k] == b[k]:
                continue
            x = so + k
            loc = rv.mft_locate(x)
            if loc is None:
                return 'volume offset %d differs (not in $MFT)' % x
            n, r = loc
            for v in (rv, iv):
                rec = v.read_record(n)
                si = [at for at in rec.attrs if at.type == 0x10 and not at.nonres] if rec.valid else []
                if not (rec.in_use and rec.is_dir and si and si[0].value_off <= r < si[0].value_off + 32):
                    return 'MFT record %d byte %d differs (not a directory time)' % (n, r)
    return None


def _offvolume():
    from ntfslib import Volume

    class _OV(Volume):
        def __init__(self, path, base):
            self.base_off = base
            Volume.__init__(self, path)

        def pread(self, off, n):
            self.f.seek(self.base_off + off)
            return self.f.read(n)

        def mft_locate(self, x):
            for (vcn, lcn, ln) in self.mft_runs:
                if lcn is not None and lcn * self.cs <= x < (lcn + ln) * self.cs:
                    m = vcn * self.cs + x - lcn * self.cs
                    return m // self.rec_size, m % self.rec_size
            return None
    return _OV


def OffVolume(path, base):
    return _offvolume()(path, base)


# -- running unbrick ------------------------------------------------------------
class Run:
    def __init__(self, rc, out, err, records):
        self.rc, self.out, self.err, self.records = rc, out, err, records

    def panicked(self):
        return 'panic:' in self.err or 'goroutine ' in self.err


def run_fix(ctx, target, logd, name, timeout=60, extra=()):
    p = subprocess.run(['timeout', str(timeout), ctx.bin, 'fix', '--json', '--log', logd]
                       + ctx.keyargs(name) + list(extra) + [target],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors='replace')
    return Run(p.returncode, p.stdout, p.stderr, read_records(logd))


def read_records(logd):
    recs = []
    p = os.path.join(logd, 'unbrick.jsonl')
    if os.path.exists(p):
        for line in open(p, errors='replace'):
            line = line.strip()
            if line:
                try:
                    recs.append(json.loads(line))
                except ValueError:
                    recs.append({'status': '<unparseable line>', 'raw': line[:200]})
    return recs


def status_of(records, part, run_id=None):
    """Status of the last record for partition `part` (of run_id if given), or None."""
    st = None
    for r in records:
        if r.get('partition') == part and (run_id is None or r.get('run_id') == run_id):
            st = r.get('status')
    return st


def journals(logd):
    d = os.path.join(logd, 'journal')
    if not os.path.isdir(d):
        return []
    return sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith('.journal'))


def journal_complete(path):
    """Whether an undo journal (version 2, internal/undo/doc.go) ends in a
    complete applied marker: the last 38 bytes are an 'A' end marker with
    status 0 whose SHA-256 covers every byte before its sha256 field, right
    after the prepared marker, and whose write count equals the prepared
    marker's record count. Read independently of unbrick's own reader."""
    try:
        data = open(path, 'rb').read()
    except OSError:
        return False
    if len(data) < 38 + 37:
        return False
    a, p = data[-38:], data[-75:-38]
    if a[0:1] != b'A' or a[5] != 0 or hashlib.sha256(data[:-32]).digest() != a[6:]:
        return False
    if p[0:1] != b'P' or hashlib.sha256(data[:-75]).digest() != p[5:]:
        return False
    return struct.unpack('<I', a[1:5])[0] == struct.unpack('<I', p[1:5])[0]


# -- ntfs-check -------------------------------------------------------------------
def extract_volume(img, off, size, out):
    subprocess.run(['dd', 'if=' + img, 'of=' + out, 'bs=1M', 'iflag=skip_bytes,count_bytes',
                    'skip=%d' % off, 'count=%d' % size, 'conv=sparse', 'status=none'], check=True)


def ntfs_check(ctx, img, off, size, tmp):
    """Run the corpus ntfs-check on the volume at off. Returns dict:
    crashed (no 'N problem(s)' line: ntfs-check itself could not parse the
    volume), problems (its count), kinds (problem kind -> printed lines; a
    kind is the first word of a problem line), lines."""
    extract_volume(img, off, size, tmp)
    try:
        p = subprocess.run([ctx.ntfs_check, tmp], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, errors='replace', timeout=NTFS_CHECK_TIMEOUT)
        out = p.stdout
    except subprocess.TimeoutExpired:
        # some damage (a flipped run length in $BadClus, say) makes the
        # checker walk billions of clusters: it cannot judge that volume
        return dict(crashed=True, problems=None, kinds={},
                    lines=['(ntfs-check did not finish in %d s)' % NTFS_CHECK_TIMEOUT])
    finally:
        os.unlink(tmp)
    lines = out.strip().splitlines()
    m = re.match(r'^(\d+) problem\(s\)$', lines[-1]) if lines else None
    if p.returncode not in (0, 1) or not m:
        return dict(crashed=True, problems=None, kinds={}, lines=lines[-3:])
    kinds = {}
    for ln in lines[:-1]:
        if ln.startswith('note:'):
            continue
        k = ln.split()[0]
        kinds[k] = kinds.get(k, 0) + 1
    return dict(crashed=False, problems=int(m.group(1)), kinds=kinds, lines=lines[:-1])


def no_worse(before, after):
    """None when `after` is no worse than `before`, else why."""
    if before['crashed']:
        return None  # ntfs-check cannot judge the damaged volume: nothing to compare with
    if after['crashed']:
        return 'ntfs-check could parse the volume before the fix but not after: %s' % ' | '.join(after['lines'])
    if after['problems'] > before['problems']:
        return 'ntfs-check: %d problem(s) after the fix, %d before; after: %s' % (
            after['problems'], before['problems'], ' | '.join(after['lines'][:4]))
    new = sorted(set(after['kinds']) - set(before['kinds']))
    if new:
        return 'ntfs-check: new kind(s) of problem after the fix: %s (%s)' % (
            ','.join(new), ' | '.join(l for l in after['lines'] if l.split()[0] in new)[:300])
    return None


# -- misc -------------------------------------------------------------------------
def q(s):
    return "'" + s.replace("'", "'\\''") + "'"


def sh(cmd):
    subprocess.run(['bash', '-o', 'pipefail', '-c', cmd], check=True)


def sha256(p):
    h = hashlib.sha256()
    with open(p, 'rb') as f:
        for b in iter(lambda: f.read(1 << 20), b''):
            h.update(b)
    return h.hexdigest()


def same_file(a, b):
    return subprocess.run(['cmp', '-s', a, b]).returncode == 0


def rmf(*paths):
    for p in paths:
        if os.path.isdir(p):
            shutil.rmtree(p, ignore_errors=True)
        elif os.path.exists(p):
            os.unlink(p)
