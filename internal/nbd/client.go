package nbd

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"time"
)

// Protocol constants (doc.go gives their source).
const (
	magicNBD         = 0x4e42444d41474943 // "NBDMAGIC"
	magicOpt         = 0x49484156454F5054 // "IHAVEOPT"
	magicOptReply    = 0x3e889045565a9
	magicRequest     = 0x25609513
	magicSimpleReply = 0x67446698
	magicOldstyle    = 0x00420281861253

	flagFixedNewstyle = 1 << 0
	flagNoZeroes      = 1 << 1

	optExportName = 1
	optGo         = 7

	repAck      = 1
	repInfo     = 3
	repErrUnsup = 1<<31 + 1
	repErrBit   = 1 << 31

	infoExport = 0

	tflagHasFlags  = 1 << 0
	tflagReadOnly  = 1 << 1
	tflagSendFlush = 1 << 2

	cmdRead  = 0
	cmdWrite = 1
	cmdDisc  = 2
	cmdFlush = 3
)

// MaxRequest is the largest read or write sent in one request; larger
// ones are split. The protocol lets every server take 32 MiB.
const MaxRequest = 4 << 20

// maxOptionReply bounds the data of one option reply read whole.
const maxOptionReply = 64 << 10

// Options are how Dial connects.
type Options struct {
	// ReadOnly: refuse every write in this client, whatever the server
	// allows.
	ReadOnly bool
	// Timeout bounds connecting and the handshake (default 30 s).
	Timeout time.Duration
}

// Client is one NBD connection in transmission mode. Its methods may be
// called from several goroutines; requests go one at a time.
type Client struct {
	uri   *URI
	conn  net.Conn
	br    *bufio.Reader
	size  int64
	flags uint16
	ro    bool

	mu     sync.Mutex
	handle uint64
	err    error // a broken connection: every later call fails with it
	closed bool
}

// ServerError is an error the server replied with: to an option during
// the handshake (Reply is the reply type) or to a request (Errno).
type ServerError struct {
	URI     string
	Op      string // "NBD_OPT_GO", "read", "write", "flush"
	Reply   uint32 // option reply type, bit 31 set
	Errno   syscall.Errno
	Message string // the server's own words, if any
}

func (e *ServerError) Error() string {
	if e.Errno != 0 {
		return fmt.Sprintf("NBD server %s: %s failed: %v", e.URI, e.Op, e.Errno)
	}
	what := map[uint32]string{repErrBit + 1: "not supported", repErrBit + 2: "refused by policy", repErrBit + 3: "invalid",
		repErrBit + 5: "TLS required", repErrBit + 6: "no such export", repErrBit + 7: "server shutting down"}[e.Reply]
	if what == "" {
		what = fmt.Sprintf("error %#x", e.Reply)
	}
	s := fmt.Sprintf("NBD server %s: %s: %s", e.URI, e.Op, what)
	if e.Message != "" {
		s += " (" + e.Message + ")"
	}
	return s
}

// Dial connects to u, negotiates its export and enters transmission.
func Dial(ctx context.Context, u *URI, o Options) (*Client, error) {
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	d := net.Dialer{Timeout: o.Timeout}
	conn, err := d.DialContext(ctx, u.Network, u.Address)
	if err != nil {
		return nil, fmt.Errorf("connect to NBD server %s: %w (is the server running and the export shared?)", u, err)
	}
	c := &Client{uri: u, conn: conn, br: newReader(conn), ro: o.ReadOnly}
	conn.SetDeadline(time.Now().Add(o.Timeout))
	if err := c.handshake(); err != nil {
		conn.Close()
		return nil, err
	}
	conn.SetDeadline(time.Time{})
	if c.flags&tflagReadOnly != 0 && !o.ReadOnly {
		c.sendDisc()
		conn.Close()
		return nil, fmt.Errorf("NBD server %s exports %q read-only: unbrick cannot fix through it (start the server writable, e.g. qemu-nbd without --read-only)", u, u.Export)
	}
	return c, nil
}

func newReader(conn net.Conn) *bufio.Reader { return bufio.NewReaderSize(conn, 64<<10) }

func (c *Client) handshake() error {
	var hdr [18]byte
	if _, err := io.ReadFull(c.br, hdr[:16]); err != nil {
		return fmt.Errorf("NBD server %s: read greeting: %w", c.uri, err)
	}
	if binary.BigEndian.Uint64(hdr[0:]) != magicNBD {
		return fmt.Errorf("%s does not speak NBD (no NBDMAGIC greeting)", c.uri)
	}
	if m := binary.BigEndian.Uint64(hdr[8:]); m != magicOpt {
		if m == magicOldstyle {
			return fmt.Errorf("NBD server %s speaks the oldstyle handshake, which unbrick does not: use a newstyle server (qemu-nbd, nbdkit, nbd-server 3.x)", c.uri)
		}
		return fmt.Errorf("NBD server %s: unknown handshake magic %#x", c.uri, m)
	}
	if _, err := io.ReadFull(c.br, hdr[16:18]); err != nil {
		return fmt.Errorf("NBD server %s: read handshake flags: %w", c.uri, err)
	}
	sflags := binary.BigEndian.Uint16(hdr[16:])
	if sflags&flagFixedNewstyle == 0 {
		return fmt.Errorf("NBD server %s does not offer the fixed newstyle handshake", c.uri)
	}
	cflags := uint32(flagFixedNewstyle)
	noZeroes := sflags&flagNoZeroes != 0
	if noZeroes {
		cflags |= flagNoZeroes
	}
	if err := c.write(binary.BigEndian.AppendUint32(nil, cflags)); err != nil {
		return err
	}
	err := c.optGo()
	var se *ServerError
	if errors.As(err, &se) && se.Reply == repErrUnsup {
		return c.optExportName(noZeroes)
	}
	return err
}

func (c *Client) sendOption(opt uint32, data []byte) error {
	b := binary.BigEndian.AppendUint64(nil, magicOpt)
	b = binary.BigEndian.AppendUint32(b, opt)
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	return c.write(append(b, data...))
}

// optGo negotiates the export with NBD_OPT_GO.
func (c *Client) optGo() error {
	name := []byte(c.uri.Export)
	data := binary.BigEndian.AppendUint32(nil, uint32(len(name)))
	data = append(data, name...)
	data = binary.BigEndian.AppendUint16(data, 0)
	if err := c.sendOption(optGo, data); err != nil {
		return err
	}
	haveExport := false
	for i := 0; i < 1024; i++ {
		var h [20]byte
		if _, err := io.ReadFull(c.br, h[:]); err != nil {
			return fmt.Errorf("NBD server %s: read option reply: %w", c.uri, err)
		}
		if binary.BigEndian.Uint64(h[0:]) != magicOptReply {
			return fmt.Errorf("NBD server %s: option reply with a bad magic", c.uri)
		}
		if opt := binary.BigEndian.Uint32(h[8:]); opt != optGo {
			return fmt.Errorf("NBD server %s: reply to option %d, expected %d (NBD_OPT_GO)", c.uri, opt, optGo)
		}
		typ, n := binary.BigEndian.Uint32(h[12:]), binary.BigEndian.Uint32(h[16:])
		if n > maxOptionReply {
			return fmt.Errorf("NBD server %s: option reply of %d bytes (at most %d)", c.uri, n, maxOptionReply)
		}
		data := make([]byte, n)
		if _, err := io.ReadFull(c.br, data); err != nil {
			return fmt.Errorf("NBD server %s: read option reply data: %w", c.uri, err)
		}
		switch {
		case typ&repErrBit != 0:
			return &ServerError{URI: c.uri.Raw, Op: "NBD_OPT_GO for export " + quoteExport(c.uri.Export), Reply: typ, Message: printable(data)}
		case typ == repInfo:
			if len(data) >= 2 && binary.BigEndian.Uint16(data) == infoExport {
				if len(data) != 12 {
					return fmt.Errorf("NBD server %s: NBD_INFO_EXPORT of %d bytes, want 12", c.uri, len(data))
				}
				if err := c.setExport(binary.BigEndian.Uint64(data[2:]), binary.BigEndian.Uint16(data[10:])); err != nil {
					return err
				}
				haveExport = true
			}
		case typ == repAck:
			if !haveExport {
				return fmt.Errorf("NBD server %s: NBD_OPT_GO acknowledged without NBD_INFO_EXPORT", c.uri)
			}
			return nil
		}
	}
	return fmt.Errorf("NBD server %s: too many option replies", c.uri)
}

// optExportName is the older way into transmission.
func (c *Client) optExportName(noZeroes bool) error {
	if err := c.sendOption(optExportName, []byte(c.uri.Export)); err != nil {
		return err
	}
	n := 10
	if !noZeroes {
		n += 124
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(c.br, b); err != nil {
		return fmt.Errorf("NBD server %s: export %s: %w (does it exist?)", c.uri, quoteExport(c.uri.Export), err)
	}
	return c.setExport(binary.BigEndian.Uint64(b), binary.BigEndian.Uint16(b[8:]))
}

func (c *Client) setExport(size uint64, flags uint16) error {
	if size > 1<<62 {
		return fmt.Errorf("NBD server %s: export size %d is not plausible", c.uri, size)
	}
	c.size, c.flags = int64(size), flags
	return nil
}

func quoteExport(s string) string {
	if s == "" {
		return "(default)"
	}
	return fmt.Sprintf("%q", s)
}

// printable keeps a server message to printable ASCII, bounded.
func printable(b []byte) string {
	out := make([]byte, 0, min(len(b), 200))
	for _, c := range b {
		if len(out) == 200 {
			break
		}
		if c >= 0x20 && c < 0x7f {
			out = append(out, c)
		}
	}
	return string(out)
}

func (c *Client) write(b []byte) error {
	if _, err := c.conn.Write(b); err != nil {
		return fmt.Errorf("NBD server %s: send: %w", c.uri, err)
	}
	return nil
}

// Size is the export's size in bytes.
func (c *Client) Size() int64 { return c.size }

// ReadOnly reports whether writes are refused (by Options or the server).
func (c *Client) ReadOnly() bool { return c.ro || c.flags&tflagReadOnly != 0 }

// ReadAt reads len(p) bytes at off; past the end of the export it reads
// what there is and returns io.EOF.
func (c *Client) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("NBD read at negative offset %d", off)
	}
	if off >= c.size {
		return 0, io.EOF
	}
	want := p
	if rem := c.size - off; int64(len(p)) > rem {
		want = p[:rem]
	}
	done := 0
	for done < len(want) {
		k := min(len(want)-done, MaxRequest)
		if err := c.do(cmdRead, off+int64(done), want[done:done+k], nil); err != nil {
			return done, err
		}
		done += k
	}
	if len(want) < len(p) {
		return done, io.EOF
	}
	return done, nil
}

// WriteAt writes p at off; it never writes past the end of the export.
func (c *Client) WriteAt(p []byte, off int64) (int, error) {
	if c.ReadOnly() {
		return 0, fmt.Errorf("NBD export %s is open read-only", c.uri)
	}
	if off < 0 || int64(len(p)) > c.size-off {
		return 0, fmt.Errorf("NBD write of %d bytes at %d is outside the export (%d bytes)", len(p), off, c.size)
	}
	done := 0
	for done < len(p) {
		k := min(len(p)-done, MaxRequest)
		if err := c.do(cmdWrite, off+int64(done), nil, p[done:done+k]); err != nil {
			return done, err
		}
		done += k
	}
	return done, nil
}

// Flush asks the server to put every write it acknowledged on stable
// storage (NBD_CMD_FLUSH). A server that does not offer flushes writes
// through: Flush is then a no-op.
func (c *Client) Flush() error {
	if c.flags&tflagSendFlush == 0 || c.ReadOnly() {
		return nil
	}
	return c.do(cmdFlush, 0, nil, nil)
}

// Sync is Flush (the name disk.Target looks for).
func (c *Client) Sync() error { return c.Flush() }

// do sends one request and reads its simple reply: into rbuf for a read,
// with wbuf as the data of a write.
func (c *Client) do(typ uint16, off int64, rbuf, wbuf []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	if c.closed {
		return fmt.Errorf("NBD connection to %s is closed", c.uri)
	}
	c.handle++
	n := len(rbuf) + len(wbuf)
	req := make([]byte, 28, 28+len(wbuf))
	binary.BigEndian.PutUint32(req[0:], magicRequest)
	binary.BigEndian.PutUint16(req[4:], 0)
	binary.BigEndian.PutUint16(req[6:], typ)
	binary.BigEndian.PutUint64(req[8:], c.handle)
	binary.BigEndian.PutUint64(req[16:], uint64(off))
	binary.BigEndian.PutUint32(req[24:], uint32(n))
	req = append(req, wbuf...)
	if err := c.write(req); err != nil {
		c.err = err
		return err
	}
	var rep [16]byte
	if _, err := io.ReadFull(c.br, rep[:]); err != nil {
		c.err = fmt.Errorf("NBD server %s: read reply: %w (the connection is lost)", c.uri, err)
		return c.err
	}
	if m := binary.BigEndian.Uint32(rep[0:]); m != magicSimpleReply {
		c.err = fmt.Errorf("NBD server %s: reply magic %#x is not a simple reply (the connection is out of step)", c.uri, m)
		return c.err
	}
	if h := binary.BigEndian.Uint64(rep[8:]); h != c.handle {
		c.err = fmt.Errorf("NBD server %s: reply for request %d, expected %d", c.uri, h, c.handle)
		return c.err
	}
	if e := binary.BigEndian.Uint32(rep[4:]); e != 0 {
		// A failed read carries no data in a simple reply.
		op := map[uint16]string{cmdRead: "read", cmdWrite: "write", cmdFlush: "flush"}[typ]
		return &ServerError{URI: c.uri.Raw, Op: fmt.Sprintf("%s of %d bytes at %d", op, n, off), Errno: syscall.Errno(e)}
	}
	if typ == cmdRead {
		if _, err := io.ReadFull(c.br, rbuf); err != nil {
			c.err = fmt.Errorf("NBD server %s: read data: %w", c.uri, err)
			return c.err
		}
	}
	return nil
}

// sendDisc sends NBD_CMD_DISC (which has no reply).
func (c *Client) sendDisc() {
	req := make([]byte, 28)
	binary.BigEndian.PutUint32(req[0:], magicRequest)
	binary.BigEndian.PutUint16(req[6:], cmdDisc)
	c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	c.conn.Write(req)
}

// Close flushes (when writable), disconnects cleanly and closes the
// connection. The flush error, if any, is returned: the writes it covered
// may not be on stable storage.
func (c *Client) Close() error {
	var err error
	if !c.ReadOnly() {
		err = c.Flush()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	if c.err == nil {
		c.sendDisc()
	}
	if cerr := c.conn.Close(); err == nil && cerr != nil && c.err == nil {
		err = cerr
	}
	return err
}
