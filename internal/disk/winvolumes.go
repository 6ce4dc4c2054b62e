package disk

// The Windows edition's volume and disk logic, kept apart from the system
// calls (winapi_windows.go) behind small interfaces, so it is tested on
// every platform with fakes.

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// maxPhysicalDrives is how many \\.\PhysicalDriveN names Windows discovery
// tries (N = 0..63). Disk numbers can have gaps (a removed disk), so a
// missing N does not end the scan.
const maxPhysicalDrives = 64

// volumeAPI is the part of Windows volume management unbrick uses.
type volumeAPI interface {
	// Volumes lists the volume GUID paths (\\?\Volume{GUID}\) of the
	// system: FindFirstVolumeW, FindNextVolumeW.
	Volumes() ([]string, error)
	// Extents returns where a volume lies on disks:
	// IOCTL_VOLUME_GET_VOLUME_DISK_EXTENTS.
	Extents(volume string) ([]diskExtent, error)
	// MountPoints lists a volume's drive letters and folder mount points
	// (GetVolumePathNamesForVolumeNameW); nil when there are none.
	MountPoints(volume string) []string
	// VolumeOf returns the volume GUID path of the volume holding a file
	// (GetVolumePathNameW, GetVolumeNameForVolumeMountPointW).
	VolumeOf(path string) (string, error)
}

// volumeLocker takes a volume away from Windows before its sectors are
// written through the disk: FSCTL_LOCK_VOLUME, then
// FSCTL_DISMOUNT_VOLUME. release gives it back (FSCTL_UNLOCK_VOLUME and
// closing the volume handle).
type volumeLocker interface {
	LockAndDismount(volume string) (release func() error, err error)
}

// driveProber describes \\.\PhysicalDriveN for discovery; it returns an
// error wrapping errNoDrive when there is no disk N.
type driveProber interface {
	Describe(n uint32) (Disk, error)
}

// errNoDrive means \\.\PhysicalDriveN does not exist.
var errNoDrive = errors.New("no such physical drive")

// VolumeInUseError is returned (wrapped) by Target.Lock on Windows when
// Windows refuses to lock a volume on the disk, because a program has a
// file or folder open on it.
type VolumeInUseError struct {
	Disk        uint32   // N of \\.\PhysicalDriveN
	Volume      string   // \\?\Volume{GUID}\
	MountPoints []string // its drive letters and mount folders
	Err         error    // what FSCTL_LOCK_VOLUME (or the open) returned
}

func (e *VolumeInUseError) Error() string {
	where := "it has no drive letter"
	if len(e.MountPoints) > 0 {
		where = "mounted at " + strings.Join(e.MountPoints, ", ")
	}
	return fmt.Sprintf("volume %s on PhysicalDrive%d (%s) cannot be locked for writing: %v: "+
		"close every program, Explorer window and command prompt that uses it "+
		"(and stop antivirus scans, indexing or backups of it), then run unbrick again",
		e.Volume, e.Disk, where, e.Err)
}

func (e *VolumeInUseError) Unwrap() error { return e.Err }

// extentOverlaps reports whether extent e lies on disk and shares at least
// one byte with [start, start+length).
func extentOverlaps(e diskExtent, disk uint32, start, length int64) bool {
	if e.Disk != disk || e.Start < 0 || e.Length <= 0 || start < 0 || length <= 0 {
		return false
	}
	return e.Start < satAdd(start, length) && start < satAdd(e.Start, e.Length)
}

// satAdd adds two non-negative int64s, saturating instead of overflowing.
func satAdd(a, b int64) int64 {
	if a > (1<<63-1)-b {
		return 1<<63 - 1
	}
	return a + b
}

// volumeOnRange is a volume with an extent in a disk's byte range.
type volumeOnRange struct {
	Volume      string
	MountPoints []string
}

// volumesOnRange lists, in the order api.Volumes gives them, the volumes
// with an extent on disk overlapping [start, start+length). A volume whose
// extents cannot be read (an optical drive, a volume going away) is not on
// a disk unbrick writes and is left out.
func volumesOnRange(api volumeAPI, disk uint32, start, length int64) ([]volumeOnRange, error) {
	vols, err := api.Volumes()
	if err != nil {
		return nil, fmt.Errorf("list the volumes of this system: %w", err)
	}
	var out []volumeOnRange
	for _, v := range vols {
		ext, err := api.Extents(v)
		if err != nil {
			continue
		}
		for _, e := range ext {
			if extentOverlaps(e, disk, start, length) {
				out = append(out, volumeOnRange{Volume: v, MountPoints: api.MountPoints(v)})
				break
			}
		}
	}
	return out, nil
}

// lockVolumeRange locks and dismounts every volume Windows has on disk
// within [start, start+length), in order. If one cannot be locked, those
// already locked are released and the error is a *VolumeInUseError naming
// the volume and where it is mounted. unlock releases them all, in reverse
// order.
func lockVolumeRange(api volumeAPI, lk volumeLocker, disk uint32, start, length int64) (unlock func() error, err error) {
	vols, err := volumesOnRange(api, disk, start, length)
	if err != nil {
		return nil, err
	}
	var held []func() error
	releaseAll := func() error {
		var errs []error
		for i := len(held) - 1; i >= 0; i-- {
			errs = append(errs, held[i]())
		}
		held = nil
		return errors.Join(errs...)
	}
	for _, v := range vols {
		rel, err := lk.LockAndDismount(v.Volume)
		if err != nil {
			if rerr := releaseAll(); rerr != nil {
				err = errors.Join(err, fmt.Errorf("and giving back the volumes already locked: %w", rerr))
			}
			return nil, &VolumeInUseError{Disk: disk, Volume: v.Volume, MountPoints: v.MountPoints, Err: err}
		}
		held = append(held, rel)
	}
	return releaseAll, nil
}

// bootPath is a file whose disk unbrick must never touch.
type bootPath struct {
	Path     string
	Why      string // "the running Windows (holds C:\Windows)"
	Required bool   // an error when its disk cannot be found
}

// systemDisks maps the disk numbers holding the given files to why they
// are excluded: every disk an extent of the file's volume lies on (a
// mirrored or spanned volume lies on several). A required path whose disk
// cannot be found is an error: unbrick then cannot tell the running
// system's disk from the others and works on none.
// bootPathsFor lists the boot paths of a Windows whose %SystemRoot% is
// root and whose running executable is exe. The disk Windows runs from
// must be found (Required) on an installed Windows; on Windows PE it is a
// RAM disk (X:) that lies on no disk, so it is excluded when found but
// not required. exe's disk is excluded when found (on WinPE unbrick.exe
// usually runs from X: too: the caller adds the stick through the log
// directory, see DiscoverOptions.BootPaths).
func bootPathsFor(root, exe string, winPE bool) []bootPath {
	var out []bootPath
	if root != "" {
		why := fmt.Sprintf("the disk Windows runs from (holds %s)", root)
		out = append(out, bootPath{Path: root, Why: why, Required: !winPE})
	}
	if exe != "" {
		out = append(out, bootPath{Path: exe, Why: fmt.Sprintf("boot medium (holds %s)", exe)})
	}
	return out
}

func systemDisks(api volumeAPI, paths []bootPath) (map[uint32]string, error) {
	out := map[uint32]string{}
	for _, p := range paths {
		vol, err := api.VolumeOf(p.Path)
		var ext []diskExtent
		if err == nil {
			ext, err = api.Extents(vol)
		}
		if err == nil && len(ext) == 0 {
			err = errors.New("its volume lies on no disk")
		}
		if err != nil {
			if p.Required {
				return nil, fmt.Errorf("find the disk holding %s: %w (unbrick cannot tell which disk Windows runs from, so it works on none: name a disk image instead)", p.Path, err)
			}
			continue // e.g. unbrick.exe run from a network share
		}
		for _, e := range ext {
			if _, seen := out[e.Disk]; !seen {
				out[e.Disk] = p.Why
			}
		}
	}
	return out, nil
}

// parsePhysicalDrive returns N of a \\.\PhysicalDriveN (or \\?\ or bare
// PhysicalDriveN) name, case-insensitively.
func parsePhysicalDrive(name string) (uint32, bool) {
	s := name
	for _, p := range []string{`\\.\`, `\\?\`, `//./`} {
		if len(s) >= len(p) && s[:len(p)] == p {
			s = s[len(p):]
			break
		}
	}
	const pd = "physicaldrive"
	if len(s) <= len(pd) || !strings.EqualFold(s[:len(pd)], pd) {
		return 0, false
	}
	digits := s[len(pd):]
	if len(digits) > 4 || (len(digits) > 1 && digits[0] == '0') {
		return 0, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(digits, 10, 32)
	if err != nil {
		return 0, false
	}
	return uint32(n), true
}

// physicalDrivePath is the device path of disk n.
func physicalDrivePath(n uint32) string { return fmt.Sprintf(`\\.\PhysicalDrive%d`, n) }

// isWindowsVolumePath reports whether name is a Windows volume device
// (\\.\C:, \\?\Volume{GUID}) rather than a disk: unbrick opens disks.
func isWindowsVolumePath(name string) bool {
	for _, p := range []string{`\\.\`, `\\?\`} {
		if !strings.HasPrefix(name, p) {
			continue
		}
		rest := strings.TrimSuffix(name[len(p):], `\`)
		if len(rest) == 2 && rest[1] == ':' && (rest[0]|0x20) >= 'a' && (rest[0]|0x20) <= 'z' {
			return true
		}
		return len(rest) > 7 && strings.EqualFold(rest[:7], "volume{")
	}
	return false
}

// discoverDrives lists disks 0..max-1 through probe, leaving out the
// disks in excluded (number -> reason) and empty drives. Disks that do not
// exist are neither listed nor skipped; any other failure to describe a
// disk is reported as skipped with its reason.
func discoverDrives(probe driveProber, excluded map[uint32]string, max uint32) ([]Disk, []Skipped) {
	var disks []Disk
	var skipped []Skipped
	for n := uint32(0); n < max; n++ {
		name := fmt.Sprintf("PhysicalDrive%d", n)
		d, err := probe.Describe(n)
		if errors.Is(err, errNoDrive) {
			continue
		}
		if why, ok := excluded[n]; ok {
			skipped = append(skipped, Skipped{Name: name, Reason: why})
			continue
		}
		if err != nil {
			skipped = append(skipped, Skipped{Name: name, Reason: err.Error()})
			continue
		}
		if d.Size == 0 {
			skipped = append(skipped, Skipped{Name: name, Reason: "no medium (size 0)"})
			continue
		}
		disks = append(disks, d)
	}
	sort.SliceStable(disks, func(i, j int) bool {
		a, _ := parsePhysicalDrive(disks[i].Name)
		b, _ := parsePhysicalDrive(disks[j].Name)
		return a < b
	})
	return disks, skipped
}

// excludedByName maps the disk numbers named in DiscoverOptions.Exclude
// (PhysicalDriveN, \\.\PhysicalDriveN) to a reason.
func excludedByName(names []string, into map[uint32]string) {
	for _, e := range names {
		if n, ok := parsePhysicalDrive(e); ok {
			into[n] = "boot medium (excluded by the caller)"
		}
	}
}
