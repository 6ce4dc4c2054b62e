package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at build time by scripts/build-static.sh
// (-ldflags "-X main.version=..."); when it is not, the version comes from
// the build information the Go toolchain embeds (buildInfoVersion).
var version = "dev"

// toolVersion returns the version string recorded in logs and printed by
// `unbrick version`.
func toolVersion() string {
	bi, _ := debug.ReadBuildInfo()
	return versionOf(version, bi).String()
}

// versionInfo is what unbrick knows of its own version.
type versionInfo struct {
	Version  string // -X main.version, else the module version, else "dev"
	Revision string // vcs.revision: the commit built
	Modified bool   // vcs.modified: the work tree had uncommitted changes
}

// String is the version as logs record it: the -X version as given; else
// the module version, which for a build from a git checkout is a
// pseudo-version naming the commit (v0.0.0-20260101120000-0123456789ab,
// "+dirty" when modified); else "dev", with "+" and the revision's first 12
// hex digits (and "+dirty") when the toolchain recorded one.
func (v versionInfo) String() string {
	s := v.Version
	if s == "dev" && v.Revision != "" {
		s += "+" + v.Revision[:min(12, len(v.Revision))]
		if v.Modified {
			s += "+dirty"
		}
	}
	return s
}

// versionOf works out the version from the -X value (ldflag) and the build
// information (nil when there is none). A -X value other than "dev" wins.
func versionOf(ldflag string, bi *debug.BuildInfo) versionInfo {
	v := versionInfo{Version: ldflag}
	if v.Version == "" {
		v.Version = "dev"
	}
	if bi == nil {
		return v
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	if v.Version == "dev" {
		if mv := bi.Main.Version; mv != "" && mv != "(devel)" {
			v.Version = mv
		}
	}
	return v
}

// versionLine is what `unbrick version` (and --version) prints.
func versionLine() string {
	bi, _ := debug.ReadBuildInfo()
	v := versionOf(version, bi)
	s := fmt.Sprintf("unbrick %s (", v)
	if v.Revision != "" {
		s += "revision " + v.Revision
		if v.Modified {
			s += ", modified"
		}
		s += "; "
	}
	return s + fmt.Sprintf("%s, %s/%s)", runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

func newVersionCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "print the unbrick version",
		Long: `Prints the unbrick version, the commit it was built from (when the Go
toolchain recorded one), the Go toolchain and the platform. The version is
the one scripts/build-static.sh gives (git describe), else the module
version from the build information (a pseudo-version naming the commit when
built from a git checkout), else "dev".`,
		Example: "  unbrick version",
		Args:    args(),
		RunE: func(*cobra.Command, []string) error {
			fmt.Fprintln(e.Stdout, versionLine())
			return nil
		},
	}
}
