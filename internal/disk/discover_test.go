package disk

import (
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"
)

// fakeSys builds a sysfs-like tree under dir from a map of relative path
// -> content; content "->target" makes a symlink, "" with a trailing slash
// a directory.
func fakeSys(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for rel, content := range files {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if len(content) > 2 && content[:2] == "->" {
			if err := os.Symlink(content[2:], p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestDiscoverFakeSysfs(t *testing.T) {
	vpd := string([]byte{0x00, 0x80, 0x00, 0x0c}) + "  WD-WX12345 "
	sys := fakeSys(t, map[string]string{
		// Internal SATA disk: serial only in VPD page 0x80.
		"block/sda/size":                         "2097152\n",
		"block/sda/ro":                           "0\n",
		"block/sda/removable":                    "0\n",
		"block/sda/queue/logical_block_size":     "512\n",
		"block/sda/device/vendor":                "ATA     \n",
		"block/sda/device/model":                 "WDC WD10EZEX-08W\n",
		"block/sda/device/vpd_pg80":              vpd,
		"block/sda/device/wwid":                  "t10.ATA     WDC WD10EZEX-08W  WD-WX12345\n",
		"block/sda/sda1/partition":               "1\n",
		"block/nvme0n1/size":                     "1000215216\n",
		"block/nvme0n1/ro":                       "0\n",
		"block/nvme0n1/queue/logical_block_size": "4096\n",
		"block/nvme0n1/wwid":                     "eui.0025388b91b1a0c1\n",
		"block/nvme0n1/device/model":             "SAMSUNG MZVLB512HBJQ-000L7              \n",
		"block/nvme0n1/device/serial":            "S4DYNX0N123456      \n",
		// The unbrick stick: its LOGS partition is mounted.
		"block/sdb/size":           "30031872\n",
		"block/sdb/removable":      "1\n",
		"block/sdb/device/model":   "Flash Drive\n",
		"block/sdb/sdb2/partition": "2\n",
		"dev/block/8:18":           "->../../block/sdb/sdb2",
		// Root file system on dm-0 on top of sde.
		"block/dm-0/size":          "100\n",
		"block/dm-0/slaves/sde":    "->../../sde",
		"block/sde/size":           "4096\n",
		"dev/block/254:0":          "->../../block/dm-0",
		"block/sdc/size":           "4096\n",
		"block/sdc/ro":             "1\n",
		"block/sdd/size":           "0\n",
		"block/sdf/size":           "4096\n",
		"block/sdf/sdf1/partition": "1\n",
		"block/loop0/size":         "4096\n",
		"block/sr0/size":           "4096\n",
		"block/zram0/size":         "4096\n",
		"mountinfo": "22 27 0:21 / /proc rw,relatime - proc proc rw\n" +
			"1 0 254:0 / / rw,relatime - ext4 /dev/mapper/root rw\n" +
			"36 1 8:18 / /run/unbrick/logs rw - vfat /dev/sdb2 rw\n",
	})
	disks, skipped, err := Discover(DiscoverOptions{
		SysRoot:   sys,
		MountInfo: filepath.Join(sys, "mountinfo"),
		Exclude:   []string{"/dev/sdf1"},
		BootPaths: []string{},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []Disk{
		{Name: "nvme0n1", Path: "/dev/nvme0n1", Size: 1000215216 * 512, LogicalSectorSize: 4096,
			Model: "SAMSUNG MZVLB512HBJQ-000L7", Serial: "S4DYNX0N123456", WWID: "eui.0025388b91b1a0c1"},
		{Name: "sda", Path: "/dev/sda", Size: 2097152 * 512, LogicalSectorSize: 512, Vendor: "ATA",
			Model: "WDC WD10EZEX-08W", Serial: "WD-WX12345", WWID: "t10.ATA     WDC WD10EZEX-08W  WD-WX12345"},
	}
	if !reflect.DeepEqual(disks, want) {
		t.Errorf("disks:\n got %+v\nwant %+v", disks, want)
	}
	reasons := map[string]string{}
	for _, s := range skipped {
		reasons[s.Name] = s.Reason
	}
	wantSkip := map[string]string{
		"sdb":   "has a mounted file system (/dev/sdb2 on /run/unbrick/logs)",
		"sde":   "has a mounted file system (/dev/mapper/root on /)",
		"dm-0":  "device-mapper device",
		"sdc":   "read-only (ro=1)",
		"sdd":   "no medium (size 0)",
		"sdf":   "boot medium (excluded by the caller)",
		"loop0": "loop device",
		"sr0":   "optical drive",
		"zram0": "compressed RAM disk",
	}
	if !reflect.DeepEqual(reasons, wantSkip) {
		var names []string
		for n := range reasons {
			names = append(names, n)
		}
		sort.Strings(names)
		t.Errorf("skipped: %v\n%+v", names, reasons)
	}

	d, err := LookupDisk(DiscoverOptions{SysRoot: sys}, "/dev/sda1")
	if err != nil || d.Name != "sda" || d.Serial != "WD-WX12345" {
		t.Errorf("LookupDisk(sda1): %+v %v", d, err)
	}
	if _, err := LookupDisk(DiscoverOptions{SysRoot: sys}, "/dev/sdz"); err == nil {
		t.Errorf("LookupDisk of an unknown device succeeded")
	}
	if _, _, err := Discover(DiscoverOptions{SysRoot: filepath.Join(sys, "nope")}); err == nil {
		t.Errorf("missing sysfs: no error")
	}
}

// TestDiscoverThisMachine runs Discover on the real /sys: it must not
// fail, must skip the disk holding the running test binary, and every disk
// it returns must open as a Target of the size sysfs reports.
func TestDiscoverThisMachine(t *testing.T) {
	if _, err := os.Stat("/sys/block"); err != nil {
		t.Skip("no /sys/block")
	}
	disks, skipped, err := Discover(DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	exe, _ := os.Executable()
	if maj, min, ok := fileDevice(exe); ok {
		for _, d := range disksOf("/sys", maj, min) {
			for _, x := range disks {
				if x.Name == d {
					t.Errorf("disk %s holding the executable was not skipped", d)
				}
			}
		}
	}
	_ = skipped
	for _, d := range disks {
		tg, err := OpenTarget(d.Path, false)
		if err != nil {
			t.Logf("open %s: %v", d.Path, err)
			continue
		}
		if tg.Size() != d.Size {
			t.Errorf("%s: sysfs size %d, BLKGETSIZE64 %d", d.Name, d.Size, tg.Size())
		}
		tg.Close()
	}
}
