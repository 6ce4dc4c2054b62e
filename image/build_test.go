package image

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/u-root/u-root/pkg/cpio"
)

// needTool returns the path of an external checker, skipping the test when
// it is not installed (failing under CI, where .ci/run installs it).
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not installed", name)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

func buildFake(t *testing.T, mutate func(*Options)) (string, *Result) {
	t.Helper()
	bc, err := LoadBootChain(fakeBootChain(t))
	if err != nil {
		t.Fatal(err)
	}
	o := Options{
		Out: filepath.Join(t.TempDir(), "usb.img"), BootChain: bc,
		Init:    []byte("#!fake init binary"),
		Keys:    []File{{Name: "keys.csv", Data: []byte("KeyID,RecoveryKey\nA,111111-111111-111111-111111-111111-111111-111111-111111\n")}},
		Rules:   &File{Name: "rules.txt", Data: []byte("rule\n")},
		Modules: []string{"a", "c", "vfat"}, Passphrase: "test passphrase", WorkFactor: 10,
		Config: DefaultConfig(), Version: "test",
	}
	if mutate != nil {
		mutate(&o)
	}
	res, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	return o.Out, res
}

// TestBuildCheckedByIndependentTools builds an image from a fake boot
// chain and checks it with tools we did not write: sgdisk (GPT), fsck.fat
// (both FAT volumes) and mtools (file contents).
func TestBuildCheckedByIndependentTools(t *testing.T) {
	img, res := buildFake(t, nil)
	if res.ESPType != "FAT16" || res.LogsType != "FAT16" || res.LogsSize != 16<<20 {
		t.Fatalf("result %+v", res)
	}
	sgdisk := needTool(t, "sgdisk")
	out, err := exec.Command(sgdisk, "-v", img).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "No problems found") {
		t.Fatalf("sgdisk -v: %v\n%s", err, out)
	}
	out, _ = exec.Command(sgdisk, "-p", img).CombinedOutput()
	if !regexpLine(string(out), `^\s+1\s+2048\s+\d+.*EF00\s+ESP$`) || !regexpLine(string(out), `^\s+2\s+\d+\s+\d+.*0700\s+LOGS$`) {
		t.Fatalf("sgdisk -p:\n%s", out)
	}
	fsck := needTool(t, "fsck.fat")
	mtype := needTool(t, "mtype")
	mdir := needTool(t, "mdir")
	logsOff := int64(2048*512) + res.ESPSize
	for _, part := range []struct {
		name     string
		off, len int64
	}{{"ESP", 2048 * 512, res.ESPSize}, {"LOGS", logsOff, res.LogsSize}} {
		p := filepath.Join(t.TempDir(), part.name+".img")
		copyRange(t, img, p, part.off, part.len)
		out, err := exec.Command(fsck, "-n", "-v", p).CombinedOutput()
		if os.Getenv("KEEPFAT") != "" {
			exec.Command("cp", p, "/tmp/iw/"+part.name+".part").Run()
		}
		if err != nil || strings.Contains(string(out), "FAT32") {
			t.Errorf("fsck.fat %s: %v\n%s", part.name, err, out)
		}
	}
	esp := img + "@@" + strconv.FormatInt(2048*512, 10)
	cfg, err := exec.Command(mtype, "-i", esp, "::/EFI/debian/grub.cfg").Output()
	if err != nil || !strings.Contains(string(cfg), "set timeout=0") || !strings.Contains(string(cfg), "console=ttyS0,115200 console=tty0") {
		t.Errorf("grub.cfg via mtools: %v\n%s", err, cfg)
	}
	listing, _ := exec.Command(mdir, "-i", esp, "-b", "-/", "::/").Output()
	for _, want := range []string{"EFI/BOOT/BOOTX64.EFI", "EFI/BOOT/grubx64.efi", "EFI/BOOT/mmx64.efi", "boot/vmlinuz", "boot/initrd.gz"} {
		if !strings.Contains(strings.ToLower(string(listing)), strings.ToLower(want)) {
			t.Errorf("ESP lacks %s:\n%s", want, listing)
		}
	}
	if strings.Contains(strings.ToLower(string(listing)), "fbx64") {
		t.Error("ESP ships fbx64.efi")
	}
	logs := img + "@@" + strconv.FormatInt(logsOff, 10)
	conf, err := exec.Command(mtype, "-i", logs, "::/unbrick.conf").Output()
	if err != nil || !strings.Contains(string(conf), "mode = auto") {
		t.Errorf("unbrick.conf via mtools: %v\n%s", err, conf)
	}
	sealed, err := exec.Command(mtype, "-i", logs, "::/keys/keys.csv.age").Output()
	if err != nil {
		t.Fatalf("sealed keys via mtools: %v", err)
	}
	if plain, err := Unseal(sealed, "test passphrase"); err != nil || !strings.Contains(string(plain), "111111-111111") {
		t.Errorf("sealed key file does not open: %v", err)
	}
	if lbl, _ := exec.Command(needTool(t, "mlabel"), "-i", logs, "-s", "::").Output(); !strings.Contains(string(lbl), "UNBRICK") {
		t.Errorf("LOGS label: %s", lbl)
	}
	// The initramfs: /init, /dev/console, modules in dependency order.
	initrd, err := exec.Command(mtype, "-i", esp, "::/boot/initrd.gz").Output()
	if err != nil {
		t.Fatal(err)
	}
	checkInitramfs(t, initrd)
}

func checkInitramfs(t *testing.T, gz []byte) {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(zr)
	recs, err := cpio.ReadAllRecords(cpio.Newc.Reader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]cpio.Record{}
	for _, r := range recs {
		byName[r.Name] = r
	}
	if r, ok := byName["dev/console"]; !ok || r.Mode&cpio.S_IFMT != cpio.S_IFCHR || r.Rmajor != 5 || r.Rminor != 1 {
		t.Errorf("dev/console: %+v", r.Info)
	}
	if r, ok := byName["init"]; !ok || r.Mode&0o111 == 0 {
		t.Errorf("init: %+v", r.Info)
	}
	list, ok := byName[strings.TrimPrefix(InitrdModulesList, "/")]
	if !ok {
		t.Fatal("no module list")
	}
	data, _ := io.ReadAll(io.NewSectionReader(list, 0, int64(list.FileSize)))
	want := "b a d c fat vfat"
	var got []string
	for _, l := range strings.Fields(string(data)) {
		got = append(got, strings.TrimSuffix(filepath.Base(l), ".ko"))
		if _, ok := byName[strings.TrimPrefix(l, "/")]; !ok {
			t.Errorf("module %s listed but not in the archive", l)
		}
	}
	if strings.Join(got, " ") != want {
		t.Errorf("module order %v, want %s", got, want)
	}
}

func TestBuildPlaintextAndLogsReadBack(t *testing.T) {
	img, _ := buildFake(t, func(o *Options) { o.Plaintext = true; o.LogsMiB = 40; o.Config.After = "reboot" })
	st, err := OpenStick(img)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	conf, err := st.ReadFile("/unbrick.conf")
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseConfig(bytes.NewReader(conf))
	if err != nil || c.After != "reboot" || !strings.Contains(string(conf), "NOT sealed") {
		t.Fatalf("config read back: %+v %v", c, err)
	}
	key, err := st.ReadFile("/keys/keys.csv")
	if err != nil || !strings.Contains(string(key), "111111") {
		t.Fatalf("plaintext key: %v", err)
	}
	files, err := st.List("/logs")
	if err != nil || len(files) != 0 {
		t.Fatalf("fresh stick logs: %v %v", files, err)
	}
}

func TestBuildErrors(t *testing.T) {
	bc, err := LoadBootChain(fakeBootChain(t))
	if err != nil {
		t.Fatal(err)
	}
	base := func() Options {
		return Options{Out: filepath.Join(t.TempDir(), "x.img"), BootChain: bc, Init: []byte("x"), Config: DefaultConfig(), Modules: []string{"a"}}
	}
	cases := map[string]struct {
		mut  func(*Options)
		want string
	}{
		"no boot chain":    {func(o *Options) { o.BootChain = nil }, "boot chain"},
		"logs too small":   {func(o *Options) { o.LogsMiB = 8 }, "LOGS size 8 MiB"},
		"short passphrase": {func(o *Options) { o.Keys = []File{{Name: "k", Data: []byte("x")}}; o.Passphrase = "abc" }, "passphrase"},
		"shell no busybox": {func(o *Options) { o.Config.After = "shell" }, "busybox"},
		"bad mode":         {func(o *Options) { o.Config.Mode = "turbo" }, "mode"},
		"out exists":       {func(o *Options) { os.WriteFile(o.Out, nil, 0o644) }, "already exists"},
		"no init":          {func(o *Options) { o.Init = nil }, "/init"},
		"no modules":       {func(o *Options) { o.Modules = []string{"nonexistent"} }, "none of the requested modules"},
	}
	for name, c := range cases {
		o := base()
		c.mut(&o)
		_, err := Build(o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", name, err, c.want)
		}
		if name != "out exists" {
			if _, serr := os.Stat(o.Out); serr == nil {
				t.Errorf("%s: a failed build left %s", name, o.Out)
			}
		}
		if _, serr := os.Stat(o.Out + ".partial"); serr == nil {
			t.Errorf("%s: a failed build left %s.partial", name, o.Out)
		}
	}
}

func TestOpenStickNotAStick(t *testing.T) {
	p := filepath.Join(t.TempDir(), "blank.img")
	os.WriteFile(p, make([]byte, 4<<20), 0o644)
	if _, err := OpenStick(p); !errors.Is(err, ErrNoLogsPartition) {
		t.Fatalf("blank image: %v", err)
	}
	img, _ := buildFake(t, func(o *Options) { o.Plaintext = true })
	// Rename the LOGS partition (GPT entry name at offset 56, UTF-16LE) in
	// both the primary and backup tables: no longer a stick.
	data, _ := os.ReadFile(img)
	name := []byte{'L', 0, 'O', 0, 'G', 0, 'S', 0}
	n := bytes.Count(data, name)
	if n < 2 {
		t.Fatalf("found the LOGS name %d times", n)
	}
	data = bytes.ReplaceAll(data, name, []byte{'D', 0, 'A', 0, 'T', 0, 'A', 0})
	os.WriteFile(img, data, 0o644)
	if _, err := OpenStick(img); !errors.Is(err, ErrNoLogsPartition) {
		t.Fatalf("renamed partition: %v", err)
	}
}

func copyRange(t *testing.T, src, dst string, off, n int64) {
	t.Helper()
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, off); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, buf, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestBuildAfterShellCarriesBusybox(t *testing.T) {
	bc, err := LoadBootChain(fakeBootChain(t))
	if err != nil {
		t.Fatal(err)
	}
	bb := filepath.Join(bc.Dir, "bin/busybox")
	os.MkdirAll(filepath.Dir(bb), 0o755)
	os.WriteFile(bb, []byte("\x7fELF fake busybox"), 0o755)
	if bc, err = LoadBootChain(bc.Dir); err != nil || bc.Busybox == "" {
		t.Fatalf("busybox not seen: %v", err)
	}
	var buf bytes.Buffer
	set, err := ResolveModules(bc.ModDir, bc.Release, []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteInitramfs(&buf, InitramfsSpec{Init: []byte("x"), Modules: set, Busybox: bc.Busybox}); err != nil {
		t.Fatal(err)
	}
	zr, _ := gzip.NewReader(&buf)
	raw, _ := io.ReadAll(zr)
	recs, err := cpio.ReadAllRecords(cpio.Newc.Reader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatal(err)
	}
	var sh, busybox bool
	for _, r := range recs {
		switch r.Name {
		case "bin/sh":
			sh = r.Mode&cpio.S_IFMT == cpio.S_IFLNK
		case "bin/busybox":
			busybox = r.Mode&0o111 != 0
		}
	}
	if !sh || !busybox {
		t.Fatalf("bin/sh symlink %v, bin/busybox executable %v", sh, busybox)
	}
}

func TestBuildESPFat32(t *testing.T) {
	img, res := buildFake(t, func(o *Options) { o.ESPFat32 = true; o.Plaintext = true })
	if res.ESPType != "FAT32" || res.ESPSize < 40<<20 {
		t.Fatalf("ESP %s %d MiB", res.ESPType, res.ESPSize>>20)
	}
	p := filepath.Join(t.TempDir(), "esp.img")
	copyRange(t, img, p, 2048*512, res.ESPSize)
	out, err := exec.Command(needTool(t, "fsck.fat"), "-n", "-v", p).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "32 bit entries") {
		t.Fatalf("fsck.fat: %v\n%s", err, out)
	}
	if cfg, err := exec.Command(needTool(t, "mtype"), "-i", p, "::/EFI/debian/grub.cfg").Output(); err != nil || !strings.Contains(string(cfg), "timeout=0") {
		t.Fatalf("grub.cfg on the FAT32 ESP: %v", err)
	}
}
