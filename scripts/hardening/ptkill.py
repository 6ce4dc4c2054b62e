#!/usr/bin/env python3
"""ptkill: run a command under ptrace and SIGKILL it on entry to the N-th
state-changing system call, counted over ALL its threads.

Why not `strace -e inject=pwrite64:signal=KILL:when=N`: strace counts
injection candidates "per syscall and per tracee" (strace(1)), i.e. per
thread, and a Go program issues its pwrite64 calls from whichever OS thread
runs the goroutine (observed: 4 device writes on one thread, the 5th on
another). So `when=N` does not mean "the N-th device write of the run".
This tracer keeps one global counter.

Events (only these are counted, in the order the kernel sees their entry):
  dev   write, pwrite64, writev, pwritev, pwritev2, ftruncate, fallocate on
        the TARGET (same device and inode, or same block device)
  log   the same calls on a file under LOGDIR, and rename/unlink of a path
        under LOGDIR
fsync/fdatasync are not counted: SIGKILL loses nothing that reached the page
cache, so a kill before a flush leaves the same state as one after it.

The kill is delivered while the thread is stopped at syscall entry, so the
N-th call never runs: N-1 events have happened.

usage: ptkill.py --target IMG --logdir DIR [--kill-at N] [--events FILE] -- CMD...
  --kill-at N   kill at the entry of event N (1-based); without it, just record
  --events F    write one JSON line per event (seq, kind, syscall, path, offset, len)
Exit status: the command's own, 128+signal if it died of a signal; the line
"ptkill: killed at event N (...)" or "ptkill: N events" on stderr.
x86_64 and aarch64, Linux >= 5.3 (PTRACE_GET_SYSCALL_INFO).
"""
import ctypes
import ctypes.util
import json
import os
import platform
import signal
import struct
import sys

PTRACE_TRACEME = 0
PTRACE_SYSCALL = 24
PTRACE_SETOPTIONS = 0x4200
PTRACE_GET_SYSCALL_INFO = 0x420e
O_TRACESYSGOOD = 0x1
O_TRACEFORK = 0x2
O_TRACEVFORK = 0x4
O_TRACECLONE = 0x8
O_TRACEEXEC = 0x10
O_EXITKILL = 0x100000
SYSCALL_INFO_ENTRY = 1
AT_FDCWD = -100
TIMEOUT = 120  # seconds; then everything is killed and ptkill exits 124

ARCH = platform.machine()
if ARCH == 'x86_64':
    FD_CALLS = {1: 'write', 18: 'pwrite64', 20: 'writev', 296: 'pwritev', 328: 'pwritev2',
                77: 'ftruncate', 285: 'fallocate'}
    PATH_CALLS = {82: ('rename', None, 0), 87: ('unlink', None, 0), 263: ('unlinkat', 0, 1),
                  264: ('renameat', 0, 1), 316: ('renameat2', 0, 1)}
elif ARCH == 'aarch64':
    FD_CALLS = {64: 'write', 68: 'pwrite64', 66: 'writev', 70: 'pwritev', 286: 'pwritev2',
                46: 'ftruncate', 47: 'fallocate'}
    PATH_CALLS = {35: ('unlinkat', 0, 1), 38: ('renameat', 0, 1), 276: ('renameat2', 0, 1)}
else:
    sys.exit('ptkill: unsupported architecture %s' % ARCH)

libc = ctypes.CDLL(ctypes.util.find_library('c') or None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
libc.ptrace.restype = ctypes.c_long


def ptrace(req, pid, addr=0, data=0):
    r = libc.ptrace(req, pid, ctypes.c_void_p(addr), ctypes.c_void_p(data))
    if r == -1:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return r


def syscall_info(tid, buf):
    n = libc.ptrace(PTRACE_GET_SYSCALL_INFO, tid, ctypes.c_void_p(ctypes.sizeof(buf)),
                    ctypes.cast(buf, ctypes.c_void_p))
    if n <= 0:
        return None
    op = buf.raw[0]
    if op != SYSCALL_INFO_ENTRY:
        return (op, None, None)
    nr, a0, a1, a2, a3, a4, a5 = struct.unpack_from('<7Q', buf.raw, 24)
    return (op, nr, (a0, a1, a2, a3, a4, a5))


def read_cstr(tid, addr, limit=4096):
    try:
        with open('/proc/%d/mem' % tid, 'rb', buffering=0) as m:
            m.seek(addr)
            b = m.read(limit)
    except OSError:
        return None
    return b.split(b'\0', 1)[0].decode('utf-8', 'replace')


def tgid(tid):
    with open('/proc/%d/status' % tid) as f:
        for line in f:
            if line.startswith('Tgid:'):
                return int(line.split()[1])
    return tid


def main():
    argv = sys.argv[1:]
    target = logdir = events_path = None
    kill_at = 0
    while argv and argv[0] != '--':
        a = argv.pop(0)
        if a == '--target':
            target = argv.pop(0)
        elif a == '--logdir':
            logdir = argv.pop(0)
        elif a == '--kill-at':
            kill_at = int(argv.pop(0))
        elif a == '--events':
            events_path = argv.pop(0)
        else:
            sys.exit(__doc__)
    if not argv or not target or not logdir:
        sys.exit(__doc__)
    cmd = argv[1:]
    st = os.stat(target)
    tkey = ('b', st.st_rdev) if (st.st_mode & 0o170000) == 0o060000 else ('f', st.st_dev, st.st_ino)
    logdir = os.path.realpath(logdir)
    evf = open(events_path, 'w') if events_path else None

    def classify_fd(tid, fd):
        p = '/proc/%d/fd/%d' % (tid, fd)
        try:
            s = os.stat(p)
            path = os.readlink(p)
        except OSError:
            return None, None
        if (s.st_mode & 0o170000) == 0o060000:
            if tkey == ('b', s.st_rdev):
                return 'dev', path
        elif tkey == ('f', s.st_dev, s.st_ino):
            return 'dev', path
        if path == logdir or path.startswith(logdir + '/'):
            return 'log', path
        return None, path

    def resolve(tid, dirfd, addr):
        p = read_cstr(tid, addr)
        if p is None:
            return None
        if not p.startswith('/'):
            base = '/proc/%d/cwd' % tid if dirfd in (None, AT_FDCWD) else '/proc/%d/fd/%d' % (tid, dirfd)
            try:
                p = os.path.join(os.readlink(base), p)
            except OSError:
                return None
        return os.path.normpath(p)

    pid = os.fork()
    if pid == 0:
        try:
            ptrace(PTRACE_TRACEME, 0)
            os.kill(os.getpid(), signal.SIGSTOP)
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)
    _, status = os.waitpid(pid, os.WALL if hasattr(os, 'WALL') else 0x40000000)
    ptrace(PTRACE_SETOPTIONS, pid, 0,
           O_TRACESYSGOOD | O_TRACEFORK | O_TRACEVFORK | O_TRACECLONE | O_TRACEEXEC | O_EXITKILL)
    ptrace(PTRACE_SYSCALL, pid, 0, 0)
    buf = ctypes.create_string_buffer(128)
    seq = 0
    killed = None
    result = None
    live = {pid}
    wall = 0x40000000
    def on_alarm(*_):
        raise TimeoutError()
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(TIMEOUT)
    while live:
        try:
            tid, status = os.waitpid(-1, wall)
        except ChildProcessError:
            break
        except TimeoutError:
            for t in list(live):
                try:
                    os.kill(t, signal.SIGKILL)
                except OSError:
                    pass
            sys.stderr.write('ptkill: timeout after %d s, killed everything\n' % TIMEOUT)
            sys.exit(124)
        if os.WIFEXITED(status) or os.WIFSIGNALED(status):
            live.discard(tid)
            if tid == pid:
                result = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
            continue
        if not os.WIFSTOPPED(status):
            continue
        live.add(tid)
        sig = os.WSTOPSIG(status)
        inject = 0
        if sig == (signal.SIGTRAP | 0x80):
            info = syscall_info(tid, buf) if killed is None else None
            if info and info[0] == SYSCALL_INFO_ENTRY:
                nr, args = info[1], info[2]
                kind = path = None
                name = off = ln = None
                if nr in FD_CALLS:
                    name = FD_CALLS[nr]
                    kind, path = classify_fd(tid, ctypes.c_int(args[0] & 0xffffffff).value)
                    if name in ('write', 'pwrite64'):
                        ln = args[2]
                    if name == 'pwrite64':
                        off = args[3]
                elif nr in PATH_CALLS:
                    name, dfd_i, p_i = PATH_CALLS[nr]
                    dfd = None if dfd_i is None else ctypes.c_int(args[dfd_i] & 0xffffffff).value
                    path = resolve(tid, dfd, args[p_i])
                    if path and (path == logdir or path.startswith(logdir + '/')):
                        kind = 'log'
                if kind:
                    seq += 1
                    ev = dict(seq=seq, kind=kind, syscall=name, path=path, offset=off, len=ln, tid=tid)
                    if evf:
                        evf.write(json.dumps(ev) + '\n')
                    if seq == kill_at:
                        killed = ev
                        os.kill(tgid(tid), signal.SIGKILL)  # the process (all its threads), not a wrapper
                        continue  # leave this thread stopped at entry: the call never runs
        elif status >> 16:
            pass  # PTRACE_EVENT_* stop (clone, fork, exec)
        elif sig == signal.SIGSTOP and tid != pid:
            pass  # a new thread's first stop
        else:
            inject = sig
        try:
            ptrace(PTRACE_SYSCALL, tid, 0, inject)
        except OSError:
            pass
    if evf:
        evf.close()
    if killed:
        sys.stderr.write('ptkill: killed at event %d (%s %s %s offset=%s len=%s)\n' % (
            killed['seq'], killed['kind'], killed['syscall'], killed['path'], killed['offset'], killed['len']))
    else:
        sys.stderr.write('ptkill: %d events\n' % seq)
    sys.exit(result if result is not None else 1)


if __name__ == '__main__':
    main()
