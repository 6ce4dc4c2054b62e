// Package nbd is a small client of the Network Block Device protocol that
// does everything in userspace: it needs no nbd kernel module, no
// /dev/nbdN and no root. unbrick reads and writes a disk that an NBD
// server exports (qemu-nbd serving a qcow2, VHDX, dynamic VHD, sparse VMDK
// or VDI file; nbdkit, including its VMware VDDK plugin) as an
// io.ReaderAt and io.WriterAt.
//
// API:
//
//	u, err := nbd.ParseURI("nbd+unix:///disk?socket=/run/qemu-nbd.sock")
//	c, err := nbd.Dial(ctx, u, nbd.Options{ReadOnly: !writable})
//	defer c.Close()                 // NBD_CMD_DISC, then the connection
//	n, err := c.ReadAt(p, off)      // NBD_CMD_READ
//	n, err = c.WriteAt(p, off)      // NBD_CMD_WRITE
//	err = c.Flush()                 // NBD_CMD_FLUSH: the barrier between ordered writes
//
// # The protocol (what this client speaks)
//
// The facts below are from the NBD project's protocol document
// (github.com/NetworkBlockDevice/nbd, doc/proto.md) and its URI
// specification (doc/uri.md). All integers are big-endian.
//
// Handshake, "fixed newstyle" only (oldstyle servers are refused):
//
//	S: 64 bits "NBDMAGIC" (0x4e42444d41474943)
//	S: 64 bits "IHAVEOPT" (0x49484156454F5054)
//	S: 16 bits handshake flags: NBD_FLAG_FIXED_NEWSTYLE (bit 0), NBD_FLAG_NO_ZEROES (bit 1)
//	C: 32 bits client flags: NBD_FLAG_C_FIXED_NEWSTYLE (bit 0), NBD_FLAG_C_NO_ZEROES (bit 1)
//
// Then options; each is
//
//	C: 64 bits "IHAVEOPT", 32 bits option, 32 bits length, length bytes of data
//
// and each option's replies are
//
//	S: 64 bits 0x3e889045565a9, 32 bits option, 32 bits reply type,
//	   32 bits length, length bytes of data
//
// The client sends NBD_OPT_GO (7) with data: 32-bit export name length,
// the name (UTF-8), a 16-bit count of information requests and one 16-bit
// request each (none here). The server answers NBD_REP_INFO (3) replies,
// of which NBD_INFO_EXPORT (info type 0: 64-bit export size, 16-bit
// transmission flags) is mandatory, then NBD_REP_ACK (1), after which
// transmission begins. A reply type with bit 31 set is an error (1<<31 + 1
// NBD_REP_ERR_UNSUP, +2 NBD_REP_ERR_POLICY, +3 NBD_REP_ERR_INVALID, +6
// NBD_REP_ERR_UNKNOWN for an export that does not exist, +5
// NBD_REP_ERR_TLS_REQD, ...); its data is a message for humans. A server
// that answers NBD_OPT_GO with NBD_REP_ERR_UNSUP is asked again with
// NBD_OPT_EXPORT_NAME (1, data: the name), whose only reply is the 64-bit
// size, the 16-bit transmission flags and, unless both sides set
// NO_ZEROES, 124 zero bytes.
//
// Transmission flags used: NBD_FLAG_HAS_FLAGS (bit 0), NBD_FLAG_READ_ONLY
// (bit 1), NBD_FLAG_SEND_FLUSH (bit 2). Structured replies are never
// negotiated, so every reply is a simple reply. Requests:
//
//	C: 32 bits 0x25609513, 16 bits command flags, 16 bits type,
//	   64 bits handle, 64 bits offset, 32 bits length, (data of a write)
//	S: 32 bits 0x67446698, 32 bits error (an errno value; 0 = ok),
//	   64 bits handle, (length bytes of data for a successful read)
//
// Types: NBD_CMD_READ 0, NBD_CMD_WRITE 1, NBD_CMD_DISC 2 (no reply: the
// server closes the connection), NBD_CMD_FLUSH 3 (every write the server
// replied to before it is on stable storage when it replies). This client
// sends one request at a time and splits reads and writes into requests of
// at most MaxRequest bytes (servers must accept 32 MiB; most accept more).
//
// URIs (doc/uri.md): nbd://HOST[:PORT][/EXPORT] (TCP, port 10809 by
// default), nbd+unix:///[EXPORT]?socket=PATH (a Unix socket); the export
// name is the path without its leading slash, percent-decoded. The TLS
// forms nbds:// and nbds+unix:// are refused (this client has no TLS).
package nbd
