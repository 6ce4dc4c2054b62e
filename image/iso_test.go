package image

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// mdirTree lists every path of a FAT volume with mtools (lower case,
// sorted by mdir, "::/" prefix stripped).
func mdirTree(t *testing.T, vol string) []string {
	t.Helper()
	out, err := exec.Command(needTool(t, "mdir"), "-i", vol, "-b", "-/", "::/").Output()
	if err != nil {
		t.Fatalf("mdir %s: %v", vol, err)
	}
	var paths []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		paths = append(paths, strings.ToLower(strings.TrimPrefix(strings.TrimSpace(l), "::/")))
	}
	return paths
}

// TestLogsImageCheckedByIndependentTools builds the logs-only image
// (--format logs) and checks it with sgdisk (one GPT partition named LOGS),
// fsck.fat and mtools, and that its LOGS volume is the USB image's: the
// same files and directories, the same unbrick.conf and README, a sealed
// key that opens. OpenStick (what `image logs` uses) reads it.
func TestLogsImageCheckedByIndependentTools(t *testing.T) {
	logsImg, res := buildFake(t, func(o *Options) { o.Format = FormatLogs; o.BootChain = nil; o.Init = nil })
	if res.Format != FormatLogs || res.LogsType != "FAT16" || res.LogsSize != 16<<20 || res.ESPSize != 0 || res.Size != 18<<20 {
		t.Fatalf("result %+v", res)
	}
	sgdisk := needTool(t, "sgdisk")
	out, err := exec.Command(sgdisk, "-v", logsImg).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "No problems found") {
		t.Fatalf("sgdisk -v: %v\n%s", err, out)
	}
	out, _ = exec.Command(sgdisk, "-p", logsImg).CombinedOutput()
	parts := regexp.MustCompile(`(?m)^\s+\d+\s+\d+\s+\d+`).FindAllString(string(out), -1)
	if len(parts) != 1 || !regexpLine(string(out), `^\s+1\s+2048\s+34815\s.*0700\s+LOGS$`) {
		t.Fatalf("want one partition 1, LBA 2048-34815, type 0700, named LOGS; sgdisk -p:\n%s", out)
	}
	part := filepath.Join(t.TempDir(), "logs.part")
	copyRange(t, logsImg, part, 2048*512, res.LogsSize)
	if out, err := exec.Command(needTool(t, "fsck.fat"), "-n", "-v", part).CombinedOutput(); err != nil {
		t.Errorf("fsck.fat: %v\n%s", err, out)
	}
	if lbl, _ := exec.Command(needTool(t, "mlabel"), "-i", part, "-s", "::").Output(); !strings.Contains(string(lbl), "UNBRICK") {
		t.Errorf("volume label: %s", lbl)
	}
	mtype := needTool(t, "mtype")
	sealed, err := exec.Command(mtype, "-i", part, "::/keys/keys.csv.age").Output()
	if err != nil {
		t.Fatalf("sealed key via mtools: %v", err)
	}
	if plain, err := Unseal(sealed, "test passphrase"); err != nil || !strings.Contains(string(plain), "111111-111111") {
		t.Errorf("sealed key does not open: %v", err)
	}

	// The stick's LOGS partition, built from the same options.
	usbImg, usbRes := buildFake(t, nil)
	usbLogs := filepath.Join(t.TempDir(), "usb-logs.part")
	copyRange(t, usbImg, usbLogs, 2048*512+usbRes.ESPSize, usbRes.LogsSize)
	got, want := mdirTree(t, part), mdirTree(t, usbLogs)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("logs image files %v\nstick LOGS files %v", got, want)
	}
	for _, f := range []string{"keys/", "rules/rules.txt", "logs/", "journal/", "unbrick.conf", "readme.txt"} {
		if !strings.Contains(strings.Join(got, " ")+" ", f) {
			t.Errorf("logs image lacks %s: %v", f, got)
		}
	}
	for _, f := range []string{"::/unbrick.conf", "::/README.txt", "::/rules/rules.txt"} {
		a, err1 := exec.Command(mtype, "-i", part, f).Output()
		b, err2 := exec.Command(mtype, "-i", usbLogs, f).Output()
		if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs between the logs image and the stick (%v, %v)", f, err1, err2)
		}
	}

	st, err := OpenStick(logsImg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if conf, err := st.ReadFile("/unbrick.conf"); err != nil || !strings.Contains(string(conf), "mode = auto") {
		t.Errorf("unbrick.conf through OpenStick: %v", err)
	}
	if files, err := st.List("/journal"); err != nil || len(files) != 0 {
		t.Errorf("journal/: %v %v", files, err)
	}
}

// elToritoReport is one boot image line of xorriso -report_el_torito plain.
type elToritoReport struct {
	platform, emul string
	loadSize, lba  int64
	path           string
}

// xorrisoElTorito runs xorriso's El Torito report on iso.
func xorrisoElTorito(t *testing.T, iso string) []elToritoReport {
	t.Helper()
	out, err := exec.Command(needTool(t, "xorriso"), "-indev", iso, "-report_el_torito", "plain").CombinedOutput()
	if err != nil {
		t.Fatalf("xorriso -report_el_torito: %v\n%s", err, out)
	}
	// El Torito boot img :   1  UEFI  y   none  0x0000  0x00  53248          29
	img := regexp.MustCompile(`(?m)^El Torito boot img :\s+(\d+)\s+(\S+)\s+(\S)\s+(\S+)\s+\S+\s+\S+\s+(\d+)\s+(\d+)`)
	paths := regexp.MustCompile(`(?m)^El Torito img path :\s+(\d+)\s+(\S+)`).FindAllStringSubmatch(string(out), -1)
	var r []elToritoReport
	for _, m := range img.FindAllStringSubmatch(string(out), -1) {
		ls, _ := strconv.ParseInt(m[5], 10, 64)
		lba, _ := strconv.ParseInt(m[6], 10, 64)
		e := elToritoReport{platform: m[2], emul: m[4], loadSize: ls, lba: lba}
		if m[3] != "y" {
			e.platform += " (not bootable)"
		}
		for _, p := range paths {
			if p[1] == m[1] {
				e.path = p[2]
			}
		}
		r = append(r, e)
	}
	if len(r) == 0 {
		t.Fatalf("xorriso reports no El Torito boot image:\n%s", out)
	}
	return r
}

// xorrisoExtract copies file p out of the ISO 9660 tree of iso.
func xorrisoExtract(t *testing.T, iso, p string) []byte {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "x")
	out, err := exec.Command(needTool(t, "xorriso"), "-osirrox", "on", "-indev", iso, "-extract", p, dst).CombinedOutput()
	if err != nil {
		t.Fatalf("xorriso -extract %s: %v\n%s", p, err, out)
	}
	data, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// checkISO checks an ISO built from bc with tools we did not write:
// xorriso's El Torito report (one UEFI no-emulation entry), the boot image
// read from the sectors that report names (fsck.fat, mtools: the ESP files
// byte-identical to the boot chain's), the ISO 9660 tree extracted by
// xorriso (grub.cfg, kernel and initramfs, the same as in the boot image)
// and isoinfo/file. Returns the boot image's file.
func checkISO(t *testing.T, iso string, res *Result, bc *BootChain) string {
	t.Helper()
	ents := xorrisoElTorito(t, iso)
	if len(ents) != 1 || ents[0].platform != "UEFI" || ents[0].emul != "none" || ents[0].path != isoBootImage {
		t.Fatalf("El Torito entries %+v, want one UEFI no-emulation entry for %s", ents, isoBootImage)
	}
	e := ents[0]
	size := e.loadSize * 512
	if res.ESPSize <= maxElToritoCount*512 && size != res.ESPSize {
		t.Errorf("catalog load size %d sectors, boot image is %d bytes", e.loadSize, res.ESPSize)
	}
	if size == 0 { // "up to the end of the CD": the FAT's own size decides
		size = res.ESPSize
	}
	// The boot image from the sectors the catalog names (not from our
	// reader), and the same file through the ISO 9660 tree.
	boot := filepath.Join(t.TempDir(), "boot.img")
	copyRange(t, iso, boot, e.lba*2048, size)
	fromTree := xorrisoExtract(t, iso, isoBootImage)
	if fromSectors, _ := os.ReadFile(boot); !bytes.Equal(fromSectors, fromTree) {
		t.Errorf("boot image at LBA %d differs from %s in the ISO tree", e.lba, isoBootImage)
	}
	if out, err := exec.Command(needTool(t, "fsck.fat"), "-n", "-v", boot).CombinedOutput(); err != nil {
		t.Errorf("fsck.fat boot image: %v\n%s", err, out)
	}
	tree := mdirTree(t, boot)
	for _, want := range []string{"efi/boot/bootx64.efi", "efi/boot/grubx64.efi", "efi/boot/mmx64.efi", "efi/debian/grub.cfg", "boot/vmlinuz", "boot/initrd.gz"} {
		if !strings.Contains(strings.Join(tree, " ")+" ", want+" ") {
			t.Errorf("boot image lacks %s: %v", want, tree)
		}
	}
	if strings.Contains(strings.Join(tree, " "), "fbx64") {
		t.Error("boot image ships fbx64.efi")
	}
	mtype := needTool(t, "mtype")
	for _, f := range []struct{ fat, src string }{
		{"::/EFI/BOOT/BOOTX64.EFI", bc.Shim}, {"::/EFI/BOOT/grubx64.efi", bc.Grub},
		{"::/EFI/BOOT/mmx64.efi", bc.MokMgr}, {"::/boot/vmlinuz", bc.Kernel},
	} {
		got, err := exec.Command(mtype, "-i", boot, f.fat).Output()
		want, _ := os.ReadFile(f.src)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s in the boot image is not byte-identical to %s (%v, %d vs %d bytes)", f.fat, f.src, err, len(got), len(want))
		}
	}
	// grub started from a CD reads its config, kernel and initramfs from
	// the ISO 9660 tree: the same files as in the boot image.
	for _, f := range []string{espGrubCfg, espKernel, espInitrd, espShim} {
		inFAT, err := exec.Command(mtype, "-i", boot, "::"+f).Output()
		if err != nil {
			t.Fatalf("mtype %s: %v", f, err)
		}
		if inISO := xorrisoExtract(t, iso, f); !bytes.Equal(inFAT, inISO) {
			t.Errorf("%s differs between the ISO 9660 tree and the boot image", f)
		}
	}
	out, err := exec.Command(needTool(t, "isoinfo"), "-d", "-i", iso).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Volume id: UNBRICK") || !strings.Contains(string(out), "El Torito VD version 1 found") ||
		!strings.Contains(string(out), "Rock Ridge signatures") || !strings.Contains(string(out), "Arch 239") {
		t.Errorf("isoinfo -d: %v\n%s", err, out)
	}
	if m := regexp.MustCompile(`Volume size is: (\d+)`).FindStringSubmatch(string(out)); m == nil {
		t.Error("isoinfo: no volume size")
	} else if fi, _ := os.Stat(iso); strconv.FormatInt(res.ISOVolumeSize/2048, 10) != m[1] || fi.Size()%2048 != 0 || fi.Size() != res.Size || res.ISOVolumeSize >= res.Size {
		t.Errorf("file is %d bytes (result %d), isoinfo volume size %s blocks, result volume %d bytes", fi.Size(), res.Size, m[1], res.ISOVolumeSize)
	}
	if out, _ := exec.Command(needTool(t, "file"), "-b", iso).Output(); !strings.Contains(string(out), "ISO 9660") || !strings.Contains(string(out), "(bootable)") {
		t.Errorf("file: %s", out)
	}
	checkHybrid(t, iso, res, e.lba, boot)
	return boot
}

// checkHybrid checks the USB view of the ISO with sgdisk and sfdisk (a
// valid GPT: partition 1 an EFI system partition exactly over the El
// Torito boot image at catalog block lba, partition 2 named LOGS after the
// ISO volume), fsck.fat and mtools on both partitions (the ESP is the
// boot image byte for byte; LOGS has the stick's layout), and OpenStick.
func checkHybrid(t *testing.T, iso string, res *Result, lba int64, boot string) {
	t.Helper()
	sgdisk := needTool(t, "sgdisk")
	out, err := exec.Command(sgdisk, "-v", iso).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "No problems found") {
		t.Fatalf("sgdisk -v: %v\n%s", err, out)
	}
	out, _ = exec.Command(sgdisk, "-p", iso).CombinedOutput()
	espStart, espEnd := lba*4, lba*4+res.ESPSize/512-1
	logsStart := roundUp(res.ISOVolumeSize, mib) / 512
	logsEnd := logsStart + res.LogsSize/512 - 1
	if !regexpLine(string(out), `^\s+1\s+`+strconv.FormatInt(espStart, 10)+`\s+`+strconv.FormatInt(espEnd, 10)+`\s.*EF00\s+ESP$`) ||
		!regexpLine(string(out), `^\s+2\s+`+strconv.FormatInt(logsStart, 10)+`\s+`+strconv.FormatInt(logsEnd, 10)+`\s.*0700\s+LOGS$`) ||
		len(regexp.MustCompile(`(?m)^\s+\d+\s+\d+\s+\d+`).FindAllString(string(out), -1)) != 2 {
		t.Fatalf("want ESP at %d-%d (the El Torito image) and LOGS at %d-%d; sgdisk -p:\n%s", espStart, espEnd, logsStart, logsEnd, out)
	}
	if logsStart*512 < res.ISOVolumeSize || (logsEnd+1)*512+1<<20 != res.Size {
		t.Errorf("LOGS %d-%d overlaps the ISO volume (%d bytes) or does not end 1 MiB before the file's end (%d)", logsStart, logsEnd, res.ISOVolumeSize, res.Size)
	}
	// util-linux reads the same table.
	js, err := exec.Command(needTool(t, "sfdisk"), "--json", iso).Output()
	if err != nil || !strings.Contains(string(js), `"label": "gpt"`) || !strings.Contains(string(js), `"name": "LOGS"`) ||
		!strings.Contains(string(js), "C12A7328-F81F-11D2-BA4B-00A0C93EC93B") {
		t.Errorf("sfdisk --json: %v\n%s", err, js)
	}
	esp := filepath.Join(t.TempDir(), "esp.part")
	copyRange(t, iso, esp, espStart*512, res.ESPSize)
	a, _ := os.ReadFile(esp)
	b, _ := os.ReadFile(boot)
	if !bytes.Equal(a, b) {
		t.Error("GPT partition 1 is not the El Torito boot image")
	}
	logs := filepath.Join(t.TempDir(), "logs.part")
	copyRange(t, iso, logs, logsStart*512, res.LogsSize)
	if out, err := exec.Command(needTool(t, "fsck.fat"), "-n", "-v", logs).CombinedOutput(); err != nil {
		t.Errorf("fsck.fat LOGS: %v\n%s", err, out)
	}
	tree := strings.Join(mdirTree(t, logs), " ") + " "
	for _, f := range []string{"keys/ ", "rules/ ", "logs/ ", "journal/ ", "unbrick.conf ", "readme.txt "} {
		if !strings.Contains(tree, f) {
			t.Errorf("LOGS partition lacks %s: %s", f, tree)
		}
	}
	st, err := OpenStick(iso)
	if err != nil {
		t.Fatalf("OpenStick on the hybrid ISO: %v", err)
	}
	defer st.Close()
	if conf, err := st.ReadFile("/unbrick.conf"); err != nil || !strings.Contains(string(conf), "mode = ") {
		t.Errorf("unbrick.conf through OpenStick: %v", err)
	}
}

// TestISOImageCheckedByXorriso builds an ISO from the fake boot chain and
// checks it with xorriso, isoinfo, file, fsck.fat and mtools; OpenStick
// says it is an ISO without logs.
func TestISOImageCheckedByXorriso(t *testing.T) {
	bc, err := LoadBootChain(fakeBootChain(t))
	if err != nil {
		t.Fatal(err)
	}
	iso := filepath.Join(t.TempDir(), "unbrick.iso")
	res, err := Build(Options{Out: iso, Format: FormatISO, BootChain: bc, Init: []byte("#!fake init"),
		Modules: []string{"a", "vfat"}, Config: DefaultConfig(), Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Format != FormatISO || res.ESPType != "FAT16" || res.LogsSize != 16<<20 || res.LogsType != "FAT16" {
		t.Fatalf("result %+v", res)
	}
	boot := checkISO(t, iso, res, bc)
	cfg, err := exec.Command(needTool(t, "mtype"), "-i", boot, "::/EFI/debian/grub.cfg").Output()
	if err != nil || !bytes.Equal(cfg, grubConfig(espKernel, espInitrd, "")) {
		t.Errorf("grub.cfg: %v\n%s", err, cfg)
	}
	if readme := xorrisoExtract(t, iso, isoReadme); !bytes.Contains(readme, []byte("--format logs")) {
		t.Errorf("README.txt: %s", readme)
	}
	if _, err := os.Stat(iso + ".partial"); err == nil {
		t.Error(".partial left behind")
	}
}

// TestISOImageCarriesStickLOGS: keys, rules and settings given to an ISO
// build go into its LOGS partition (the stick view), the same files a
// --format usb build puts on its LOGS, read with mtools.
func TestISOImageCarriesStickLOGS(t *testing.T) {
	iso, res := buildFake(t, func(o *Options) { o.Format = FormatISO; o.Out = strings.TrimSuffix(o.Out, ".img") + ".iso" })
	if res.Format != FormatISO || res.LogsSize != 16<<20 || res.LogsType != "FAT16" {
		t.Fatalf("result %+v", res)
	}
	usb, usbRes := buildFake(t, nil)
	logsStart := roundUp(res.ISOVolumeSize, mib)
	isoLogs, usbLogs := filepath.Join(t.TempDir(), "iso.part"), filepath.Join(t.TempDir(), "usb.part")
	copyRange(t, iso, isoLogs, logsStart, res.LogsSize)
	copyRange(t, usb, usbLogs, 2048*512+usbRes.ESPSize, usbRes.LogsSize)
	if got, want := mdirTree(t, isoLogs), mdirTree(t, usbLogs); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("ISO LOGS files %v\nstick LOGS files %v", got, want)
	}
	mtype := needTool(t, "mtype")
	for _, f := range []string{"::/unbrick.conf", "::/rules/rules.txt"} {
		a, err1 := exec.Command(mtype, "-i", isoLogs, f).Output()
		b, err2 := exec.Command(mtype, "-i", usbLogs, f).Output()
		if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs between the ISO's LOGS and the stick's (%v, %v)", f, err1, err2)
		}
	}
	sealed, err := exec.Command(mtype, "-i", isoLogs, "::/keys/keys.csv.age").Output()
	if err != nil {
		t.Fatalf("sealed key in the ISO's LOGS: %v", err)
	}
	if plain, err := Unseal(sealed, "test passphrase"); err != nil || !strings.Contains(string(plain), "111111-111111") {
		t.Errorf("sealed key does not open: %v", err)
	}
}

// TestISOImageRealBootChain builds the ISO from the real cached boot chain
// (a 7 MiB stand-in for /init) and checks with xorriso that the catalog's
// UEFI entry is a FAT image holding the chain's shim, byte for byte.
func TestISOImageRealBootChain(t *testing.T) {
	bc := realBootChain(t)
	iso := filepath.Join(t.TempDir(), "unbrick.iso")
	res, err := Build(Options{Out: iso, Format: FormatISO, BootChain: bc, Init: bytes.Repeat([]byte{0xC3, 1, 2, 3, 4, 5, 6, 7}, 7<<17), Config: DefaultConfig()})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ISO %.1f MiB, boot image %d MiB %s, %s", float64(res.Size)/(1<<20), res.ESPSize>>20, res.ESPType, res.Elapsed)
	if res.ESPSize > maxElToritoCount*512 {
		t.Errorf("boot image %d MiB: over the 32 MiB the catalog's sector count can hold", res.ESPSize>>20)
	}
	checkISO(t, iso, res, bc)
}

// TestISOImageFat32BootImage: with ESPFat32 the boot image is a 40 MiB
// FAT32, over what the catalog's 16-bit sector count holds, so the count is
// 0 (firmware then takes the image up to the end of the CD).
func TestISOImageFat32BootImage(t *testing.T) {
	bc, err := LoadBootChain(fakeBootChain(t))
	if err != nil {
		t.Fatal(err)
	}
	iso := filepath.Join(t.TempDir(), "unbrick.iso")
	res, err := Build(Options{Out: iso, Format: FormatISO, BootChain: bc, Init: []byte("#!fake init"),
		Modules: []string{"a"}, Config: DefaultConfig(), ESPFat32: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.ESPType != "FAT32" || res.ESPSize < 40<<20 {
		t.Fatalf("result %+v", res)
	}
	if e := xorrisoElTorito(t, iso); e[0].loadSize != 0 {
		t.Errorf("load size %d, want 0 for a boot image over 0xFFFF sectors", e[0].loadSize)
	}
	boot := checkISO(t, iso, res, bc)
	if out, err := exec.Command(needTool(t, "fsck.fat"), "-n", "-v", boot).CombinedOutput(); err != nil || !strings.Contains(string(out), "32 bit entries") {
		t.Errorf("fsck.fat: %v\n%s", err, out)
	}
}

func TestISOImageErrors(t *testing.T) {
	bc, err := LoadBootChain(fakeBootChain(t))
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		mut  func(*Options)
		want string
	}{
		"unsealed keys": {func(o *Options) { o.Keys = []File{{Name: "k", Data: []byte("x")}} }, "passphrase of at least"},
		"small LOGS":    {func(o *Options) { o.LogsMiB = 8 }, "LOGS size 8 MiB"},
		"no boot chain": {func(o *Options) { o.BootChain = nil }, "boot chain"},
		"bad format":    {func(o *Options) { o.Format = "dvd" }, `unknown image format "dvd"`},
		"no modules":    {func(o *Options) { o.Modules = []string{"nonexistent"} }, "none of the requested modules"},
	} {
		o := Options{Out: filepath.Join(t.TempDir(), "x.iso"), Format: FormatISO, BootChain: bc, Init: []byte("x"), Config: DefaultConfig(), Modules: []string{"a"}}
		c.mut(&o)
		if _, err := Build(o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", name, err, c.want)
		}
		for _, p := range []string{o.Out, o.Out + ".partial"} {
			if _, err := os.Stat(p); err == nil {
				t.Errorf("%s: a failed build left %s", name, p)
			}
		}
	}
	// The logs format needs no boot chain, but refuses what it cannot hold.
	o := Options{Out: filepath.Join(t.TempDir(), "logs.img"), Format: FormatLogs, Config: DefaultConfig(), LogsMiB: 4}
	if _, err := Build(o); err == nil || !strings.Contains(err.Error(), "LOGS size 4 MiB") {
		t.Errorf("small logs image: %v", err)
	}
}

// TestReadElToritoRejects damages a built ISO: the boot catalog checksum,
// the entry's bootable flag, the boot image's FAT boot sector. Our read-back
// (finishISO) must refuse each.
func TestReadElToritoRejects(t *testing.T) {
	bc, err := LoadBootChain(fakeBootChain(t))
	if err != nil {
		t.Fatal(err)
	}
	iso := filepath.Join(t.TempDir(), "u.iso")
	if _, err := Build(Options{Out: iso, Format: FormatISO, BootChain: bc, Init: []byte("x"), Config: DefaultConfig(), Modules: []string{"a"}}); err != nil {
		t.Fatal(err)
	}
	orig, _ := os.ReadFile(iso)
	eb, err := readElTorito(bytes.NewReader(orig))
	if err != nil || eb.Platform != 0xEF || eb.Media != 0 {
		t.Fatalf("%+v %v", eb, err)
	}
	cat := int(eb.CatalogLBA) * isoBlock
	for name, c := range map[string]struct {
		mut  func(b []byte)
		want string
	}{
		"checksum":     {func(b []byte) { b[cat+4] ^= 1 }, "bad validation entry"},
		"not bootable": {func(b []byte) { b[cat+32] = 0 }, "not bootable"},
		"image LBA":    {func(b []byte) { binary.LittleEndian.PutUint32(b[cat+40:], eb.VolumeBlocks+5) }, "outside the volume"},
		"no boot rec":  {func(b []byte) { copy(b[17*isoBlock+7:], "XX") }, "no El Torito boot record"},
		"FAT":          {func(b []byte) { b[int(eb.ImageLBA)*isoBlock+510] = 0 }, "55 AA"},
		"platform":     {func(b []byte) { b[cat+1] = 0; b[cat+0x1d] += 0xEF }, "platform 0x0"},
	} {
		b := bytes.Clone(orig)
		c.mut(b)
		p := filepath.Join(t.TempDir(), "bad.iso")
		os.WriteFile(p, b, 0o644)
		if _, _, err := finishISO(p, 0); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
	if _, err := readElTorito(bytes.NewReader(make([]byte, 64<<10))); err == nil || !strings.Contains(err.Error(), "not an ISO image") {
		t.Errorf("zeros: %v", err)
	}
}
