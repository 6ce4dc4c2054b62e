package image

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"time"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/disk"
	"github.com/diskfs/go-diskfs/filesystem"
	"github.com/diskfs/go-diskfs/partition/gpt"

	"github.com/unbrick/unbrick/internal/logship"
)

const (
	mib = int64(1 << 20)
	// LogsPartName is the GPT partition name the boot-time code looks for.
	LogsPartName = "LOGS"
	// LogsLabel is the FAT volume label of the LOGS partition (what Windows
	// and Linux desktops show for the stick).
	LogsLabel = "UNBRICK"
	// MinLogsMiB is the smallest LOGS partition the builder makes.
	MinLogsMiB  = 16
	espPartName = "ESP"
	espLabel    = "UNBRICK-EFI"
	firstLBA    = 2048 // 1 MiB alignment
)

// Format is the kind of image Build writes.
type Format string

const (
	// FormatUSB is the USB stick image: GPT, EFI system partition and
	// LOGS partition (the default).
	FormatUSB Format = "usb"
	// FormatISO is a UEFI-bootable ISO 9660 image (CD/DVD, virtual CD of a
	// VM or a server's remote console): an El Torito UEFI entry pointing at
	// a FAT image with the ESP content. The file is hybrid: written to a
	// USB stick it is also a stick, with a GPT whose ESP is that FAT image
	// and a LOGS partition after the ISO volume. As a CD it has no LOGS:
	// that comes from a FormatLogs disk attached beside it or the network.
	FormatISO Format = "iso"
	// FormatLogs is only the LOGS partition, on a disk image of its own
	// (GPT, one partition named LOGS), to attach beside the ISO.
	FormatLogs Format = "logs"
)

// Formats lists the formats Build writes, the default first.
var Formats = []Format{FormatUSB, FormatISO, FormatLogs}

// ParseFormat returns the Format named s ("usb", "iso" or "logs").
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fmt.Errorf("unknown image format %q: use usb, iso or logs", s)
}

// File is a named blob to put on the LOGS partition (a key export, rules).
type File struct {
	Name string // base name on the stick, ASCII
	Data []byte
}

// Options describe one image build.
type Options struct {
	Out       string     // image file to create (must not exist)
	Format    Format     // what to write; "" = FormatUSB
	BootChain *BootChain // from LoadBootChain; not used by FormatLogs
	Init      []byte     // static unbrick binary for /init; not used by FormatLogs
	Keys      []File     // key exports; sealed unless PlaintextKeys
	Rules     *File      // rules file, optional
	// RulesSig is the rules pack's detached signature, stored beside it as
	// /rules/<Rules.Name>.sig; nil: none (an unsigned pack).
	RulesSig   []byte
	Plaintext  bool     // store keys unsealed (only when asked for)
	Passphrase string   // sealing passphrase (when !Plaintext and len(Keys) > 0)
	WorkFactor int      // age scrypt work factor, 0 = DefaultWorkFactor
	LogsMiB    int      // LOGS partition size, >= MinLogsMiB
	Config     Config   // unbrick.conf
	ESPFat32   bool     // make the ESP (or the ISO's EFI boot image) FAT32, at least 40 MiB
	Modules    []string // modules to carry, nil = DefaultModules
	// ConfigURL, when set, goes onto the kernel command line as
	// unbrick.config=URL: the settings are fetched from there at boot
	// (see CheckFetchURL). Not used by FormatLogs.
	ConfigURL string
	// CA is PEM holding the CA certificates the initramfs trusts for
	// https and tls:// addresses (InitrdCA); nil = none. Not used by
	// FormatLogs.
	CA []byte
	// RulesSigners is an allowed-signers file (ssh-keygen(1) format) for
	// rule packs, put into the initramfs (InitrdRulesSigners); nil = none.
	// Not used by FormatLogs.
	RulesSigners []byte
	Version      string    // unbrick version, recorded in the initramfs
	Progress     io.Writer // progress lines, may be nil
}

// Result reports what Build made. ESPSize and ESPType describe the EFI
// system partition (usb) or the El Torito EFI boot image (iso); LogsSize
// and LogsType the LOGS partition (usb, logs). Fields a format does not
// have are zero.
type Result struct {
	Format                  Format
	Size, ESPSize, LogsSize int64
	ISOVolumeSize           int64 // FormatISO: the ISO 9660 volume; the file goes on with the LOGS partition
	ESPType, LogsType       string
	InitrdSize              int64
	Modules                 []Module
	MissingModules          []string
	Elapsed                 time.Duration
}

// builder holds one Build run.
type builder struct {
	o     Options
	start time.Time
	// initrd and mods, when set, are an initramfs built already for the
	// same options: BuildNetboot hands its own to the ISO it builds.
	initrd []byte
	mods   *ModuleSet
}

func (b *builder) say(format string, a ...any) {
	if b.o.Progress != nil {
		fmt.Fprintf(b.o.Progress, "[%5.1fs] %s\n", time.Since(b.start).Seconds(), fmt.Sprintf(format, a...))
	}
}

// Build writes the image o.Format names into o.Out. It writes into
// OUT.partial and renames it at the end, so a failed build leaves no image
// behind.
//
// FormatUSB: a bootable USB image, GPT with an EFI system partition (the
// signed shim, grub, kernel and our initramfs) and the LOGS partition.
// FormatISO: the same boot files as an ISO 9660 image with an El Torito
// UEFI boot image (see BuildISO in iso.go). FormatLogs: the LOGS partition
// alone on a GPT disk image, built by the same code as the stick's.
func Build(o Options) (*Result, error) {
	return (&builder{o: o, start: time.Now()}).build()
}

// build validates b.o and writes the image it names.
func (b *builder) build() (*Result, error) {
	if b.o.Format == "" {
		b.o.Format = FormatUSB
	}
	if _, err := ParseFormat(string(b.o.Format)); err != nil {
		return nil, err
	}
	if err := b.validate(); err != nil {
		return nil, err
	}
	var res *Result
	var err error
	switch b.o.Format {
	case FormatISO:
		res, err = b.buildISO()
	case FormatLogs:
		res, err = b.buildLogs()
	default:
		res, err = b.buildUSB()
	}
	if err != nil {
		return nil, err
	}
	res.Format = b.o.Format
	res.Elapsed = time.Since(b.start)
	return res, nil
}

// validate checks the options common to all formats and fills defaults.
func (b *builder) validate() error {
	o := &b.o
	if o.Format != FormatLogs && o.BootChain == nil {
		return fmt.Errorf("%w: no boot chain given", ErrNoBootChain)
	}
	if err := o.Config.Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if o.LogsMiB == 0 {
		o.LogsMiB = MinLogsMiB
	}
	if o.LogsMiB < MinLogsMiB || o.LogsMiB > 1800 {
		return fmt.Errorf("LOGS size %d MiB: must be %d to 1800 MiB", o.LogsMiB, MinLogsMiB)
	}
	if len(o.Keys) > 0 && !o.Plaintext && len(o.Passphrase) < MinPassphraseLen {
		return fmt.Errorf("keys are sealed with a passphrase of at least %d characters (or pass --plaintext-keys)", MinPassphraseLen)
	}
	if o.Format != FormatLogs && o.Config.After == "shell" && o.BootChain.Busybox == "" {
		return fmt.Errorf("--after shell needs busybox from busybox-static in the boot chain: run scripts/fetch-bootchain.sh again")
	}
	if o.Format == FormatLogs && (o.ConfigURL != "" || len(o.CA) > 0 || len(o.RulesSigners) > 0) {
		return fmt.Errorf("the LOGS disk has no initramfs: give the config URL, CA and rules signers when you build the ISO, USB image or netboot tree")
	}
	if err := checkNetOptions(o.ConfigURL, o.CA); err != nil {
		return err
	}
	if _, err := os.Stat(o.Out); err == nil {
		return fmt.Errorf("%s already exists: remove it or choose another --out", o.Out)
	}
	return nil
}

// espFile is one file of the EFI system partition.
type espFile struct {
	path string // "/EFI/BOOT/BOOTX64.EFI"
	data []byte
}

// bootFiles is what the ESP (USB) or the EFI boot image and the ISO
// 9660 tree (ISO) hold.
type bootFiles struct {
	files      []espFile
	content    int64 // bytes of file data
	initrdSize int64
	mods       *ModuleSet
}

// initramfs resolves the modules and writes the gzip initramfs, or
// returns the one handed over in b.initrd.
func (b *builder) initramfs() ([]byte, *ModuleSet, error) {
	if b.initrd != nil {
		return b.initrd, b.mods, nil
	}
	o := b.o
	bc := o.BootChain
	busybox := ""
	if o.Config.After == "shell" {
		busybox = bc.Busybox
	}
	want := o.Modules
	if want == nil {
		want = DefaultModules
	}
	b.say("boot chain %s: kernel %s", bc.Dir, bc.Release)
	mods, err := ResolveModules(bc.ModDir, bc.Release, want)
	if err != nil {
		return nil, nil, err
	}
	b.say("modules: %d to load (%d requested built in, %d not in this kernel: %v)", len(mods.Ordered), len(mods.Builtin), len(mods.Missing), mods.Missing)

	info := map[string]string{
		"version": o.Version, "kernel": bc.Release, "built": time.Now().UTC().Format(time.RFC3339),
		"keys": "sealed",
	}
	if o.Plaintext {
		info["keys"] = "plaintext"
	}
	if bc.KernelConfig("CONFIG_FONT_TER16x32") {
		info["font_ter16x32"] = "yes"
	}
	if o.ConfigURL != "" {
		info["config_url"] = logship.RedactURL(o.ConfigURL)
	}
	var initrd bytes.Buffer
	if err := WriteInitramfs(&initrd, InitramfsSpec{Init: o.Init, Modules: mods, Busybox: busybox, BuildInfo: info, CA: o.CA, Signers: o.RulesSigners}); err != nil {
		return nil, nil, err
	}
	b.say("initramfs: %.1f MiB gzip (init %.1f MiB, %d modules)", float64(initrd.Len())/float64(mib), float64(len(o.Init))/float64(mib), len(mods.Ordered))
	return initrd.Bytes(), mods, nil
}

// bootFiles builds the initramfs and reads the boot chain files the ESP
// holds: shim, grub, MokManager, grub.cfg, kernel and initramfs.
func (b *builder) bootFiles() (*bootFiles, error) {
	bc := b.o.BootChain
	initrd, mods, err := b.initramfs()
	if err != nil {
		return nil, err
	}
	bf := &bootFiles{initrdSize: int64(len(initrd)), mods: mods}
	for _, f := range []struct {
		path, src string
		data      []byte
	}{
		{espShim, bc.Shim, nil}, {espGrub, bc.Grub, nil}, {espMokMgr, bc.MokMgr, nil},
		{espKernel, bc.Kernel, nil}, {espInitrd, "", initrd}, {espGrubCfg, "", grubConfig(espKernel, espInitrd, configCmdline(b.o.ConfigURL))},
	} {
		if f.data == nil {
			d, err := os.ReadFile(f.src)
			if err != nil {
				return nil, fmt.Errorf("boot chain: %w", err)
			}
			f.data = d
		}
		bf.files = append(bf.files, espFile{path: f.path, data: f.data})
		bf.content += int64(len(f.data))
	}
	return bf, nil
}

// espSize is the size and FAT type of the FAT volume that holds the boot
// files: content plus 15% and 4 MiB for FAT overhead and room to swap a
// kernel, rounded up to whole MiB; with fat32, FAT32 of at least 40 MiB.
func espSize(content int64, fat32 bool) (int64, filesystem.Type, error) {
	size := (content + content*15/100 + 4*mib + mib - 1) / mib * mib
	typ, err := chooseFATType(size)
	if err != nil {
		return 0, 0, err
	}
	if fat32 && typ != filesystem.TypeFat32 {
		// FAT32 needs 65525 clusters (512-byte clusters in go-diskfs up to
		// 260 MiB): 40 MiB gives about 81000. 64 MiB exactly is avoided
		// (diskfs/go-diskfs#418); checkFAT verifies the result anyway.
		size = max(size, 40*mib)
		if size == 64*mib {
			size += mib
		}
		typ = filesystem.TypeFat32
	}
	return size, typ, nil
}

// writeESP formats partition part of d (0 = the whole disk) as the FAT
// volume UNBRICK-EFI and writes the boot files to it.
func (b *builder) writeESP(d *disk.Disk, part int, typ filesystem.Type, bf *bootFiles) error {
	esp, err := d.CreateFilesystem(disk.FilesystemSpec{Partition: part, FSType: typ, VolumeLabel: espLabel})
	if err != nil {
		return fmt.Errorf("format ESP: %w", err)
	}
	for _, f := range bf.files {
		if err := writeFSFile(esp, f.path, f.data); err != nil {
			return fmt.Errorf("ESP: %w", err)
		}
		b.say("ESP %-22s %9d bytes", f.path, len(f.data))
	}
	return nil
}

// writeLogs formats partition part of d as the LOGS volume (label
// UNBRICK) and writes its layout: unbrick.conf, README.txt, keys/ (sealed
// unless Plaintext), rules/, logs/ and journal/. The USB image and the
// logs-only image both use it, so the two are the same.
func (b *builder) writeLogs(d *disk.Disk, part int, typ filesystem.Type) error {
	o := b.o
	logs, err := d.CreateFilesystem(disk.FilesystemSpec{Partition: part, FSType: typ, VolumeLabel: LogsLabel})
	if err != nil {
		return fmt.Errorf("format LOGS: %w", err)
	}
	for _, dir := range []string{"/keys", "/rules", "/logs", "/journal"} {
		if err := logs.Mkdir(dir); err != nil {
			return fmt.Errorf("LOGS: mkdir %s: %w", dir, err)
		}
	}
	if err := writeFSFile(logs, "/"+ConfigName, o.Config.Render(!o.Plaintext)); err != nil {
		return fmt.Errorf("LOGS: %w", err)
	}
	if err := writeFSFile(logs, "/README.txt", logsReadme()); err != nil {
		return fmt.Errorf("LOGS: %w", err)
	}
	wf := o.WorkFactor
	if wf == 0 {
		wf = DefaultWorkFactor
	}
	for _, k := range o.Keys {
		name, data := k.Name, k.Data
		if !o.Plaintext {
			b.say("sealing %s (age, scrypt work factor %d)", name, wf)
			if data, err = Seal(data, o.Passphrase, wf); err != nil {
				return fmt.Errorf("key file %s: %w", k.Name, err)
			}
			name += SealedSuffix
		}
		if err := writeFSFile(logs, path.Join("/keys", name), data); err != nil {
			return fmt.Errorf("LOGS: key file %s: %w", k.Name, err)
		}
		b.say("LOGS /keys/%s (%d bytes)", name, len(data))
	}
	if o.Rules != nil {
		if err := writeFSFile(logs, path.Join("/rules", o.Rules.Name), o.Rules.Data); err != nil {
			return fmt.Errorf("LOGS: rules: %w", err)
		}
		if o.RulesSig != nil {
			if err := writeFSFile(logs, path.Join("/rules", o.Rules.Name+".sig"), o.RulesSig); err != nil {
				return fmt.Errorf("LOGS: rules signature: %w", err)
			}
		}
	}
	return nil
}

// createPartial creates OUT.partial of size bytes as a go-diskfs disk.
// The returned cleanup closes and removes it unless keep was called.
func createPartial(out string, size int64) (d *disk.Disk, partial string, cleanup func(), keep func(), err error) {
	partial = out + ".partial"
	_ = os.Remove(partial)
	d, err = diskfs.Create(partial, size, diskfs.SectorSizeDefault)
	if err != nil {
		return nil, "", nil, nil, fmt.Errorf("create %s: %w", partial, err)
	}
	kept := false
	cleanup = func() {
		if !kept {
			d.Close()
			os.Remove(partial)
		}
	}
	return d, partial, cleanup, func() { kept = true }, nil
}

// buildUSB writes the USB stick image.
func (b *builder) buildUSB() (*Result, error) {
	o := b.o
	bf, err := b.bootFiles()
	if err != nil {
		return nil, err
	}
	espSz, espType, err := espSize(bf.content, o.ESPFat32)
	if err != nil {
		return nil, fmt.Errorf("ESP: %w", err)
	}
	logsSize := int64(o.LogsMiB) * mib
	logsType, err := chooseFATType(logsSize)
	if err != nil {
		return nil, fmt.Errorf("LOGS: %w", err)
	}
	total := firstLBA*512 + espSz + logsSize + mib // 1 MiB tail holds the backup GPT
	b.say("layout: ESP %d MiB %s, LOGS %d MiB %s, image %d MiB", espSz/mib, fatTypeName(espType), logsSize/mib, fatTypeName(logsType), total/mib)

	d, partial, cleanup, keep, err := createPartial(o.Out, total)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	espStart := uint64(firstLBA)
	espEnd := espStart + uint64(espSz/512) - 1
	logsStart := espEnd + 1
	logsEnd := logsStart + uint64(logsSize/512) - 1
	table := &gpt.Table{
		ProtectiveMBR:      true,
		LogicalSectorSize:  512,
		PhysicalSectorSize: 512,
		Partitions: []*gpt.Partition{
			{Index: 1, Start: espStart, End: espEnd, Type: gpt.EFISystemPartition, Name: espPartName},
			{Index: 2, Start: logsStart, End: logsEnd, Type: gpt.MicrosoftBasicData, Name: LogsPartName},
		},
	}
	if err := d.Partition(table); err != nil {
		return nil, fmt.Errorf("write GPT: %w", err)
	}
	if err := b.writeESP(d, 1, espType, bf); err != nil {
		return nil, err
	}
	if err := b.writeLogs(d, 2, logsType); err != nil {
		return nil, err
	}
	if err := d.Close(); err != nil {
		return nil, fmt.Errorf("close %s: %w", partial, err)
	}
	keep()
	if err := finishFAT(partial, int64(espStart)*512, uint32(espStart), espType); err != nil {
		os.Remove(partial)
		return nil, fmt.Errorf("ESP: %w", err)
	}
	if err := finishFAT(partial, int64(logsStart)*512, uint32(logsStart), logsType); err != nil {
		os.Remove(partial)
		return nil, fmt.Errorf("LOGS: %w", err)
	}
	if err := os.Rename(partial, o.Out); err != nil {
		os.Remove(partial)
		return nil, err
	}
	b.say("wrote %s (%d MiB)", o.Out, total/mib)
	return &Result{
		Size: total, ESPSize: espSz, LogsSize: logsSize,
		ESPType: fatTypeName(espType), LogsType: fatTypeName(logsType),
		InitrdSize: bf.initrdSize, Modules: bf.mods.Ordered, MissingModules: bf.mods.Missing,
	}, nil
}

// buildLogs writes the logs-only disk image: a GPT whose one partition,
// named LOGS like the stick's, holds the LOGS volume. The boot-time code
// finds it by that name on any disk, and OpenStick reads it.
func (b *builder) buildLogs() (*Result, error) {
	o := b.o
	logsSize := int64(o.LogsMiB) * mib
	logsType, err := chooseFATType(logsSize)
	if err != nil {
		return nil, fmt.Errorf("LOGS: %w", err)
	}
	total := firstLBA*512 + logsSize + mib // 1 MiB tail holds the backup GPT
	b.say("layout: LOGS %d MiB %s, image %d MiB", logsSize/mib, fatTypeName(logsType), total/mib)
	d, partial, cleanup, keep, err := createPartial(o.Out, total)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	start := uint64(firstLBA)
	table := &gpt.Table{
		ProtectiveMBR:      true,
		LogicalSectorSize:  512,
		PhysicalSectorSize: 512,
		Partitions: []*gpt.Partition{
			{Index: 1, Start: start, End: start + uint64(logsSize/512) - 1, Type: gpt.MicrosoftBasicData, Name: LogsPartName},
		},
	}
	if err := d.Partition(table); err != nil {
		return nil, fmt.Errorf("write GPT: %w", err)
	}
	if err := b.writeLogs(d, 1, logsType); err != nil {
		return nil, err
	}
	if err := d.Close(); err != nil {
		return nil, fmt.Errorf("close %s: %w", partial, err)
	}
	keep()
	if err := finishFAT(partial, int64(start)*512, uint32(start), logsType); err != nil {
		os.Remove(partial)
		return nil, fmt.Errorf("LOGS: %w", err)
	}
	if err := os.Rename(partial, o.Out); err != nil {
		os.Remove(partial)
		return nil, err
	}
	b.say("wrote %s (%d MiB)", o.Out, total/mib)
	return &Result{Size: total, LogsSize: logsSize, LogsType: fatTypeName(logsType)}, nil
}

// writeFSFile creates p (and its directory) on a go-diskfs FAT volume or
// ISO 9660 workspace and writes data with one Write call: go-diskfs
// rewrites the FAT cluster chain on every Write, so small writes are slow.
func writeFSFile(fs filesystem.FileSystem, p string, data []byte) error {
	if dir := path.Dir(p); dir != "/" {
		if _, err := fs.ReadDir(fsPath(dir)); err != nil {
			if err := fs.Mkdir(dir); err != nil {
				return fmt.Errorf("mkdir %s: %w", dir, err)
			}
		}
	}
	f, err := fs.OpenFile(p, os.O_CREATE|os.O_RDWR|os.O_TRUNC)
	if err != nil {
		return fmt.Errorf("create %s: %w", p, err)
	}
	if n, err := f.Write(data); err != nil || n != len(data) {
		f.Close()
		if err == nil {
			err = io.ErrShortWrite
		}
		return fmt.Errorf("write %s: %w", p, err)
	}
	return f.Close()
}

// finishFAT applies fixupFAT and then checkFAT to the volume at off.
func finishFAT(imagePath string, off int64, startLBA uint32, want filesystem.Type) error {
	f, err := os.OpenFile(imagePath, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := fixupFAT(f, off, startLBA); err != nil {
		return fmt.Errorf("fix up FAT: %w", err)
	}
	if _, err := checkFAT(f, off, want); err != nil {
		return err
	}
	return f.Sync()
}

func logsReadme() []byte {
	return bytes.ReplaceAll([]byte(`This is the UNBRICK drive of an unbrick USB stick.

unbrick.conf   what the stick does when a PC boots from it (edit it here)
keys/          BitLocker recovery key exports (*.age = sealed with a passphrase)
rules/         which files to remove
logs/          one record per PC and run, plus boot-*.txt summaries
journal/       undo journals (before-images of every sector unbrick changed)

Keep the stick safe: it may hold recovery keys. Copy logs/ to your fleet
tracking before you wipe or rebuild the stick.
`), []byte("\n"), []byte("\r\n"))
}
