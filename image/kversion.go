package image

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// kernelVersion reads the version string an x86 bzImage carries in its
// setup header (Linux boot protocol, Documentation/arch/x86/boot.rst):
// "HdrS" at 0x202, boot protocol version at 0x206, and at 0x20E a 16-bit
// pointer to a NUL-terminated string, counted from 0x200 (protocol 2.00+).
// The string starts with the kernel release ("6.1.0-56-amd64 (...) #1 SMP ...").
func kernelVersion(r io.ReaderAt) (string, error) {
	hdr := make([]byte, 0x210)
	if _, err := r.ReadAt(hdr, 0); err != nil {
		return "", fmt.Errorf("read bzImage setup header: %w", err)
	}
	if string(hdr[0x202:0x206]) != "HdrS" {
		return "", fmt.Errorf("not a Linux bzImage (no HdrS signature at 0x202)")
	}
	if proto := binary.LittleEndian.Uint16(hdr[0x206:]); proto < 0x200 {
		return "", fmt.Errorf("boot protocol %#x too old to carry a version string", proto)
	}
	ptr := int64(binary.LittleEndian.Uint16(hdr[0x20E:]))
	if ptr == 0 {
		return "", fmt.Errorf("bzImage has no kernel version string")
	}
	buf := make([]byte, 256)
	n, err := r.ReadAt(buf, ptr+0x200)
	if n == 0 && err != nil {
		return "", fmt.Errorf("read kernel version string: %w", err)
	}
	buf = buf[:n]
	end := bytes.IndexByte(buf, 0)
	if end <= 0 {
		return "", fmt.Errorf("kernel version string at %#x is empty or unterminated", ptr+0x200)
	}
	return string(buf[:end]), nil
}

func kernelVersionFile(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return kernelVersion(f)
}
