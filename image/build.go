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

// File is a named blob to put on the LOGS partition (a key export, rules).
type File struct {
	Name string // base name on the stick, ASCII
	Data []byte
}

// Options describe one image build.
type Options struct {
	Out        string     // image file to create (must not exist)
	BootChain  *BootChain // from LoadBootChain
	Init       []byte     // static unbrick binary for /init
	Keys       []File     // key exports; sealed unless PlaintextKeys
	Rules      *File      // rules file, optional
	Plaintext  bool       // store keys unsealed (only when asked for)
	Passphrase string     // sealing passphrase (when !Plaintext and len(Keys) > 0)
	WorkFactor int        // age scrypt work factor, 0 = DefaultWorkFactor
	LogsMiB    int        // LOGS partition size, >= MinLogsMiB
	Config     Config     // unbrick.conf
	ESPFat32   bool       // make the ESP FAT32 (at least 40 MiB) for firmware that insists on it
	Modules    []string   // modules to carry, nil = DefaultModules
	Version    string     // unbrick version, recorded in the initramfs
	Progress   io.Writer  // progress lines, may be nil
}

// Result reports what Build made.
type Result struct {
	Size, ESPSize, LogsSize int64
	ESPType, LogsType       string
	InitrdSize              int64
	Modules                 []Module
	MissingModules          []string
	Elapsed                 time.Duration
}

// Build writes a bootable USB image: GPT, an EFI system partition with the
// signed shim, grub, kernel and our initramfs, and the LOGS partition. It
// writes into OUT.partial and renames it at the end, so a failed build
// leaves no image behind.
func Build(o Options) (*Result, error) {
	start := time.Now()
	say := func(format string, a ...any) {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "[%5.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, a...))
		}
	}
	if o.BootChain == nil {
		return nil, fmt.Errorf("%w: no boot chain given", ErrNoBootChain)
	}
	if err := o.Config.Validate(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if o.LogsMiB == 0 {
		o.LogsMiB = MinLogsMiB
	}
	if o.LogsMiB < MinLogsMiB || o.LogsMiB > 1800 {
		return nil, fmt.Errorf("LOGS size %d MiB: must be %d to 1800 MiB", o.LogsMiB, MinLogsMiB)
	}
	if len(o.Keys) > 0 && !o.Plaintext && len(o.Passphrase) < MinPassphraseLen {
		return nil, fmt.Errorf("keys are sealed with a passphrase of at least %d characters (or pass --plaintext-keys)", MinPassphraseLen)
	}
	busybox := ""
	if o.Config.After == "shell" {
		if o.BootChain.Busybox == "" {
			return nil, fmt.Errorf("--after shell needs busybox from busybox-static in the boot chain: run scripts/fetch-bootchain.sh again")
		}
		busybox = o.BootChain.Busybox
	}
	if _, err := os.Stat(o.Out); err == nil {
		return nil, fmt.Errorf("%s already exists: remove it or choose another --out", o.Out)
	}
	bc := o.BootChain
	want := o.Modules
	if want == nil {
		want = DefaultModules
	}
	say("boot chain %s: kernel %s", bc.Dir, bc.Release)
	mods, err := ResolveModules(bc.ModDir, bc.Release, want)
	if err != nil {
		return nil, err
	}
	say("modules: %d to load (%d requested built in, %d not in this kernel: %v)", len(mods.Ordered), len(mods.Builtin), len(mods.Missing), mods.Missing)

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
	var initrd bytes.Buffer
	if err := WriteInitramfs(&initrd, InitramfsSpec{Init: o.Init, Modules: mods, Busybox: busybox, BuildInfo: info}); err != nil {
		return nil, err
	}
	say("initramfs: %.1f MiB gzip (init %.1f MiB, %d modules)", float64(initrd.Len())/float64(mib), float64(len(o.Init))/float64(mib), len(mods.Ordered))

	espFiles := []struct {
		path string
		src  string
		data []byte
	}{
		{espShim, bc.Shim, nil}, {espGrub, bc.Grub, nil}, {espMokMgr, bc.MokMgr, nil},
		{espKernel, bc.Kernel, nil}, {espInitrd, "", initrd.Bytes()}, {espGrubCfg, "", grubConfig("")},
	}
	var content int64
	for i := range espFiles {
		if espFiles[i].data == nil {
			d, err := os.ReadFile(espFiles[i].src)
			if err != nil {
				return nil, fmt.Errorf("boot chain: %w", err)
			}
			espFiles[i].data = d
		}
		content += int64(len(espFiles[i].data))
	}
	// Content plus 15% and 4 MiB for FAT overhead and room to swap a
	// kernel, rounded up to whole MiB.
	espSize := (content + content*15/100 + 4*mib + mib - 1) / mib * mib
	espType, err := chooseFATType(espSize)
	if err != nil {
		return nil, fmt.Errorf("ESP: %w", err)
	}
	if o.ESPFat32 && espType != filesystem.TypeFat32 {
		// FAT32 needs 65525 clusters (512-byte clusters in go-diskfs up to
		// 260 MiB): 40 MiB gives about 81000. 64 MiB exactly is avoided
		// (diskfs/go-diskfs#418); checkFAT verifies the result anyway.
		espSize = max(espSize, 40*mib)
		if espSize == 64*mib {
			espSize += mib
		}
		espType = filesystem.TypeFat32
	}
	logsSize := int64(o.LogsMiB) * mib
	logsType, err := chooseFATType(logsSize)
	if err != nil {
		return nil, fmt.Errorf("LOGS: %w", err)
	}
	total := firstLBA*512 + espSize + logsSize + mib // 1 MiB tail holds the backup GPT
	say("layout: ESP %d MiB %s, LOGS %d MiB %s, image %d MiB", espSize/mib, fatTypeName(espType), logsSize/mib, fatTypeName(logsType), total/mib)

	partial := o.Out + ".partial"
	_ = os.Remove(partial)
	d, err := diskfs.Create(partial, total, diskfs.SectorSizeDefault)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", partial, err)
	}
	ok := false
	defer func() {
		if !ok {
			d.Close()
			os.Remove(partial)
		}
	}()
	espStart := uint64(firstLBA)
	espEnd := espStart + uint64(espSize/512) - 1
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
	esp, err := d.CreateFilesystem(disk.FilesystemSpec{Partition: 1, FSType: espType, VolumeLabel: espLabel})
	if err != nil {
		return nil, fmt.Errorf("format ESP: %w", err)
	}
	for _, f := range espFiles {
		if err := writeFATFile(esp, f.path, f.data); err != nil {
			return nil, fmt.Errorf("ESP: %w", err)
		}
		say("ESP %-22s %9d bytes", f.path, len(f.data))
	}
	logs, err := d.CreateFilesystem(disk.FilesystemSpec{Partition: 2, FSType: logsType, VolumeLabel: LogsLabel})
	if err != nil {
		return nil, fmt.Errorf("format LOGS: %w", err)
	}
	for _, dir := range []string{"/keys", "/rules", "/logs", "/journal"} {
		if err := logs.Mkdir(dir); err != nil {
			return nil, fmt.Errorf("LOGS: mkdir %s: %w", dir, err)
		}
	}
	if err := writeFATFile(logs, "/"+ConfigName, o.Config.Render(!o.Plaintext)); err != nil {
		return nil, fmt.Errorf("LOGS: %w", err)
	}
	if err := writeFATFile(logs, "/README.txt", logsReadme()); err != nil {
		return nil, fmt.Errorf("LOGS: %w", err)
	}
	wf := o.WorkFactor
	if wf == 0 {
		wf = DefaultWorkFactor
	}
	for _, k := range o.Keys {
		name, data := k.Name, k.Data
		if !o.Plaintext {
			say("sealing %s (age, scrypt work factor %d)", name, wf)
			if data, err = Seal(data, o.Passphrase, wf); err != nil {
				return nil, fmt.Errorf("key file %s: %w", k.Name, err)
			}
			name += SealedSuffix
		}
		if err := writeFATFile(logs, path.Join("/keys", name), data); err != nil {
			return nil, fmt.Errorf("LOGS: key file %s: %w", k.Name, err)
		}
		say("LOGS /keys/%s (%d bytes)", name, len(data))
	}
	if o.Rules != nil {
		if err := writeFATFile(logs, path.Join("/rules", o.Rules.Name), o.Rules.Data); err != nil {
			return nil, fmt.Errorf("LOGS: rules: %w", err)
		}
	}
	if err := d.Close(); err != nil {
		return nil, fmt.Errorf("close %s: %w", partial, err)
	}
	ok = true
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
	say("wrote %s (%d MiB)", o.Out, total/mib)
	return &Result{
		Size: total, ESPSize: espSize, LogsSize: logsSize,
		ESPType: fatTypeName(espType), LogsType: fatTypeName(logsType),
		InitrdSize: int64(initrd.Len()), Modules: mods.Ordered, MissingModules: mods.Missing,
		Elapsed: time.Since(start),
	}, nil
}

// writeFATFile creates p (and its directory) and writes data with one
// Write call: go-diskfs rewrites the cluster chain on every Write, so
// small writes are slow.
func writeFATFile(fs filesystem.FileSystem, p string, data []byte) error {
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
