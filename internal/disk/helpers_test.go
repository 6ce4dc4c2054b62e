package disk

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// needTool skips (or, under CI, fails) when an independent tool is absent.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed (CI must install it)", name)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// mbrPart writes one 16-byte MBR/EBR entry into sector s (slot 0-3).
func mbrPart(s []byte, slot int, status, typ byte, start, count uint32) {
	e := s[446+16*slot:]
	e[0] = status
	e[4] = typ
	binary.LittleEndian.PutUint32(e[8:], start)
	binary.LittleEndian.PutUint32(e[12:], count)
	s[510], s[511] = 0x55, 0xaa
}

// writeAt writes b into file path at off.
func writeAt(t *testing.T, path string, b []byte, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// sparseFile creates an empty sparse file of size bytes.
func sparseFile(t *testing.T, name string, size int64) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return p
}

// mkntfsAt formats an NTFS volume of size bytes with mkntfs (an
// independent writer) and copies it into img at off.
func mkntfsAt(t *testing.T, img string, off, size int64, sectorSize int, label string) {
	t.Helper()
	needTool(t, "mkntfs")
	vol := sparseFile(t, "vol.ntfs", size)
	run(t, "mkntfs", "-Q", "-F", "-s", strconv.Itoa(sectorSize), "-p", strconv.FormatInt(off/int64(sectorSize), 10), "-L", label, vol)
	b, err := os.ReadFile(vol)
	if err != nil {
		t.Fatal(err)
	}
	// Copy only non-zero 4 KiB blocks (keeps the image sparse).
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zero := make([]byte, 4096)
	for i := 0; i < len(b); i += 4096 {
		blk := b[i:min(i+4096, len(b))]
		if bytes.Equal(blk, zero[:len(blk)]) {
			continue
		}
		if _, err := f.WriteAt(blk, off+int64(i)); err != nil {
			t.Fatal(err)
		}
	}
}

// mmlsRow is one partition row of sleuthkit's mmls output.
type mmlsRow struct {
	start, length int64
	desc          string
}

// mmlsPartitions runs mmls (sleuthkit, an independent partition-table
// reader) and returns the rows that are partitions (not Meta, not
// unallocated, not extended containers).
func mmlsPartitions(t *testing.T, img string, sectorSize int) []mmlsRow {
	t.Helper()
	needTool(t, "mmls")
	out := run(t, "mmls", "-b", strconv.Itoa(sectorSize), img)
	var rows []mmlsRow
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 5 || !strings.HasSuffix(f[0], ":") || f[1] == "Meta" || strings.HasPrefix(f[1], "---") {
			continue
		}
		desc := strings.Join(f[5:], " ")
		if strings.Contains(desc, "Extended") {
			continue
		}
		start, err1 := strconv.ParseInt(f[2], 10, 64)
		length, err2 := strconv.ParseInt(f[4], 10, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("mmls line %q", line)
		}
		rows = append(rows, mmlsRow{start, length, desc})
	}
	return rows
}
