package disk

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// fakeVolumes is a volumeAPI over a fixed table.
type fakeVolumes struct {
	order  []string
	ext    map[string][]diskExtent
	mounts map[string][]string
	files  map[string]string // path -> volume
	err    error             // from Volumes
}

func (f *fakeVolumes) Volumes() ([]string, error) { return f.order, f.err }
func (f *fakeVolumes) Extents(v string) ([]diskExtent, error) {
	e, ok := f.ext[v]
	if !ok {
		return nil, errors.New("not a disk volume")
	}
	return e, nil
}
func (f *fakeVolumes) MountPoints(v string) []string { return f.mounts[v] }
func (f *fakeVolumes) VolumeOf(p string) (string, error) {
	v, ok := f.files[p]
	if !ok {
		return "", errors.New("not on a local volume")
	}
	return v, nil
}

// fakeLocker records lock and release calls; refuse names volumes whose
// lock is refused.
type fakeLocker struct {
	log    []string
	refuse map[string]bool
}

func (l *fakeLocker) LockAndDismount(v string) (func() error, error) {
	if l.refuse[v] {
		l.log = append(l.log, "refused "+v)
		return nil, errors.New("Access is denied.")
	}
	l.log = append(l.log, "lock "+v)
	return func() error { l.log = append(l.log, "release "+v); return nil }, nil
}

const mib = 1 << 20

// A system like a rescue PC: disk 0 holds C: (Windows), disk 1 is the
// broken disk with an EFI partition (no letter), the Windows volume E:
// and a recovery partition; volume S spans disks 1 and 2; the optical
// drive has no extents.
func testVolumes() *fakeVolumes {
	return &fakeVolumes{
		order: []string{`\\?\Volume{c}\`, `\\?\Volume{cd}\`, `\\?\Volume{efi}\`, `\\?\Volume{e}\`, `\\?\Volume{rec}\`, `\\?\Volume{s}\`},
		ext: map[string][]diskExtent{
			`\\?\Volume{c}\`:   {{0, 1 * mib, 100000 * mib}},
			`\\?\Volume{efi}\`: {{1, 1 * mib, 100 * mib}},
			`\\?\Volume{e}\`:   {{1, 117 * mib, 50000 * mib}},
			`\\?\Volume{rec}\`: {{1, 50117 * mib, 600 * mib}},
			`\\?\Volume{s}\`:   {{2, 1 * mib, 10 * mib}, {1, 60000 * mib, 10 * mib}},
		},
		mounts: map[string][]string{`\\?\Volume{c}\`: {`C:\`}, `\\?\Volume{e}\`: {`E:\`, `C:\mnt\broken\`}},
		files:  map[string]string{`C:\Windows`: `\\?\Volume{c}\`, `D:\unbrick.exe`: `\\?\Volume{s}\`},
	}
}

func TestExtentOverlaps(t *testing.T) {
	e := diskExtent{Disk: 1, Start: 100, Length: 50} // bytes 100..149
	for _, c := range []struct {
		disk          uint32
		start, length int64
		want          bool
	}{
		{1, 0, 100, false},                // ends just before
		{1, 0, 101, true},                 // last byte of the range is the first of the extent
		{1, 149, 1, true},                 // last byte of the extent
		{1, 150, 10, false},               // starts just after
		{1, 120, 5, true},                 // inside
		{1, 0, 1 << 62, true},             // covers it
		{2, 100, 50, false},               // other disk
		{1, 100, 0, false},                // empty range
		{1, 1<<63 - 10, 1<<63 - 1, false}, // would overflow
	} {
		if got := extentOverlaps(e, c.disk, c.start, c.length); got != c.want {
			t.Errorf("disk %d [%d,+%d): %v, want %v", c.disk, c.start, c.length, got, c.want)
		}
	}
	if extentOverlaps(diskExtent{1, 0, 0}, 1, 0, 10) {
		t.Error("empty extent overlaps")
	}
}

func TestVolumesOnRange(t *testing.T) {
	api := testVolumes()
	names := func(v []volumeOnRange) (out []string) {
		for _, x := range v {
			out = append(out, x.Volume)
		}
		return out
	}
	all, err := volumesOnRange(api, 1, 0, 1<<40)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{`\\?\Volume{efi}\`, `\\?\Volume{e}\`, `\\?\Volume{rec}\`, `\\?\Volume{s}\`}; !reflect.DeepEqual(names(all), want) {
		t.Errorf("whole disk 1: %q, want %q", names(all), want)
	}
	// The Windows partition alone: E: only, with its mount points.
	part, _ := volumesOnRange(api, 1, 117*mib, 50000*mib)
	if len(part) != 1 || part[0].Volume != `\\?\Volume{e}\` || !reflect.DeepEqual(part[0].MountPoints, []string{`E:\`, `C:\mnt\broken\`}) {
		t.Errorf("partition: %+v", part)
	}
	if none, _ := volumesOnRange(api, 7, 0, 1<<40); len(none) != 0 {
		t.Errorf("disk 7: %+v", none)
	}
	api.err = errors.New("boom")
	if _, err := volumesOnRange(api, 1, 0, 1); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("Volumes error: %v", err)
	}
}

func TestLockVolumeRange(t *testing.T) {
	api := testVolumes()
	lk := &fakeLocker{}
	unlock, err := lockVolumeRange(api, lk, 1, 0, 1<<40)
	if err != nil {
		t.Fatal(err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`lock \\?\Volume{efi}\`, `lock \\?\Volume{e}\`, `lock \\?\Volume{rec}\`, `lock \\?\Volume{s}\`,
		`release \\?\Volume{s}\`, `release \\?\Volume{rec}\`, `release \\?\Volume{e}\`, `release \\?\Volume{efi}\`,
	}
	if !reflect.DeepEqual(lk.log, want) {
		t.Errorf("calls:\n%q\nwant\n%q", lk.log, want)
	}

	// E: has an open file: refused, the EFI volume locked before it is
	// given back, and the message names E: and says what to do.
	lk = &fakeLocker{refuse: map[string]bool{`\\?\Volume{e}\`: true}}
	_, err = lockVolumeRange(api, lk, 1, 0, 1<<40)
	var vie *VolumeInUseError
	if !errors.As(err, &vie) || vie.Volume != `\\?\Volume{e}\` || vie.Disk != 1 {
		t.Fatalf("err = %v, want a *VolumeInUseError for E:", err)
	}
	for _, s := range []string{`E:\`, `C:\mnt\broken\`, "PhysicalDrive1", "Access is denied", "close every program"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("message %q lacks %q", err, s)
		}
	}
	if want := []string{`lock \\?\Volume{efi}\`, `refused \\?\Volume{e}\`, `release \\?\Volume{efi}\`}; !reflect.DeepEqual(lk.log, want) {
		t.Errorf("calls %q, want %q", lk.log, want)
	}
	if errors.Is(err, ErrBusy) {
		t.Error("an open file is reported as another unbrick run")
	}
}

func TestSystemDisks(t *testing.T) {
	api := testVolumes()
	got, err := systemDisks(api, []bootPath{
		{Path: `C:\Windows`, Why: "windows", Required: true},
		{Path: `D:\unbrick.exe`, Why: "exe"},
		{Path: `\\server\share\unbrick.exe`, Why: "share"}, // not on a local volume: ignored
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[uint32]string{0: "windows", 1: "exe", 2: "exe"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	// The running Windows' disk cannot be found: an error, not "no disk".
	_, err = systemDisks(api, []bootPath{{Path: `X:\Windows`, Why: "windows", Required: true}})
	if err == nil || !strings.Contains(err.Error(), `X:\Windows`) {
		t.Errorf("unfound system root: %v", err)
	}
	// Its volume has no extents (e.g. a RAM disk): also an error.
	api.files[`R:\Windows`] = `\\?\Volume{cd}\`
	if _, err := systemDisks(api, []bootPath{{Path: `R:\Windows`, Required: true}}); err == nil {
		t.Error("system root without extents accepted")
	}
}

func TestParsePhysicalDrive(t *testing.T) {
	for in, want := range map[string]int{
		`\\.\PhysicalDrive0`:     0,
		`\\.\physicaldrive12`:    12,
		`\\?\PhysicalDrive3`:     3,
		`PhysicalDrive63`:        63,
		`//./PhysicalDrive1`:     1,
		`\\.\PhysicalDrive`:      -1,
		`\\.\PhysicalDrive01`:    -1,
		`\\.\PhysicalDrive-1`:    -1,
		`\\.\PhysicalDrive1a`:    -1,
		`\\.\PhysicalDrive99999`: -1,
		`\\.\C:`:                 -1,
		`/dev/sda`:               -1,
		`disk.img`:               -1,
	} {
		n, ok := parsePhysicalDrive(in)
		if (want < 0) == ok || (ok && int(n) != want) {
			t.Errorf("%s: %d %v, want %d", in, n, ok, want)
		}
	}
	if p := physicalDrivePath(4); p != `\\.\PhysicalDrive4` {
		t.Errorf("path %s", p)
	}
}

func TestIsWindowsVolumePath(t *testing.T) {
	for in, want := range map[string]bool{
		`\\.\C:`:  true,
		`\\.\e:\`: true,
		`\\?\Volume{0b1c2d3e-0000-0000-0000-100000000000}\`: true,
		`\\.\PhysicalDrive1`: false,
		`C:\disk.img`:        false,
		`\\.\1:`:             false,
		`\\server\share\x`:   false,
	} {
		if got := isWindowsVolumePath(in); got != want {
			t.Errorf("%s: %v, want %v", in, got, want)
		}
	}
}

// fakeProber has disks 0, 1, 3 and 5 (2 and 4 missing); 5 is empty and
// opening 6 is denied.
type fakeProber struct{ asked []uint32 }

func (p *fakeProber) Describe(n uint32) (Disk, error) {
	p.asked = append(p.asked, n)
	name := fmt.Sprintf("PhysicalDrive%d", n)
	d := Disk{Name: name, Path: physicalDrivePath(n), Size: 1 << 30, LogicalSectorSize: 512}
	switch n {
	case 0, 1, 3:
		return d, nil
	case 5:
		d.Size = 0
		return d, nil
	case 6:
		return d, errors.New("open: Access is denied. (run unbrick.exe as administrator)")
	}
	return d, errNoDrive
}

func TestDiscoverDrives(t *testing.T) {
	p := &fakeProber{}
	excl := map[uint32]string{0: "the disk Windows runs from"}
	excludedByName([]string{`\\.\PhysicalDrive3`, "sdb", "PhysicalDriveX"}, excl)
	disks, skipped := discoverDrives(p, excl, 8)
	if len(p.asked) != 8 {
		t.Errorf("probed %v: a gap must not end the scan", p.asked)
	}
	if len(disks) != 1 || disks[0].Name != "PhysicalDrive1" || disks[0].Path != `\\.\PhysicalDrive1` {
		t.Errorf("disks %+v", disks)
	}
	want := []Skipped{
		{"PhysicalDrive0", "the disk Windows runs from"},
		{"PhysicalDrive3", "boot medium (excluded by the caller)"},
		{"PhysicalDrive5", "no medium (size 0)"},
		{"PhysicalDrive6", "open: Access is denied. (run unbrick.exe as administrator)"},
	}
	if !reflect.DeepEqual(skipped, want) {
		t.Errorf("skipped\n%+v\nwant\n%+v", skipped, want)
	}
}

func TestBootPathsFor(t *testing.T) {
	got := bootPathsFor(`C:\Windows`, `C:\Tools\unbrick.exe`, false)
	if len(got) != 2 || !got[0].Required || got[1].Required || got[0].Path != `C:\Windows` {
		t.Fatalf("installed Windows: %+v", got)
	}
	pe := bootPathsFor(`X:\windows`, `X:\unbrick\unbrick.exe`, true)
	if len(pe) != 2 || pe[0].Required {
		t.Fatalf("WinPE: the RAM disk must not be required: %+v", pe)
	}
	// On WinPE, a system root on no disk does not stop discovery.
	api := &fakeVolumes{files: map[string]string{`X:\windows`: "ram", `C:\Windows`: "sys"}, ext: map[string][]diskExtent{}}
	if _, err := systemDisks(api, pe); err != nil {
		t.Fatalf("WinPE: %v", err)
	}
	if _, err := systemDisks(api, got); err == nil {
		t.Fatal("installed Windows whose system disk cannot be found: must refuse")
	}
}
