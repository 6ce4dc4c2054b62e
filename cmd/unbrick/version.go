package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/unbrick/unbrick/internal/exitcode"
)

// version is set at build time by scripts/build-static.sh
// (-ldflags "-X main.version=..."); "dev" otherwise.
var version = "dev"

// toolVersion returns the version string recorded in logs and printed by
// `unbrick version`: the build-time version plus the VCS revision when the
// Go toolchain embedded one.
func toolVersion() string {
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 && v == "dev" {
				v += "+" + s.Value[:12]
			}
		}
	}
	return v
}

func runVersion(e *env, args []string) int {
	if len(args) > 0 {
		fmt.Fprintln(e.Stderr, "usage: unbrick version")
		return exitcode.Usage
	}
	fmt.Fprintf(e.Stdout, "unbrick %s (%s, %s/%s)\n", toolVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return exitcode.OK
}
