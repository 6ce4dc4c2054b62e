package disk

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// DiscoverOptions configures Discover. The zero value discovers the disks
// of the running Linux system.
type DiscoverOptions struct {
	// SysRoot is the sysfs mount point; default "/sys". Tests point it at
	// a fake tree (block/NAME/{size,ro,removable,queue/logical_block_size,
	// device/{model,vendor,serial,wwid,vpd_pg80}}, dev/block/MAJ:MIN links).
	SysRoot string
	// DevDir is where device nodes live; default "/dev".
	DevDir string
	// MountInfo is a mountinfo file; default "/proc/self/mountinfo".
	// "-" means: do not look at mounts.
	MountInfo string
	// Exclude names the boot medium when the caller knows it: disk or
	// partition names ("sdb", "sdb2") or device paths ("/dev/sdb2").
	Exclude []string
	// BootPaths are files whose disk is the boot medium (excluded); nil
	// means the running executable and "/". An empty non-nil slice means none.
	BootPaths []string
}

// Disk is a whole disk found by Discover.
type Disk struct {
	Name              string // kernel name, "sda", "nvme0n1"
	Path              string // device node, "/dev/sda"
	Size              int64  // bytes
	LogicalSectorSize int    // queue/logical_block_size, 0 if unknown
	Removable         bool
	Vendor            string // device/vendor (SCSI/ATA; trimmed)
	Model             string // device/model
	Serial            string // device/serial, else the VPD page 0x80 serial
	WWID              string // device/wwid or wwid
}

// Skipped is a block device Discover left out, and why.
type Skipped struct {
	Name   string
	Reason string
}

// skipPrefixes are virtual or optical devices that never hold a Windows
// install to repair: loop, RAM disks, zram, optical (sr), floppies, device
// mapper and md RAID (their member disks are listed themselves), nbd.
var skipPrefixes = []struct{ prefix, why string }{
	{"loop", "loop device"},
	{"ram", "RAM disk"},
	{"zram", "compressed RAM disk"},
	{"sr", "optical drive"},
	{"fd", "floppy drive"},
	{"dm-", "device-mapper device"},
	{"md", "software RAID device"},
	{"nbd", "network block device"},
}

// Discover lists the disks in SysRoot/block that unbrick should look at:
// every disk except the medium unbrick booted from (the disks holding
// BootPaths, the Exclude list, and any disk with a mounted file system —
// the stick's LOGS partition is mounted), loop/RAM/zram/optical and other
// virtual devices, empty drives (size 0) and read-only disks (ro=1). The
// skipped ones are returned with a reason.
//
// On Windows (with SysRoot unset) it lists \\.\PhysicalDrive0..63 instead,
// leaving out the disks holding %SystemRoot% and the executable (and
// PhysicalDriveN names in Exclude): see discover_windows.go.
func Discover(opts DiscoverOptions) ([]Disk, []Skipped, error) {
	if platformDiscovery(opts) {
		return discoverPlatform(opts)
	}
	sys := opts.SysRoot
	if sys == "" {
		sys = "/sys"
	}
	dev := opts.DevDir
	if dev == "" {
		dev = "/dev"
	}
	ents, err := os.ReadDir(filepath.Join(sys, "block"))
	if err != nil {
		return nil, nil, fmt.Errorf("list block devices: %w", err)
	}
	boot := map[string]string{} // disk name -> reason
	for _, e := range opts.Exclude {
		name := filepath.Base(e)
		if d := parentDisk(sys, name); d != "" {
			name = d
		}
		boot[name] = "boot medium (excluded by the caller)"
	}
	paths := opts.BootPaths
	if paths == nil {
		paths = []string{"/"}
		if exe, err := os.Executable(); err == nil {
			paths = append(paths, exe)
		}
	}
	for _, p := range paths {
		maj, min, ok := fileDevice(p)
		if !ok {
			continue
		}
		for _, d := range disksOf(sys, maj, min) {
			boot[d] = fmt.Sprintf("boot medium (holds %s)", p)
		}
	}
	mounted := map[string]string{}
	if opts.MountInfo != "-" {
		mi := opts.MountInfo
		if mi == "" {
			mi = "/proc/self/mountinfo"
		}
		mounts, err := readMountInfo(mi)
		if err != nil && opts.MountInfo != "" {
			return nil, nil, err
		}
		for _, m := range mounts {
			for _, d := range disksOf(sys, m.major, m.minor) {
				if _, seen := mounted[d]; !seen {
					mounted[d] = fmt.Sprintf("has a mounted file system (%s on %s)", m.source, m.point)
				}
			}
		}
	}

	var disks []Disk
	var skipped []Skipped
	for _, e := range ents {
		name := e.Name()
		skip := func(why string) { skipped = append(skipped, Skipped{Name: name, Reason: why}) }
		if why := virtualReason(name); why != "" {
			skip(why)
			continue
		}
		if why, ok := boot[name]; ok {
			skip(why)
			continue
		}
		if why, ok := mounted[name]; ok {
			skip(why)
			continue
		}
		dir := filepath.Join(sys, "block", name)
		if readTrim(filepath.Join(dir, "ro")) == "1" {
			skip("read-only (ro=1)")
			continue
		}
		d := describe(dir, name, dev)
		if d.Size == 0 {
			skip("no medium (size 0)")
			continue
		}
		disks = append(disks, d)
	}
	sort.Slice(disks, func(i, j int) bool { return disks[i].Name < disks[j].Name })
	return disks, skipped, nil
}

// LookupDisk describes the disk holding the named block device ("sdb2",
// "/dev/sdb2" or "sdb"): model, serial and so on for the fleet log. The
// sysfs root is opts.SysRoot (default "/sys").
// On Windows it takes \\.\PhysicalDriveN.
func LookupDisk(opts DiscoverOptions, name string) (*Disk, error) {
	if platformDiscovery(opts) {
		return lookupDiskPlatform(opts, name)
	}
	sys := opts.SysRoot
	if sys == "" {
		sys = "/sys"
	}
	dev := opts.DevDir
	if dev == "" {
		dev = "/dev"
	}
	base := filepath.Base(name)
	if p, err := filepath.EvalSymlinks(name); err == nil && strings.HasPrefix(name, "/") {
		base = filepath.Base(p) // /dev/disk/by-id/... links
	}
	d := parentDisk(sys, base)
	if d == "" {
		d = base
	}
	dir := filepath.Join(sys, "block", d)
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("%s is not a block device known to %s: %w", name, filepath.Join(sys, "block"), err)
	}
	disk := describe(dir, d, dev)
	return &disk, nil
}

func virtualReason(name string) string {
	for _, s := range skipPrefixes {
		if strings.HasPrefix(name, s.prefix) {
			return s.why
		}
	}
	return ""
}

func describe(dir, name, dev string) Disk {
	d := Disk{Name: name, Path: filepath.Join(dev, name)}
	if n, err := strconv.ParseInt(readTrim(filepath.Join(dir, "size")), 10, 64); err == nil && n > 0 {
		d.Size = n * 512 // sysfs "size" is always in 512-byte units
	}
	if n, err := strconv.Atoi(readTrim(filepath.Join(dir, "queue", "logical_block_size"))); err == nil {
		d.LogicalSectorSize = n
	}
	d.Removable = readTrim(filepath.Join(dir, "removable")) == "1"
	devdir := filepath.Join(dir, "device")
	d.Vendor = readTrim(filepath.Join(devdir, "vendor"))
	d.Model = readTrim(filepath.Join(devdir, "model"))
	d.Serial = readTrim(filepath.Join(devdir, "serial"))
	if d.Serial == "" {
		d.Serial = vpdSerial(filepath.Join(devdir, "vpd_pg80"))
	}
	d.WWID = readTrim(filepath.Join(devdir, "wwid"))
	if d.WWID == "" {
		d.WWID = readTrim(filepath.Join(dir, "wwid"))
	}
	return d
}

// vpdSerial decodes SCSI VPD page 0x80 (Unit Serial Number): byte 1 is the
// page code 0x80, bytes 2-3 the length, then the serial in ASCII.
func vpdSerial(path string) string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) < 4 || b[1] != 0x80 {
		return ""
	}
	n := int(b[2])<<8 | int(b[3])
	if n > len(b)-4 {
		n = len(b) - 4
	}
	return cleanSysfs(string(b[4 : 4+n]))
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return cleanSysfs(string(b))
}

// cleanSysfs trims padding and drops non-printable bytes.
func cleanSysfs(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}

// parentDisk returns the disk a partition name belongs to ("sda" for
// "sda1"), the name itself for a disk, "" when sysfs does not know it.
func parentDisk(sys, name string) string {
	if _, err := os.Stat(filepath.Join(sys, "block", name)); err == nil {
		return name
	}
	p, err := filepath.EvalSymlinks(filepath.Join(sys, "class", "block", name))
	if err != nil {
		// Fall back to scanning block/*/name (fake trees without class/).
		m, _ := filepath.Glob(filepath.Join(sys, "block", "*", name))
		if len(m) == 0 {
			return ""
		}
		p = m[0]
	}
	if _, err := os.Stat(filepath.Join(p, "partition")); err == nil {
		return filepath.Base(filepath.Dir(p))
	}
	return filepath.Base(p)
}

// disksOf returns the disks behind device maj:min: its own disk (if it is
// a partition, the parent) and, for device-mapper/md devices, the disks
// under slaves/, recursively.
func disksOf(sys string, maj, min uint32) []string {
	p, err := filepath.EvalSymlinks(filepath.Join(sys, "dev", "block", fmt.Sprintf("%d:%d", maj, min)))
	if err != nil {
		return nil
	}
	return disksUnder(p, 0)
}

func disksUnder(p string, depth int) []string {
	if depth > 8 {
		return nil
	}
	if _, err := os.Stat(filepath.Join(p, "partition")); err == nil {
		p = filepath.Dir(p)
	}
	out := []string{filepath.Base(p)}
	slaves, _ := os.ReadDir(filepath.Join(p, "slaves"))
	for _, s := range slaves {
		sp, err := filepath.EvalSymlinks(filepath.Join(p, "slaves", s.Name()))
		if err == nil {
			out = append(out, disksUnder(sp, depth+1)...)
		}
	}
	return out
}

type mount struct {
	major, minor  uint32
	point, source string
}

// readMountInfo parses /proc/self/mountinfo: field 3 is MAJ:MIN, field 5
// the mount point, after the " - " separator the type and the source.
func readMountInfo(path string) ([]mount, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read mounts: %w", err)
	}
	defer f.Close()
	var out []mount
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mm := strings.SplitN(fields[2], ":", 2)
		if len(mm) != 2 {
			continue
		}
		maj, err1 := strconv.ParseUint(mm[0], 10, 32)
		min, err2 := strconv.ParseUint(mm[1], 10, 32)
		if err1 != nil || err2 != nil || maj == 0 {
			continue // 0:N are virtual file systems
		}
		m := mount{major: uint32(maj), minor: uint32(min), point: fields[4]}
		for i, f := range fields {
			if f == "-" && i+2 < len(fields) {
				m.source = fields[i+2]
				break
			}
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil && !errors.Is(err, os.ErrClosed) {
		return out, fmt.Errorf("read %s: %w", path, err)
	}
	return out, nil
}
