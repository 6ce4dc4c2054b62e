package disk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/unbrick/unbrick/internal/testcorpus"
)

// loopDevice attaches img with the given logical sector size (root only).
func loopDevice(t *testing.T, img string, sectorSize string) string {
	t.Helper()
	needTool(t, "losetup")
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI runs as root; loop devices are needed")
		}
		t.Skip("loop devices need root")
	}
	var out []byte
	var err error
	for try := 0; try < 5; try++ { // other tests may grab the same free loop device
		out, err = exec.Command("losetup", "-f", "--show", "--sector-size", sectorSize, img).CombinedOutput()
		if err == nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("losetup: %v %s", err, out)
		}
		t.Skipf("losetup: %v %s", err, out)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command("losetup", "-d", dev).Run() })
	return dev
}

// Test4KnGPT: a 4096-byte-sector GPT written by sgdisk through a loop
// device with 4096-byte logical blocks, NTFS made by mkntfs -s 4096; read
// both through the loop device (BLKSSZGET, BLKGETSIZE64) and as a plain
// image file (sector size detected from the GPT), checked against mmls -b 4096.
func Test4KnGPT(t *testing.T) {
	needTool(t, "sgdisk")
	img := sparseFile(t, "4kn.img", 64<<20)
	dev := loopDevice(t, img, "4096")
	run(t, "sgdisk", "-n", "1:256:+8M", "-t", "1:ef00", "-c", "1:EFI system partition",
		"-n", "2:0:+20M", "-t", "2:0700", "-c", "2:Basic data partition",
		"-n", "3:0:0", "-t", "3:2700", "-c", "3:Recovery", dev)
	exec.Command("losetup", "-d", dev).Run()
	mkntfsAt(t, img, 2304*4096, 20<<20, 4096, "Win4k")

	rows := mmlsPartitions(t, img, 4096)
	if len(rows) != 3 {
		t.Fatalf("mmls found %d partitions: %v", len(rows), rows)
	}
	check := func(tg *Target) {
		t.Helper()
		cands, err := tg.Candidates()
		if err != nil {
			t.Fatal(err)
		}
		if len(cands) != 3 {
			t.Fatalf("candidates: %v", cands)
		}
		for i, c := range cands {
			if c.Partition != i+1 || c.SectorSize != 4096 || c.Scheme != SchemeGPT ||
				c.Offset != rows[i].start*4096 || c.Size != rows[i].length*4096 {
				t.Errorf("candidate %v; mmls says LBA %d length %d (%s)", c, rows[i].start, rows[i].length, rows[i].desc)
			}
		}
		if cands[1].Kind != NTFS || cands[1].Declared == 0 || cands[1].Name != "Basic data partition" {
			t.Errorf("partition 2: %+v", cands[1])
		}
		if cands[2].TypeName != "Windows RE" {
			t.Errorf("partition 3 type %q", cands[2].TypeName)
		}
		c, err := tg.Select(0, NTFS)
		if err != nil || c.Partition != 2 {
			t.Fatalf("Select: %v %v", c, err)
		}
	}
	tg, err := OpenTarget(img, false)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	if tg.IsDevice() || tg.DeviceSectorSize() != 0 {
		t.Errorf("image reported as device")
	}
	check(tg)

	dev = loopDevice(t, img, "4096")
	td, err := OpenTarget(dev, false)
	if err != nil {
		t.Fatal(err)
	}
	defer td.Close()
	if !td.IsDevice() || td.DeviceSectorSize() != 4096 || td.Size() != 64<<20 {
		t.Errorf("device: device=%v sector=%d size=%d", td.IsDevice(), td.DeviceSectorSize(), td.Size())
	}
	check(td)
	if _, err := td.WriteAt([]byte{1}, 0); !errors.Is(err, ErrReadOnly) {
		t.Errorf("write to read-only device: %v", err)
	}
	// Writable opens of a device are exclusive (O_EXCL): a second one
	// fails with a message saying the device is in use.
	tw, err := OpenTarget(dev, true)
	if err != nil {
		t.Fatal(err)
	}
	defer tw.Close()
	if _, err := OpenTarget(dev, true); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second exclusive open: %v", err)
	}
	orig := make([]byte, 4096)
	tw.ReadAt(orig, 4096*2304)
	if _, err := tw.Section(&Candidate{Offset: 4096 * 2304, Size: 20 << 20}).WriteAt(orig, 0); err != nil {
		t.Errorf("write through the device: %v", err)
	}
}

// TestMBRExtended: an MBR with a primary NTFS partition and an extended
// partition holding two logical partitions (EBR chain), crafted here and
// read back by mmls as the independent witness; NTFS by mkntfs.
func TestMBRExtended(t *testing.T) {
	img := sparseFile(t, "ext.img", 64<<20)
	s := make([]byte, 512)
	mbrPart(s, 0, 0x80, 0x07, 2048, 16384)
	mbrPart(s, 1, 0x00, 0x0f, 20480, 100000)
	writeAt(t, img, s, 0)
	e1 := make([]byte, 512)
	mbrPart(e1, 0, 0, 0x07, 2048, 20000)  // logical 5 at 22528
	mbrPart(e1, 1, 0, 0x05, 24576, 30000) // next EBR at 20480+24576
	writeAt(t, img, e1, 20480*512)
	e2 := make([]byte, 512)
	mbrPart(e2, 0, 0, 0x83, 2048, 10000) // logical 6 at 47104
	writeAt(t, img, e2, 45056*512)
	mkntfsAt(t, img, 2048*512, 16384*512, 512, "SysRes")
	mkntfsAt(t, img, 22528*512, 20000*512, 512, "Logical")

	rows := mmlsPartitions(t, img, 512)
	if len(rows) != 3 {
		t.Fatalf("mmls: %v", rows)
	}
	tg, err := OpenTarget(img, false)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	cands, err := tg.Candidates()
	if err != nil {
		t.Fatal(err)
	}
	wantNum := []int{1, 5, 6}
	wantKind := []Kind{NTFS, NTFS, Empty}
	if len(cands) != 3 {
		t.Fatalf("candidates %v", cands)
	}
	for i, c := range cands {
		if c.Partition != wantNum[i] || c.Kind != wantKind[i] || c.Offset != rows[i].start*512 || c.Size != rows[i].length*512 || c.Logical != (i > 0) {
			t.Errorf("candidate %v; want partition %d %v, mmls %v", c, wantNum[i], wantKind[i], rows[i])
		}
	}
	if !cands[0].Active || cands[0].MBRType != 0x07 {
		t.Errorf("partition 1: %+v", cands[0])
	}
	_, err = tg.Select(0, NTFS)
	var se *SelectError
	if !errors.As(err, &se) || !se.Ambiguous() {
		t.Fatalf("Select(0): %v", err)
	}
	for _, want := range []string{"partition 1: offset 1048576", "partition 5: offset 11534336", "NTFS", "--partition N"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("ambiguity error lacks %q:\n%v", want, err)
		}
	}
	if c, err := tg.Select(5, NTFS); err != nil || c.Offset != 22528*512 {
		t.Fatalf("Select(5): %v %v", c, err)
	}
	if _, err := tg.Select(6, NTFS); err == nil || !strings.Contains(err.Error(), "partition 6 is empty") {
		t.Errorf("Select(6): %v", err)
	}
	if _, err := tg.Select(2, NTFS); err == nil || !strings.Contains(err.Error(), "no partition 2") {
		t.Errorf("Select(2) (the extended container): %v", err)
	}

	// A loop in the EBR chain: the logical partitions found so far stay,
	// with a note.
	mbrPart(e2, 1, 0, 0x05, 1, 30000) // EBR 2 links to an EBR at 20480+1 ...
	writeAt(t, img, e2, 45056*512)
	e3 := make([]byte, 512)
	mbrPart(e3, 1, 0, 0x05, 24576, 1) // ... which links back to EBR 2
	writeAt(t, img, e3, 20481*512)
	tg2, _ := OpenTarget(img, false)
	defer tg2.Close()
	cands, err = tg2.Candidates()
	if err != nil || len(cands) < 2 || !strings.Contains(cands[len(cands)-1].Note, "loops") {
		t.Fatalf("EBR loop: %v %v", cands, err)
	}
}

// TestMBRValidation: sector-0 contents that end in 55 AA but are not a
// partition table are rejected; an LDM (0x42) partition is reported as
// unsupported.
func TestMBRValidation(t *testing.T) {
	mk := func(f func(s []byte)) *Target {
		d := make([]byte, 8<<20)
		f(d[:512])
		return NewTarget("mem", bytes.NewReader(d), int64(len(d)), false)
	}
	bad := map[string]func(s []byte){
		"status byte": func(s []byte) { mbrPart(s, 0, 0x12, 0x07, 2048, 100) },
		"overlap": func(s []byte) {
			mbrPart(s, 0, 0, 0x07, 2048, 4096)
			mbrPart(s, 1, 0, 0x07, 4000, 100)
		},
		"covers sector 0": func(s []byte) { mbrPart(s, 0, 0, 0x07, 0, 100) },
		"past the end":    func(s []byte) { mbrPart(s, 0, 0, 0x07, 1<<30, 100) },
		"no entries":      func(s []byte) { s[510], s[511] = 0x55, 0xaa },
		"protective only": func(s []byte) { mbrPart(s, 0, 0, 0xee, 1, 16383) },
	}
	for name, f := range bad {
		_, err := mk(f).Candidates()
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
		if name == "protective only" && !strings.Contains(err.Error(), "no valid GPT") {
			t.Errorf("protective MBR without GPT: %v", err)
		}
	}
	tg := mk(func(s []byte) { mbrPart(s, 0, 0, 0x42, 2048, 8192) })
	cands, err := tg.Candidates()
	if err != nil || len(cands) != 1 || cands[0].Kind != DynamicDisk || !cands[0].Kind.Unsupported() {
		t.Fatalf("LDM: %v %v", cands, err)
	}
	if _, err := tg.Select(0, BitLocker); err == nil || !strings.Contains(err.Error(), "dynamic disk") {
		t.Errorf("Select on LDM: %v", err)
	}
}

// TestGPTUnsupportedKinds: LDM and Storage Spaces types (sgdisk type codes
// 4201, 4202) and a LUKS header inside a Linux partition.
func TestGPTUnsupportedKinds(t *testing.T) {
	needTool(t, "sgdisk")
	img := sparseFile(t, "kinds.img", 32<<20)
	run(t, "sgdisk", "-n", "1:2048:+4M", "-t", "1:4201", "-n", "2:0:+4M", "-t", "2:4202",
		"-n", "3:0:+4M", "-t", "3:8309", "-n", "4:0:+4M", "-t", "4:0700", img)
	writeAt(t, img, []byte("LUKS\xba\xbe\x00\x02"), (2048+3*8192)*512-8192*512)
	tg, err := OpenTarget(img, false)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	cands, err := tg.Candidates()
	if err != nil {
		t.Fatal(err)
	}
	want := []Kind{DynamicDisk, StorageSpaces, LUKS, Empty}
	for i, c := range cands {
		if c.Kind != want[i] {
			t.Errorf("partition %d: %v (%s), want %v", c.Partition, c.Kind, c.TypeName, want[i])
		}
		if want[i].Unsupported() && c.Note == "" {
			t.Errorf("partition %d: no note", c.Partition)
		}
	}
	_, err = tg.Select(0, BitLocker, NTFS)
	if err == nil || !strings.Contains(err.Error(), "unsupported: partition 1") || !strings.Contains(err.Error(), "Storage Spaces") {
		t.Errorf("Select: %v", err)
	}
}

// corpusCopy decompresses a corpus disk.
func corpusCopy(t *testing.T, variant string) string {
	t.Helper()
	return testcorpus.Disk(t, variant)
}

// TestTruncatedDisk: a corpus disk cut in the middle of its BitLocker OS
// partition: the primary GPT still lists every partition, the OS volume is
// short (zeros past the end, writes refused even on a writable target), the
// recovery partition starts past the end.
func TestTruncatedDisk(t *testing.T) {
	img := corpusCopy(t, "win10-xts128-recoverypw")
	cut := int64(102400*512 + 10<<20)
	if err := os.Truncate(img, cut); err != nil {
		t.Fatal(err)
	}
	tg, err := OpenTarget(img, true)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	cands, err := tg.Candidates()
	if err != nil {
		t.Fatal(err)
	}
	if len(cands) != 4 || !cands[2].Truncated || cands[1].Truncated || cands[3].Note != "starts past the end of the image" {
		t.Fatalf("candidates: %v", cands)
	}
	c, err := tg.Select(0, BitLocker)
	if err != nil || c.Partition != 3 {
		t.Fatalf("Select: %v %v", c, err)
	}
	sec := tg.Section(c)
	if !sec.Short() || sec.Missing() != c.Size-10<<20 || sec.Writable() {
		t.Fatalf("short=%v missing=%d", sec.Short(), sec.Missing())
	}
	b := make([]byte, 4096)
	b[0] = 1
	if n, err := sec.ReadAt(b, 20<<20); n != 4096 || err != nil || !allZero(b) {
		t.Errorf("read past the image end: %d %v", n, err)
	}
	if _, err := sec.WriteAt(make([]byte, 512), 0); !errors.Is(err, ErrShortImage) {
		t.Errorf("write: %v", err)
	}
	// A complete partition on the same writable target is writable.
	esp := tg.Section(&cands[0])
	if !esp.Writable() {
		t.Errorf("ESP not writable")
	}
	orig := make([]byte, 512)
	esp.ReadAt(orig, 512)
	if _, err := esp.WriteAt(orig, 512); err != nil {
		t.Errorf("write ESP: %v", err)
	}
	if _, err := esp.WriteAt(orig, esp.Size()-100); err == nil {
		t.Errorf("write past the partition end accepted")
	}
	// Cut inside the GPT itself: protective MBR without a readable GPT.
	os.Truncate(img, 1000)
	tg3, _ := OpenTarget(img, false)
	defer tg3.Close()
	if _, err := tg3.Candidates(); err == nil || !strings.Contains(err.Error(), "no valid GPT") {
		t.Errorf("GPT cut off: %v", err)
	}
}

// TestGPTBackup: a corpus disk whose primary GPT header is damaged is read
// from the backup header (and says so); a header with a valid CRC that
// declares an absurd entry array is refused, not allocated.
func TestGPTBackup(t *testing.T) {
	img := corpusCopy(t, "win10-plain-ntfs")
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	hdr := make([]byte, 512)
	f.ReadAt(hdr, 512)
	bad := append([]byte(nil), hdr...)
	bad[40] ^= 0xff // first usable LBA: CRC now wrong
	f.WriteAt(bad, 512)
	tg, _ := OpenTarget(img, false)
	cands, err := tg.Candidates()
	tg.Close()
	if err != nil || len(cands) != 4 || !strings.Contains(cands[0].Note, "backup GPT") || cands[2].Kind != NTFS {
		t.Fatalf("backup GPT: %v %v", cands, err)
	}
	hostile := append([]byte(nil), hdr...)
	binary.LittleEndian.PutUint32(hostile[80:], 0xffffffff)
	binary.LittleEndian.PutUint32(hostile[16:], 0)
	binary.LittleEndian.PutUint32(hostile[16:], crc32.ChecksumIEEE(hostile[:92]))
	f.WriteAt(hostile, 512)
	f.Close()
	tg, _ = OpenTarget(img, false)
	defer tg.Close()
	if _, err := tg.Candidates(); err == nil || !strings.Contains(err.Error(), "refusing a header that declares 4294967295 partition entries") {
		t.Errorf("hostile GPT header: %v", err)
	}
}

func TestGarbage(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	g := make([]byte, 1<<20)
	rng.Read(g)
	for name, d := range map[string][]byte{"random": g, "zeros": make([]byte, 1<<20), "tiny": []byte("hello")} {
		tg := NewTarget(name, bytes.NewReader(d), int64(len(d)), false)
		if _, err := tg.Candidates(); !errors.Is(err, ErrUnrecognized) {
			t.Errorf("%s: %v", name, err)
		}
		if _, err := tg.Select(0); !errors.Is(err, ErrUnrecognized) {
			t.Errorf("%s: Select: %v", name, err)
		}
	}
	if _, err := OpenTarget(t.TempDir(), false); err == nil || !strings.Contains(err.Error(), "directory") {
		t.Errorf("directory: %v", err)
	}
	if _, err := OpenTarget("/nonexistent/x.img", false); err == nil {
		t.Errorf("missing file accepted")
	}
}

// TestWholeNTFSVolume: a bare NTFS volume made by mkntfs is Partition 0
// with the size mkntfs declared; cut short, it is Truncated.
func TestWholeNTFSVolume(t *testing.T) {
	img := sparseFile(t, "ntfs.img", 16<<20)
	mkntfsAt(t, img, 0, 16<<20, 512, "Bare")
	tg, _ := OpenTarget(img, false)
	cands, err := tg.Candidates()
	tg.Close()
	if err != nil || len(cands) != 1 || cands[0].Kind != NTFS || cands[0].Partition != 0 || cands[0].Size != 16<<20 || cands[0].Truncated {
		t.Fatalf("%v %v", cands, err)
	}
	os.Truncate(img, 8<<20)
	tg, _ = OpenTarget(img, false)
	defer tg.Close()
	c, err := tg.Select(0, NTFS)
	if err != nil || !c.Truncated || c.Size != 16<<20 || !tg.Section(c).Short() {
		t.Fatalf("truncated volume: %v %v", c, err)
	}
}

// TestBitLockerToGoAndVista: boot sectors built from the documented
// layouts (no real To Go sample is in the corpus): a FAT "MSWIN4.1" volume
// with the BitLocker identifier at 0x1A8 is BitLocker To Go (unsupported),
// one without it is FAT; a Vista-layout (EB 52 90) "-FVE-FS-" is BitLocker.
func TestBitLockerToGoAndVista(t *testing.T) {
	vol := func(f func(b []byte)) []Candidate {
		d := make([]byte, 1<<20)
		d[510], d[511] = 0x55, 0xaa
		f(d)
		cands, err := NewTarget("mem", bytes.NewReader(d), int64(len(d)), false).Candidates()
		if err != nil {
			t.Fatal(err)
		}
		return cands
	}
	togo := vol(func(b []byte) {
		copy(b[0:], "\xeb\x58\x90MSWIN4.1")
		copy(b[0x52:], "FAT32   ")
		copy(b[0x1a8:], bitLockerIdentifiers[0])
	})
	if len(togo) != 1 || togo[0].Kind != BitLockerToGo || togo[0].Partition != 0 || !strings.Contains(togo[0].Note, "To Go") {
		t.Errorf("To Go: %v", togo)
	}
	fat := vol(func(b []byte) {
		copy(b[0:], "\xeb\x58\x90MSWIN4.1")
		copy(b[0x47:], "USBSTICK   FAT32   ")
	})
	if len(fat) != 1 || fat[0].Kind != FAT || fat[0].Label != "USBSTICK" {
		t.Errorf("FAT superfloppy: %v", fat)
	}
	vista := vol(func(b []byte) { copy(b[0:], "\xeb\x52\x90-FVE-FS-") })
	if len(vista) != 1 || vista[0].Kind != BitLocker || vista[0].Truncated {
		t.Errorf("Vista: %v", vista)
	}
}

func TestTargetSync(t *testing.T) {
	p := filepath.Join(t.TempDir(), "img")
	if err := os.WriteFile(p, make([]byte, 4096), 0o644); err != nil {
		t.Fatal(err)
	}
	tg, err := OpenTarget(p, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tg.WriteAt([]byte{1}, 0); err != nil {
		t.Fatal(err)
	}
	if err := tg.Sync(); err != nil {
		t.Fatalf("Sync on a writable image: %v", err)
	}
	tg.Close()
	if err := tg.Sync(); err == nil {
		t.Fatal("Sync after Close: no error")
	}
	ro, err := OpenTarget(p, false)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if err := ro.Sync(); err != nil {
		t.Fatalf("Sync on a read-only target: %v", err)
	}
}
