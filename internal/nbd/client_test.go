package nbd

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func needTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing (Debian package qemu-utils, in scripts/test-packages.txt)", name)
		}
		t.Skipf("%s not installed (Debian package qemu-utils)", name)
	}
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// pattern is a disk whose sectors say their own number.
func pattern(n int) []byte {
	b := make([]byte, n)
	for s := 0; s < n/512; s++ {
		binary.LittleEndian.PutUint64(b[s*512:], uint64(s)*0x9E3779B97F4A7C15)
		copy(b[s*512+8:], "sector")
	}
	return b
}

// TestQemuNBDQcow2: a qcow2 made by qemu-img, served by qemu-nbd, read
// and written through this client (reads and writes larger than one
// request, across request boundaries), then converted back to raw by
// qemu-img: the bytes are the ones written.
func TestQemuNBDQcow2(t *testing.T) {
	needTool(t, "qemu-img")
	needTool(t, "qemu-nbd")
	dir := t.TempDir()
	const size = 12 << 20
	want := pattern(size)
	raw := filepath.Join(dir, "d.raw")
	os.WriteFile(raw, want, 0o644)
	img := filepath.Join(dir, "d.qcow2")
	run(t, "qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, img)

	q, err := StartQemuNBD(context.Background(), img, "qcow2", false)
	if err != nil {
		t.Fatal(err)
	}
	c, err := q.Dial(context.Background(), Options{})
	if err != nil {
		q.Stop()
		t.Fatal(err)
	}
	if c.Size() != size {
		t.Fatalf("export size %d, want %d", c.Size(), size)
	}
	got := make([]byte, size)
	if n, err := c.ReadAt(got, 0); n != size || err != nil {
		t.Fatalf("ReadAt: %d, %v", n, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("bytes read through qemu-nbd differ from the disk")
	}
	w := bytes.Repeat([]byte("unbrick!"), (MaxRequest+4096)/8)
	off := int64(MaxRequest - 1000)
	if n, err := c.WriteAt(w, off); n != len(w) || err != nil {
		t.Fatalf("WriteAt: %d, %v", n, err)
	}
	copy(want[off:], w)
	tail := make([]byte, 1024)
	if n, err := c.ReadAt(tail, size-512); n != 512 || err != io.EOF {
		t.Fatalf("ReadAt past the end: %d, %v; want 512, io.EOF", n, err)
	}
	if _, err := c.WriteAt([]byte{1}, size); err == nil {
		t.Fatal("a write past the end was sent")
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := q.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Dir(q.URI.Address)); !os.IsNotExist(err) {
		t.Fatalf("qemu-nbd's socket folder is left behind: %v", err)
	}
	back := filepath.Join(dir, "back.raw")
	run(t, "qemu-img", "convert", "-f", "qcow2", "-O", "raw", img, back)
	gotRaw, _ := os.ReadFile(back)
	if !bytes.Equal(gotRaw, want) {
		t.Fatal("qemu-img reads back other bytes than were written through NBD")
	}
}

// TestQemuNBDReadOnly: a read-only qemu-nbd export is refused for writing
// at Dial, and opened read-only it reads.
func TestQemuNBDReadOnly(t *testing.T) {
	needTool(t, "qemu-nbd")
	dir := t.TempDir()
	raw := filepath.Join(dir, "d.raw")
	os.WriteFile(raw, pattern(1<<20), 0o644)
	q, err := StartQemuNBD(context.Background(), raw, "raw", true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Dial(context.Background(), Options{}); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("writable Dial of a read-only export: %v", err)
	}
	q.Stop()
	q, err = StartQemuNBD(context.Background(), raw, "raw", true)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Stop()
	c, err := q.Dial(context.Background(), Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b := make([]byte, 512)
	if _, err := c.ReadAt(b, 512); err != nil || !bytes.Equal(b, pattern(1 << 20)[512:1024]) {
		t.Fatalf("read: %v", err)
	}
	if _, err := c.WriteAt(b, 0); err == nil {
		t.Fatal("write through a read-only client")
	}
}

// TestTCPExport: qemu-nbd on loopback TCP, named by an nbd:// URI; an
// export name the server does not have is an error naming it.
func TestTCPExport(t *testing.T) {
	needTool(t, "qemu-nbd")
	dir := t.TempDir()
	raw := filepath.Join(dir, "d.raw")
	want := pattern(2 << 20)
	os.WriteFile(raw, want, 0o644)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command("qemu-nbd", "--bind=127.0.0.1", "--port="+strconv.Itoa(port), "--format=raw", "--export-name=vm1", "--persistent", raw)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	var u *URI
	var c *Client
	for i := 0; i < 100; i++ {
		u, _ = ParseURI("nbd://127.0.0.1:" + strconv.Itoa(port) + "/vm1")
		if c, err = Dial(context.Background(), u, Options{}); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(want))
	if _, err := c.ReadAt(got, 0); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read over TCP: %v", err)
	}
	c.Close()
	bad, _ := ParseURI("nbd://127.0.0.1:" + strconv.Itoa(port) + "/nope")
	_, err = Dial(context.Background(), bad, Options{})
	var se *ServerError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("unknown export: %v, want a ServerError naming it", err)
	}
}

func TestParseURI(t *testing.T) {
	good := map[string]URI{
		"nbd://host/disk":                     {Network: "tcp", Address: "host:10809", Export: "disk"},
		"nbd://10.0.0.5:10900/vm%2F1":         {Network: "tcp", Address: "10.0.0.5:10900", Export: "vm/1"},
		"nbd://[::1]:123/":                    {Network: "tcp", Address: "[::1]:123", Export: ""},
		"nbd+unix:///disk?socket=/run/q.sock": {Network: "unix", Address: "/run/q.sock", Export: "disk"},
		"nbd+unix://?socket=/tmp/s":           {Network: "unix", Address: "/tmp/s", Export: ""},
		"NBD://host":                          {Network: "tcp", Address: "host:10809", Export: ""},
	}
	for s, w := range good {
		u, err := ParseURI(s)
		if err != nil || u.Network != w.Network || u.Address != w.Address || u.Export != w.Export {
			t.Errorf("ParseURI(%q) = %+v, %v; want %+v", s, u, err, w)
		}
		if !IsURI(s) {
			t.Errorf("IsURI(%q) = false", s)
		}
	}
	bad := map[string]string{
		"nbds://host/disk":        "TLS",
		"nbd+unix:///disk":        "socket",
		"nbd:///disk":             "no host",
		"nbd+unix://h/d?socket=x": "no host",
		"nbd+vsock://1/d":         "vsock",
		"http://x/y":              "not an NBD URI",
	}
	for s, w := range bad {
		if _, err := ParseURI(s); err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("ParseURI(%q): %v, want an error containing %q", s, err, w)
		}
	}
	if IsURI("/dev/sda") || IsURI("disk.img") {
		t.Error("IsURI takes a path for a URI")
	}
}

// fakeServer answers one connection with the bytes script writes after
// reading what the client sends (for the handshake error paths only;
// qemu-nbd is the witness of the good path).
func fakeServer(t *testing.T, script func(c net.Conn)) *URI {
	t.Helper()
	dir := t.TempDir()
	sock := filepath.Join(dir, "s")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		script(c)
	}()
	return &URI{Network: "unix", Address: sock, Export: "x", Raw: "nbd+unix:///x?socket=" + sock}
}

func greeting(flags uint16) []byte {
	b := binary.BigEndian.AppendUint64(nil, magicNBD)
	b = binary.BigEndian.AppendUint64(b, magicOpt)
	return binary.BigEndian.AppendUint16(b, flags)
}

func optReply(opt, typ uint32, data []byte) []byte {
	b := binary.BigEndian.AppendUint64(nil, magicOptReply)
	b = binary.BigEndian.AppendUint32(b, opt)
	b = binary.BigEndian.AppendUint32(b, typ)
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	return append(b, data...)
}

func TestHandshakeErrors(t *testing.T) {
	ctx := context.Background()
	drain := func(c net.Conn) { c.SetReadDeadline(time.Now().Add(2 * time.Second)); io.Copy(io.Discard, c) }
	cases := []struct {
		name   string
		script func(c net.Conn)
		want   string
	}{
		{"not NBD", func(c net.Conn) { c.Write([]byte("SSH-2.0-OpenSSH_9.2\r\n")); drain(c) }, "does not speak NBD"},
		{"oldstyle", func(c net.Conn) {
			b := binary.BigEndian.AppendUint64(nil, magicNBD)
			c.Write(binary.BigEndian.AppendUint64(b, magicOldstyle))
			drain(c)
		}, "oldstyle"},
		{"no fixed newstyle", func(c net.Conn) { c.Write(greeting(0)); drain(c) }, "fixed newstyle"},
		{"unknown export", func(c net.Conn) {
			c.Write(greeting(flagFixedNewstyle | flagNoZeroes))
			io.ReadFull(c, make([]byte, 4+16+4+1+2))
			c.Write(optReply(optGo, repErrBit+6, []byte("export 'x' not found\x00\x01")))
			drain(c)
		}, `no such export (export 'x' not found)`},
		{"read-only", func(c net.Conn) {
			c.Write(greeting(flagFixedNewstyle | flagNoZeroes))
			io.ReadFull(c, make([]byte, 4+16+4+1+2))
			info := binary.BigEndian.AppendUint16(nil, infoExport)
			info = binary.BigEndian.AppendUint64(info, 1<<20)
			info = binary.BigEndian.AppendUint16(info, tflagHasFlags|tflagReadOnly)
			c.Write(append(optReply(optGo, repInfo, info), optReply(optGo, repAck, nil)...))
			drain(c)
		}, "read-only"},
		{"ack without export info", func(c net.Conn) {
			c.Write(greeting(flagFixedNewstyle | flagNoZeroes))
			io.ReadFull(c, make([]byte, 4+16+4+1+2))
			c.Write(optReply(optGo, repAck, nil))
			drain(c)
		}, "without NBD_INFO_EXPORT"},
		{"huge option reply", func(c net.Conn) {
			c.Write(greeting(flagFixedNewstyle | flagNoZeroes))
			io.ReadFull(c, make([]byte, 4+16+4+1+2))
			b := optReply(optGo, repInfo, nil)
			binary.BigEndian.PutUint32(b[16:], 1<<30)
			c.Write(b)
			drain(c)
		}, "at most"},
		{"cut short", func(c net.Conn) { c.Write(greeting(flagFixedNewstyle)[:10]) }, "greeting"},
	}
	for _, tc := range cases {
		u := fakeServer(t, tc.script)
		c, err := Dial(ctx, u, Options{Timeout: 5 * time.Second})
		if err == nil {
			c.Close()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}

// TestExportNameFallback: a server that does not know NBD_OPT_GO is asked
// with NBD_OPT_EXPORT_NAME; reads then work, and a failed read is an
// error carrying the server's errno.
func TestExportNameFallback(t *testing.T) {
	u := fakeServer(t, func(c net.Conn) {
		c.Write(greeting(flagFixedNewstyle))
		io.ReadFull(c, make([]byte, 4+16+4+1+2))
		c.Write(optReply(optGo, repErrUnsup, nil))
		io.ReadFull(c, make([]byte, 16+1)) // NBD_OPT_EXPORT_NAME "x"
		b := binary.BigEndian.AppendUint64(nil, 4096)
		b = binary.BigEndian.AppendUint16(b, tflagHasFlags)
		c.Write(append(b, make([]byte, 124)...))
		for i := 0; i < 2; i++ {
			req := make([]byte, 28)
			if _, err := io.ReadFull(c, req); err != nil {
				return
			}
			rep := binary.BigEndian.AppendUint32(nil, magicSimpleReply)
			if i == 0 {
				rep = binary.BigEndian.AppendUint32(rep, 0)
				rep = append(rep, req[8:16]...)
				rep = append(rep, bytes.Repeat([]byte{0xAB}, int(binary.BigEndian.Uint32(req[24:])))...)
			} else {
				rep = binary.BigEndian.AppendUint32(rep, 5) // EIO
				rep = append(rep, req[8:16]...)
			}
			c.Write(rep)
		}
		io.Copy(io.Discard, c)
	})
	c, err := Dial(context.Background(), u, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b := make([]byte, 100)
	if _, err := c.ReadAt(b, 10); err != nil || b[99] != 0xAB {
		t.Fatalf("read: %v", err)
	}
	var se *ServerError
	if _, err := c.ReadAt(b, 10); !errors.As(err, &se) || se.Errno != 5 {
		t.Fatalf("failed read: %v, want a ServerError with errno 5", err)
	}
}

// FuzzHandshake: whatever a server sends, Dial returns (a client or an
// error) without panicking or reading without bound.
func FuzzHandshake(f *testing.F) {
	f.Add(greeting(flagFixedNewstyle|flagNoZeroes), []byte{})
	info := binary.BigEndian.AppendUint16(nil, infoExport)
	info = binary.BigEndian.AppendUint64(info, 1<<20)
	info = binary.BigEndian.AppendUint16(info, tflagHasFlags)
	f.Add(greeting(flagFixedNewstyle|flagNoZeroes), append(optReply(optGo, repInfo, info), optReply(optGo, repAck, nil)...))
	f.Fuzz(func(t *testing.T, hello, replies []byte) {
		a, b := net.Pipe()
		go io.Copy(io.Discard, a) // whatever the client sends
		go func() {
			a.Write(hello)
			a.Write(replies)
			a.Close()
		}()
		c := &Client{uri: &URI{Raw: "fuzz"}, conn: b, br: newReader(b)}
		b.SetDeadline(time.Now().Add(2 * time.Second))
		c.handshake()
		b.Close()
	})
}
