package bootmode

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/unbrick/unbrick/image"
)

// fakeSys builds a /sys tree like the kernel's: /sys/block/DISK with size,
// ro and device/model; partitions under the disk; /sys/class/block
// entries as symlinks into the device tree, with uevent files.
func fakeSys(t *testing.T, disks map[string][]string, partNames map[string]string) string {
	t.Helper()
	root := t.TempDir()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	for disk, parts := range disks {
		dev := filepath.Join(root, "devices/pci0000:00", disk)
		must(os.MkdirAll(filepath.Join(dev, "device"), 0o755))
		must(os.WriteFile(filepath.Join(dev, "size"), []byte("262144\n"), 0o644))
		must(os.WriteFile(filepath.Join(dev, "ro"), []byte("0\n"), 0o644))
		must(os.WriteFile(filepath.Join(dev, "device/model"), []byte("Model "+disk+"  \n"), 0o644))
		must(os.WriteFile(filepath.Join(dev, "uevent"), []byte("DEVTYPE=disk\nDEVNAME="+disk+"\n"), 0o644))
		must(os.MkdirAll(filepath.Join(root, "block"), 0o755))
		must(os.MkdirAll(filepath.Join(root, "class/block"), 0o755))
		must(os.Symlink(dev, filepath.Join(root, "block", disk)))
		must(os.Symlink(dev, filepath.Join(root, "class/block", disk)))
		for _, p := range parts {
			pd := filepath.Join(dev, p)
			must(os.MkdirAll(pd, 0o755))
			ue := "DEVTYPE=partition\nDEVNAME=" + p + "\n"
			if n, ok := partNames[p]; ok {
				ue += "PARTNAME=" + n + "\n"
			}
			must(os.WriteFile(filepath.Join(pd, "uevent"), []byte(ue), 0o644))
			must(os.Symlink(pd, filepath.Join(root, "class/block", p)))
		}
	}
	return root
}

func TestFindPartByName(t *testing.T) {
	sys := fakeSys(t, map[string][]string{"sda": {"sda1", "sda2"}, "nvme0n1": {"nvme0n1p1", "nvme0n1p3"}},
		map[string]string{"sda1": "ESP", "sda2": "LOGS", "nvme0n1p1": "EFI system partition", "nvme0n1p3": "Basic data partition"})
	p, err := findPartByName(sys, "LOGS")
	if err != nil || p == nil || p.Name != "sda2" || p.Disk != "sda" {
		t.Fatalf("got %+v, %v", p, err)
	}
	if p, err := findPartByName(sys, "NOPE"); p != nil || err != nil {
		t.Fatalf("absent name: %+v, %v", p, err)
	}
	two := fakeSys(t, map[string][]string{"sda": {"sda2"}, "sdb": {"sdb2"}}, map[string]string{"sda2": "LOGS", "sdb2": "LOGS"})
	if _, err := findPartByName(two, "LOGS"); err == nil || !strings.Contains(err.Error(), "unplug all unbrick sticks but one") {
		t.Fatalf("two sticks: %v", err)
	}
}

func TestListVictimDisks(t *testing.T) {
	sys := fakeSys(t, map[string][]string{"sda": {"sda2"}, "nvme0n1": nil, "sdb": nil, "loop0": nil, "sr0": nil, "zram0": nil, "sdc": nil}, nil)
	os.WriteFile(filepath.Join(sys, "block/sdb/ro"), []byte("1\n"), 0o644)   // read-only
	os.WriteFile(filepath.Join(sys, "block/sdc/size"), []byte("0\n"), 0o644) // empty card reader
	got := listVictimDisks(sys, "sda")
	if len(got) != 1 || got[0].Name != "nvme0n1" || got[0].Size != 262144*512 || got[0].Model != "Model nvme0n1" {
		t.Fatalf("got %+v", got)
	}
}

// TestListVictimDisksISOBoot is the ISO boot: the unbrick ISO is a CD
// (sr0, read-only, or writable as some virtual drives report it), the
// LOGS partition is on a separate disk (the --format logs image as a
// virtio disk). Only the PC's disk is a victim: never the CD, never the
// LOGS disk.
func TestListVictimDisksISOBoot(t *testing.T) {
	sys := fakeSys(t, map[string][]string{"sr0": nil, "sr1": nil, "vda": {"vda1"}, "nvme0n1": {"nvme0n1p1", "nvme0n1p3"}},
		map[string]string{"vda1": "LOGS", "nvme0n1p1": "EFI system partition", "nvme0n1p3": "Basic data partition"})
	os.WriteFile(filepath.Join(sys, "block/sr0/ro"), []byte("1\n"), 0o644) // sr1 stays "0": excluded by name alone
	part, err := findPartByName(sys, image.LogsPartName)
	if err != nil || part == nil || part.Name != "vda1" || part.Disk != "vda" {
		t.Fatalf("LOGS on the logs disk: %+v, %v", part, err)
	}
	got := listVictimDisks(sys, part.Disk)
	if len(got) != 1 || got[0].Name != "nvme0n1" {
		t.Fatalf("victims %+v, want only nvme0n1", got)
	}
}

func TestFixArgs(t *testing.T) {
	got := fixArgs("fix", []string{"/run/k1.csv", "/stick/keys/k2.csv"}, []string{"/stick/rules/r"}, "/stick/logs", "/stick/journal",
		[]victimDisk{{Name: "nvme0n1"}, {Name: "sdb"}})
	want := "fix --keys /run/k1.csv --keys /stick/keys/k2.csv --rules /stick/rules/r --log /stick/logs --journal /stick/journal /dev/nvme0n1 /dev/sdb"
	if strings.Join(got, " ") != want {
		t.Fatalf("got  %s\nwant %s", strings.Join(got, " "), want)
	}
}

func TestShipArgs(t *testing.T) {
	if got := shipArgs(image.DefaultConfig(), "/stick/logs", "", ""); got != nil {
		t.Fatalf("no receiver configured, yet: %v", got)
	}
	cfg := image.DefaultConfig()
	cfg.LogURL, cfg.Syslog, cfg.LogCA = "https://logs.example.com/u", "tls://siem:6514", "log-ca.pem"
	got := strings.Join(shipArgs(cfg, "/stick/logs", "/stick/log-ca.pem", ""), " ")
	want := "ship --log /stick/logs --log-wait 20s --log-url https://logs.example.com/u --syslog tls://siem:6514 --log-ca /stick/log-ca.pem"
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	// A network boot without a LOGS disk: the journals go too, with a
	// longer wait (they only live in memory).
	got = strings.Join(shipArgs(cfg, "/run/unbrick/logs", "/etc/unbrick/ca.pem", "/run/unbrick/journal"), " ")
	want = "ship --log /run/unbrick/logs --log-wait 90s --log-url https://logs.example.com/u --syslog tls://siem:6514 --log-ca /etc/unbrick/ca.pem --journal /run/unbrick/journal"
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestBootRecordText(t *testing.T) {
	r := bootRecord{Time: time.Date(2026, 11, 26, 5, 0, 0, 0, time.UTC), Version: "v1", Kernel: "k", SecureBoot: "on",
		Lockdown: "integrity", Modules: "50 of 50 loaded", Stick: "/dev/sda (LOGS = /dev/sda2)",
		Disks: []victimDisk{{Name: "nvme0n1", Size: 128 << 20, Model: "M"}}, Keys: "1 sealed, 1 opened",
		Mode: "auto", Result: "fix exit 0 (ok)", After: "poweroff", Problems: []string{"p1"}}
	text := r.text()
	for _, want := range []string{"time:        2026-11-26T05:00:00Z\r\n", "secure_boot: on\r\n", "disks:       /dev/nvme0n1 (128 MiB, M)\r\n", "problem:     p1\r\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("record lacks %q:\n%s", want, text)
		}
	}
}

func TestCheckLogsSpace(t *testing.T) {
	if err := checkLogsSpace(64 << 20); err != nil {
		t.Fatal(err)
	}
	err := checkLogsSpace(100 << 10)
	if err == nil || !strings.Contains(err.Error(), "LOGS partition is full (100 KiB free") || !strings.Contains(err.Error(), "move old files out of logs/ and journal/") {
		t.Fatalf("err = %v", err)
	}
}

func TestDetect(t *testing.T) {
	for _, c := range []struct {
		argv0 string
		pid   int
		want  Mode
	}{
		{"/init", 1, Boot},
		{"/init", 4242, NotPID1},
		{"unbrick", 1, Command}, // process 1 of a container
		{"/usr/local/bin/unbrick", 77, Command},
		{"init", 1, Command},
		{"/sbin/init", 1, Command},
	} {
		if got := Detect(c.argv0, c.pid); got != c.want {
			t.Errorf("Detect(%q, %d) = %v, want %v", c.argv0, c.pid, got, c.want)
		}
	}
}

// TestNoLogsHint: without a CD drive the hint is about the stick; with
// one (sr0 in /sys/class/block) it says how a CD boot gets its LOGS.
func TestNoLogsHint(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "class/block/sda"), 0o755); err != nil {
		t.Fatal(err)
	}
	if h := noLogsHint(root); !strings.Contains(h, "not an unbrick stick") || strings.Contains(h, "CD") {
		t.Errorf("no CD drive: %q", h)
	}
	// A SATA disk (type 0) is not a CD drive; a type 5 device is, with or
	// without sr_mod's block device.
	for _, c := range [][2]string{{"0:0:0:0", "0\n"}, {"1:0:0:0", "5\n"}} {
		dev, typ := c[0], c[1]
		d := filepath.Join(root, "bus/scsi/devices", dev)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "type"), []byte(typ), 0o644); err != nil {
			t.Fatal(err)
		}
		h := noLogsHint(root)
		if cd := strings.Contains(h, "--format logs") && strings.Contains(h, "--config-url"); cd != (typ == "5\n") {
			t.Errorf("SCSI type %q: %q", typ, h)
		}
	}
	root = t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "class/block/sr0"), 0o755); err != nil {
		t.Fatal(err)
	}
	if h := noLogsHint(root); !strings.Contains(h, "--format logs") {
		t.Errorf("with sr0: %q", h)
	}
}
