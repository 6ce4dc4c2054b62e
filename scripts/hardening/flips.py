"""Where the flip campaign flips bytes, found with the corpus's own ntfslib
(never unbrick's parsers), and the seeded flips themselves.

Plain NTFS (offsets in the whole-disk image):
  boot       the NTFS boot sector (mostly its BPB and signature) and its backup
             copy in the last sector of the volume
  mft-sys    MFT records 0-63 (the used part of each)
  mft-path   MFT records of the root, Windows, System32, drivers, CrowdStrike,
             System32/config directories, SYSTEM and every CrowdStrike file
  mftmirr    $MFTMirr (4 records)
  logfile    $LogFile's two restart pages (first 8 KiB)
  index      $I30 index blocks on the lookup path: every non-leaf block of the
             directories above, the blocks holding the next path component's
             entries, every block of the CrowdStrike folder
  bitmap     $MFT:$BITMAP (first 512 bytes) and the $Bitmap bytes mapping the
             CrowdStrike files' clusters
  ptable     MBR partition entries + signature, or GPT header + the OS entry
BitLocker:
  fve-header the BitLocker volume header sector (header offsets 0xB0/0xB8/0xC0
             name the metadata blocks)
  fve-meta   each FVE metadata block: 64-byte block header, metadata header
             and entries (up to the size the metadata header gives, max 8 KiB)
  reloc-boot the relocated (encrypted) NTFS boot sector
  ptable     as above
"""
import random
import struct

WEIGHTS_PLAIN = [('boot', 10), ('mft-sys', 22), ('mft-path', 25), ('mftmirr', 5), ('logfile', 8),
                 ('index', 20), ('bitmap', 5), ('ptable', 5)]
WEIGHTS_BL = [('fve-header', 30), ('fve-meta', 60), ('reloc-boot', 5), ('ptable', 5)]


def ptable_regions(img, info):
    with open(img, 'rb') as f:
        if info['table'] == 'mbr':
            return [(446, 66)]
        f.seek(512)
        hdr = f.read(92)
        entries_lba, n, esize = struct.unpack_from('<QII', hdr, 72)
    return [(512, 92), (entries_lba * 512 + (info['part'] - 1) * esize, esize)]


def regions_plain(img, info):
    import hlib
    from ntfslib import Index
    v = hlib.OffVolume(img, info['off'])
    base = info['off']
    R = {k: [] for k, _ in WEIGHTS_PLAIN}

    def rec_region(n):
        out = []
        rec = v.read_record(n)
        used = rec.used if rec.valid and 0 < rec.used <= v.rec_size else v.rec_size
        left = used
        for d, ln in v.record_offsets(n):
            take = min(ln, left)
            if d is not None and take > 0:
                out.append((base + d, take))
            left -= take
        return out

    R['boot'] = [(base, 0x54), (base + 0x1FE, 2), (base + v.total_sectors * v.bps, 0x54)]
    for n in range(64):
        R['mft-sys'] += rec_region(n)
    R['mftmirr'] = [(base + v.mftmirr_lcn * v.cs, 4 * v.rec_size)]
    lf = v.read_record(2).find(0x80)[0]
    for d, ln in v.extents(lf.runs, 0, 8192):
        R['logfile'].append((base + d, ln))
    mb = v.read_record(0).find(0xB0)[0]
    if mb.nonres:
        for d, ln in v.extents(mb.runs, 0, 512):
            R['bitmap'].append((base + d, ln))
    bmrec = v.read_record(6).find(0x80)[0]
    for f in info['faulty']:
        for lcn, cnt in f.get('clusters', []):
            for d, ln in v.extents(bmrec.runs, lcn // 8, max(1, cnt // 8 + 1)):
                R['bitmap'].append((base + d, ln))

    path = ['Windows', 'System32', 'drivers', 'CrowdStrike']
    dirs = [5]
    cur = 5
    index_blocks = set()

    def lookup(dirno, name, all_blocks=False):
        attrs, _ = v.file_attrs(dirno)
        idx = Index(v, attrs)
        found = None
        for depth, where, e in idx.walk():
            if 'block' in e:
                if all_blocks or e['block']['flags'] & 1:
                    index_blocks.add((dirno, where))
                continue
            if 'error' in e or e['flags'] & 2:
                continue
            nl = e['key'][64]
            nm = e['key'][66:66 + 2 * nl].decode('utf-16-le', 'replace')
            if name is not None and nm.lower() == name.lower():
                found = e['ref']
                if where != 'root':
                    index_blocks.add((dirno, where))
        return idx, found
    idxs = {}
    for comp in path:
        idx, nxt = lookup(cur, comp)
        idxs[cur] = idx
        if nxt is None:
            break
        dirs.append(nxt)
        cur = nxt
    cs_dir = cur
    idxs[cs_dir], _ = lookup(cs_dir, None, all_blocks=True)
    idx, config = lookup(dirs[2], 'config') if len(dirs) > 2 else (None, None)
    files = [f['mft_record'] for f in info['all_cs']]
    if config:
        dirs.append(config)
        _, system = lookup(config, 'SYSTEM')
        idxs[config] = idx
        if system:
            files.append(system)
    for n in dirs + files:
        R['mft-path'] += rec_region(n)
    for dirno, vcn in sorted(index_blocks):
        attrs, _ = v.file_attrs(dirno)
        ia = [a for a in attrs if a.type == 0xA0 and a.name == '$I30'][0]
        ix = Index(v, attrs)
        for d, ln in v.extents(ia.runs, ix.block_pos(vcn), ix.block_size):
            R['index'].append((base + d, ln))
    R['ptable'] = ptable_regions(img, info)
    return {k: r for k, r in R.items() if r}


def regions_bitlocker(img, info):
    base = info['off']
    R = {'fve-header': [(base, 512)], 'fve-meta': [], 'reloc-boot': [(base + info['bsb'], 512)]}
    with open(img, 'rb') as f:
        f.seek(base)
        hdr = f.read(512)
        offs = struct.unpack_from('<QQQ', hdr, 0xB0)
        for o in offs:
            f.seek(base + o)
            blk = f.read(64 + 48)
            size = struct.unpack_from('<I', blk, 64)[0] if blk[:8] == b'-FVE-FS-' else 4096
            R['fve-meta'].append((base + o, max(112, min(64 + size, 8192))))
    R['ptable'] = ptable_regions(img, info)
    return R


def regions(img, info):
    return regions_bitlocker(img, info) if info['bitlocker'] else regions_plain(img, info)


def pick(rng, regs, weights):
    """1-20 flips over 1-3 region kinds: [(offset, xor, kind)]."""
    kinds = [k for k, _ in weights if k in regs]
    w = [wt for k, wt in weights if k in regs]
    chosen = []
    for _ in range(rng.choice((1, 1, 2, 3))):
        k = rng.choices(kinds, w)[0]
        if k not in chosen:
            chosen.append(k)
    flips = []
    for _ in range(rng.randint(1, 20)):
        k = rng.choice(chosen)
        reg = regs[k]
        if k in ('fve-meta',):
            reg = [rng.choice(reg)]
        tot = sum(ln for _, ln in reg)
        x = rng.randrange(tot)
        for off, ln in reg:
            if x < ln:
                flips.append((off + x, rng.randint(1, 255), k))
                break
            x -= ln
    return flips


def apply(img, flips):
    with open(img, 'r+b') as f:
        for off, xor, _ in flips:
            f.seek(off)
            b = f.read(1)
            f.seek(off)
            f.write(bytes([b[0] ^ xor]))


def describe(flips):
    return ' '.join('%s@%d^%02x' % (k, off, x) for off, x, k in flips)


def rng_for(seed, i):
    return random.Random('%s/%d' % (seed, i))
