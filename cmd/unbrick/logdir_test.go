package main

import (
	"errors"
	"testing"
)

func TestLogDirBeside(t *testing.T) {
	exe := func(p string, err error) func() (string, error) { return func() (string, error) { return p, err } }
	for _, c := range []struct {
		goos, exe string
		err       error
		want      string
	}{
		{"linux", "/usr/bin/unbrick", nil, "unbrick-logs"},
		{"windows", `E:\unbrick\unbrick.exe`, nil, `E:\unbrick\unbrick-logs`},
		{"windows", `D:\unbrick.exe`, nil, `D:\unbrick-logs`},
		{"windows", "", errors.New("no"), "unbrick-logs"},
		{"windows", "unbrick.exe", nil, "unbrick-logs"},
	} {
		if got := logDirBeside(c.goos, exe(c.exe, c.err)); got != c.want {
			t.Errorf("%s %q: got %q, want %q", c.goos, c.exe, got, c.want)
		}
	}
}

func TestDiscoverOptionsWindows(t *testing.T) {
	dir := t.TempDir()
	if o := discoverOptions("linux", dir); o.BootPaths != nil {
		t.Errorf("linux: %v", o.BootPaths)
	}
	if o := discoverOptions("windows", dir+"/unbrick/journal"); len(o.BootPaths) != 1 || o.BootPaths[0] != dir {
		t.Errorf("windows, journal dir not made yet: %v", o.BootPaths)
	}
	if o := discoverOptions("windows", ""); o.BootPaths != nil {
		t.Errorf("windows, no journal dir: %v", o.BootPaths)
	}
}
