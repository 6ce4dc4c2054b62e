#!/usr/bin/env python3
"""Test witness for $Extend\\$ObjId:$O, written on the shared corpus ntfslib
(not on the Go package under test).

usage: objid-check.py TOOLS_DIR VOLUME_IMAGE

Prints the index's entries in key order ("objid KEY -> RECORD-SEQ data=HEX")
and one line per problem, then "N problem(s)"; exits 1 when there is a
problem. Checks: index root (view index, collation COLLATION_NTOFS_ULONGS =
0x13); for every node: END entry, entry and key lengths, data inside the
entry; INDX magic, fixups, VCN, node flag, no empty leaf, $BITMAP bit; one
leaf depth; global order of the keys as sequences of little-endian 32-bit
words; every entry names an in-use record of the same sequence number whose
$OBJECT_ID starts with the key; every in-use file with an $OBJECT_ID is
indexed. Problem kinds a cut plan may leave (duplicates of a key being
moved, a block marked in use that nothing references, the deleted file's
record still in use but unindexed) have their own prefixes: OBJIDDUP,
OBJIDLEAK, OBJIDUNINDEXED.
"""
import struct
import sys


def main(tools, path):
    sys.path.insert(0, tools)
    import ntfslib
    # ntfslib's entry parser keeps no raw bytes; view-index entries need
    # them (data offset and length take the place of the file reference).
    orig = ntfslib.parse_entries

    def parse_with_raw(buf, start, end):
        ents = orig(buf, start, end)
        for e in ents:
            e['raw'] = bytes(buf[e['off']:e['off'] + max(e['length'], 16)])
        return ents
    ntfslib.parse_entries = parse_with_raw
    from ntfslib import Volume, Index, bit, parse_filename

    v = Volume(path)
    probs = []
    P = probs.append

    # $Extend (record 11) names $ObjId.
    ext_attrs, _ = v.file_attrs(11)
    objid_ref = None
    for _, _, e in Index(v, ext_attrs).walk():
        if 'key' in e and not (e['flags'] & 2):
            if parse_filename(e['key'])['name'] == '$ObjId':
                objid_ref = e['ref']
    if objid_ref is None:
        print('OBJIDMISSING $Extend has no $ObjId')
        print('1 problem(s)')
        return 1
    attrs, _ = v.file_attrs(objid_ref)
    idx = Index(v, attrs, name='$O')
    if idx.attr_type != 0 or idx.collation != 0x13:
        P('OBJIDROOT indexed type 0x%x collation 0x%x' % (idx.attr_type, idx.collation))

    entries = []  # (key, data, ref, seq)
    used_vcns = set()
    leaf_depths = set()

    def words(k):
        return struct.unpack('<%dI' % (len(k) // 4), k)

    def visit(ents, depth, where, end_at):
        if not ents or not (ents[-1]['flags'] & 2):
            P('OBJIDNODE %s has no END entry' % where)
            return
        if ents[-1]['off'] + ents[-1]['length'] != end_at:
            P('OBJIDNODE %s END entry ends at %d, index length says %d' % (where, ents[-1]['off'] + ents[-1]['length'], end_at))
        for e in ents:
            if e['length'] < 16 or e['length'] & 7:
                P('OBJIDNODE %s malformed entry length %d' % (where, e['length']))
                return
            if e['flags'] & 1:
                vcn = e['vcn']
                if idx.ia is None or vcn in used_vcns:
                    P('OBJIDNODE %s child VCN %d without allocation or referenced twice' % (where, vcn))
                    continue
                used_vcns.add(vcn)
                hdr, sub, _ = idx.read_block(vcn)
                if hdr['magic'] != b'INDX' or hdr['fixup_bad'] or hdr['vcn'] != vcn:
                    P('OBJIDBLOCK VCN %d magic %r fixup %s claims VCN %d' % (vcn, hdr['magic'], hdr['fixup_bad'], hdr['vcn']))
                    continue
                if idx.bitmap is None or not bit(idx.bitmap, idx.block_pos(vcn) // idx.block_size):
                    P('OBJIDBLOCK VCN %d in use but its $BITMAP bit is clear' % vcn)
                if bool(hdr['flags'] & 1) != any(x['flags'] & 1 for x in sub):
                    P('OBJIDBLOCK VCN %d node flag disagrees with its entries' % vcn)
                if len(sub) == 1 and not (sub[0]['flags'] & 1):
                    P('OBJIDBLOCK VCN %d is an empty leaf' % vcn)
                if hdr['index_len'] > hdr['alloc']:
                    P('OBJIDBLOCK VCN %d index length %d > allocated %d' % (vcn, hdr['index_len'], hdr['alloc']))
                visit(sub, depth + 1, 'VCN %d' % vcn, 24 + hdr['index_len'])
            elif e['flags'] & 2:
                leaf_depths.add(depth)
            if e['flags'] & 2:
                continue
            buf = e['raw']
            doff, dlen = struct.unpack_from('<HH', buf, 0)
            end = e['length'] - (8 if e['flags'] & 1 else 0)
            if e['klen'] != 16 or doff < 16 + e['klen'] or doff + dlen > end or dlen < 8:
                P('OBJIDENTRY %s key length %d data %d+%d in a %d-byte entry' % (where, e['klen'], doff, dlen, e['length']))
                continue
            data = bytes(buf[doff:doff + dlen])
            ref = struct.unpack_from('<Q', data, 0)[0]
            entries.append((e['key'], data, ref & 0xFFFFFFFFFFFF, ref >> 48))

    visit(idx.root_entries, 0, 'root', 16 + idx.root_hdr['index_len'])
    if len(leaf_depths) > 1:
        P('OBJIDSHAPE leaves at depths %s' % sorted(leaf_depths))
    if bool(idx.root_hdr['flags'] & 1) != any(x['flags'] & 1 for x in idx.root_entries):
        P('OBJIDSHAPE root LARGE_INDEX flag disagrees with its entries')
    if idx.bitmap is not None and idx.ia is not None:
        for b in range(idx.ia.data_size // idx.block_size):
            vcn = (b * idx.block_size) >> idx.vcn_bits
            if bit(idx.bitmap, b) and vcn not in used_vcns:
                P('OBJIDLEAK $BITMAP marks VCN %d in use but no node references it' % vcn)

    for a, b in zip(entries, entries[1:]):
        if words(a[0]) > words(b[0]):
            P('OBJIDORDER %s sorts after %s' % (a[0].hex(), b[0].hex()))
        elif a[0] == b[0]:
            P('OBJIDDUP %s indexed twice' % a[0].hex())

    indexed = {}
    for key, data, rec, seq in entries:
        indexed.setdefault(rec, set()).add(key)
        r = v.read_record(rec) if rec < v.nrec else None
        if r is None or not r.in_use:
            P('OBJIDDANGLING %s points to record %d which is not in use' % (key.hex(), rec))
            continue
        if r.seq != seq:
            P('OBJIDSEQ %s points to %d-%d but the record has sequence %d' % (key.hex(), rec, seq, r.seq))
        fa, _ = v.file_attrs(rec, r)
        oid = [x for x in fa if x.type == 0x40]
        if not oid or oid[0].nonres or oid[0].value[:16] != key:
            P('OBJIDREF %s: record %d has no $OBJECT_ID with that key' % (key.hex(), rec))
    for n in range(16, v.nrec):
        r = v.read_record(n)
        if not r.in_use or r.base:
            continue
        fa, _ = v.file_attrs(n, r)
        for x in fa:
            if x.type == 0x40 and not x.nonres and x.value[:16] not in indexed.get(n, set()):
                P('OBJIDUNINDEXED record %d object ID %s is not in $O' % (n, x.value[:16].hex()))

    for key, data, rec, seq in sorted(entries, key=lambda x: words(x[0])):
        print('objid %s -> %d-%d data=%s' % (key.hex(), rec, seq, data.hex()))
    for p in probs:
        print(p)
    print('%d problem(s)' % len(probs))
    return 1 if probs else 0


if __name__ == '__main__':
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
