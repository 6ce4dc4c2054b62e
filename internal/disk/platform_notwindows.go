//go:build !windows

package disk

import "errors"

// openPlatformDevice: only Windows has device names OpenTarget must open
// its own way; elsewhere every path goes the ordinary way (ok false).
func openPlatformDevice(path string, writable bool) (t *Target, ok bool, err error) {
	return nil, false, nil
}

// platformDiscovery: Discover and LookupDisk read sysfs here.
func platformDiscovery(DiscoverOptions) bool { return false }

var errNotWindows = errors.New("Windows disk discovery is only available on Windows")

func discoverPlatform(DiscoverOptions) ([]Disk, []Skipped, error) { return nil, nil, errNotWindows }

func lookupDiskPlatform(DiscoverOptions, string) (*Disk, error) { return nil, errNotWindows }
