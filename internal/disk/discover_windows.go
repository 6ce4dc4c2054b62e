//go:build windows

package disk

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/windows"
)

// platformDiscovery: on Windows, Discover and LookupDisk ask Windows
// unless a test points SysRoot at a fake sysfs tree.
func platformDiscovery(opts DiscoverOptions) bool { return opts.SysRoot == "" }

// discoverPlatform lists \\.\PhysicalDrive0..63 (no SetupAPI: every
// number is tried, gaps allowed), leaving out the disks holding the
// running Windows and unbrick.exe, those holding opts.BootPaths (on
// Windows added to these two, never replacing them) and the
// PhysicalDriveN names in opts.Exclude.
func discoverPlatform(opts DiscoverOptions) ([]Disk, []Skipped, error) {
	paths := defaultBootPaths()
	for _, p := range opts.BootPaths {
		paths = append(paths, bootPath{Path: p, Why: fmt.Sprintf("boot medium (holds %s)", p)})
	}
	excluded, err := systemDisks(winVolumes{}, paths)
	if err != nil {
		return nil, nil, err
	}
	excludedByName(opts.Exclude, excluded)
	disks, skipped := discoverDrives(winProber{}, excluded, maxPhysicalDrives)
	for _, s := range skipped {
		if strings.Contains(s.Reason, "run unbrick.exe as administrator") && len(disks) == 0 {
			return nil, skipped, fmt.Errorf("list the disks: %s", s.Reason)
		}
	}
	return disks, skipped, nil
}

// lookupDiskPlatform describes \\.\PhysicalDriveN for the fleet log.
func lookupDiskPlatform(_ DiscoverOptions, name string) (*Disk, error) {
	n, ok := parsePhysicalDrive(name)
	if !ok {
		return nil, fmt.Errorf(`%s is not a disk name: give \\.\PhysicalDriveN`, name)
	}
	d, err := winProber{}.Describe(n)
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// winProber describes physical drives through their device handles.
type winProber struct{}

func (winProber) Describe(n uint32) (Disk, error) {
	path := physicalDrivePath(n)
	d := Disk{Name: fmt.Sprintf("PhysicalDrive%d", n), Path: path}
	h, err := openDevice(path, windows.GENERIC_READ, 0)
	if err != nil {
		if errors.Is(err, windows.ERROR_FILE_NOT_FOUND) || errors.Is(err, windows.ERROR_PATH_NOT_FOUND) {
			return d, fmt.Errorf("%s: %w", path, errNoDrive)
		}
		if errors.Is(err, windows.ERROR_ACCESS_DENIED) {
			return d, fmt.Errorf("open %s: %w (run unbrick.exe as administrator)", path, err)
		}
		return d, fmt.Errorf("open %s: %w", path, err)
	}
	defer windows.CloseHandle(h)
	if desc, err := queryDeviceDescriptor(h); err == nil {
		d.Vendor, d.Model, d.Serial, d.Removable = desc.Vendor, desc.Product, desc.Serial, desc.Removable
	}
	size, ssz, err := queryGeometry(h)
	if err != nil {
		return d, fmt.Errorf("%s: %w", path, err)
	}
	d.Size, d.LogicalSectorSize = size, ssz
	return d, nil
}
