#!/usr/bin/env python3
# Writes system-cs2.reg, the source of system-cs2.hive (see make-hive.sh).
def sz(s):
    b = (s + '\0').encode('utf-16-le')
    return 'hex(1):' + ','.join('%02x' % c for c in b)

lines = ['Windows Registry Editor Version 5.00', '']
made = set()

def key(k, vals=()):
    parts = k.split('\\')
    for i in range(1, len(parts)):  # parents first: hivexregedit needs them
        p = '\\'.join(parts[:i])
        if p not in made:
            made.add(p)
            lines.extend(['[\\%s]' % p, ''])
    made.add(k)
    lines.append('[\\%s]' % k)
    for n, v in vals:
        lines.append('"%s"=%s' % (n, v))
    lines.append('')

key('Select', [('Current', 'dword:00000002'), ('Default', 'dword:00000002'),
               ('Failed', 'dword:00000000'), ('LastKnownGood', 'dword:00000001')])
key('ControlSet001\\Control\\ComputerName\\ComputerName', [('ComputerName', sz('WRONG-CS001'))])
key('ControlSet002\\Control\\ComputerName\\ComputerName', [('ComputerName', sz('HOST-CS002'))])
key('ControlSet002\\Control\\ComputerName\\ActiveComputerName', [('ComputerName', sz('HOST-ACTIVE'))])
key('ControlSet002\\Control\\TimeZoneInformation', [
    ('Bias', 'dword:ffffffc4'), ('ActiveTimeBias', 'dword:ffffff88'),
    ('StandardBias', 'dword:00000000'), ('DaylightBias', 'dword:ffffffc4'),
    ('TimeZoneKeyName', sz('W. Europe Standard Time'))])
key('ControlSet002\\Services\\Tcpip\\Parameters', [('Hostname', sz('host-cs002')), ('Domain', sz('corp.example'))])
# Many subkeys (long subkey lists), a value over 16344 bytes ("db" big
# data), a key with a non-ASCII (UTF-16) name.
for i in range(300):
    key('ControlSet002\\Services\\Svc%04d' % i, [('Start', 'dword:%08x' % (i % 5))])
key('ControlSet002\\Control\\Big', [('Blob', 'hex:' + ','.join('%02x' % (i * 7 % 256) for i in range(20000)))])
key('ControlSet002\\Control\\Ünïcödé', [('Wert', sz('Grüße'))])
open('system-cs2.reg', 'w', encoding='utf-8').write('\r\n'.join(lines) + '\r\n')
