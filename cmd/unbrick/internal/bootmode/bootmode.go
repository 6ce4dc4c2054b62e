// Package bootmode is unbrick's boot-time mode: what the program does when
// the kernel of the unbrick USB stick starts it as /init. It brings up the
// machine (file systems, modules, consoles), finds the stick's LOGS
// partition, opens the sealed keys, runs the configured mode (the `fix`
// or `wizard` command line, through the CLI it is given), keeps a boot
// record and a screen transcript on the stick, and powers off, reboots or
// starts a shell.
//
// Network boot (unbrick.config=URL on the kernel command line, from image
// build --netboot or --config-url): a LOGS disk is optional; the network is
// brought up by DHCP (u-root's dhclient), the settings, keys and rules are
// fetched over https trusting only the CA built into the initramfs (or the
// ca the settings name), logs and undo journals live in /run until `unbrick
// ship` has sent them to log_url. The network also comes up on a stick or
// ISO run whose unbrick.conf names a receiver or a keys/rules address.
//
// The package lives under cmd/unbrick because it is part of the unbrick
// program, not a library: only its main package may import it (Go's
// internal rule), and it reaches the subcommands only through the CLI
// value main hands it, so it does not depend on how they are built.
//
// Nothing happens on import: main calls Detect before the command line
// is parsed and Main when Detect says Boot.
package bootmode

import (
	"io"
	"os"

	"github.com/unbrick/unbrick/image"
)

// Mode is how the program was started.
type Mode int

const (
	// Command is an ordinary command line (also as process 1 of a
	// container: `docker run ... unbrick scan`).
	Command Mode = iota
	// Boot is the kernel starting the program as /init of the USB image:
	// process 1 with argv[0] "/init".
	Boot
	// NotPID1 is argv[0] "/init" in a process other than 1: someone ran
	// the stick's init by hand. The caller refuses to run (exit 1).
	NotPID1
)

// NotPID1Message is what main prints, on standard error, for NotPID1.
const NotPID1Message = "unbrick: started as /init but not as process 1: boot-time mode only runs as the first process of the USB image"

// Detect tells from argv[0] and the process ID how the program was
// started. Both conditions are required for Boot, so that unbrick as
// process 1 of a container stays an ordinary command.
func Detect(argv0 string, pid int) Mode {
	if argv0 != "/init" {
		return Command
	}
	if pid != 1 {
		return NotPID1
	}
	return Boot
}

// CLI is what the boot-time mode needs of the command line program.
type CLI struct {
	// Version is the version recorded in the boot record and banner.
	Version string
	// Run runs an unbrick command line (such as "fix --keys F ... /dev/sda")
	// with the given standard streams and returns its exit code. When
	// stdout and stderr are the same writer, the output keeps its order.
	Run func(stdin io.Reader, stdout, stderr io.Writer, args []string) int
	// RegisterSecrets registers the secrets held by the environment
	// (the kernel passes unknown name=value parameters of its command
	// line to init) with the redactor, for the whole boot.
	RegisterSecrets func()
	// HasCommand reports whether this build has the subcommand name; the
	// boot-time mode hands over to fix and wizard only when they exist.
	HasCommand func(name string) bool
}

// FromStick reports whether unbrick runs as the unbrick stick's init:
// process 1, or inside its initramfs, which carries the build facts file.
func FromStick() bool {
	if os.Getpid() == 1 {
		return true
	}
	_, err := os.Stat(image.InitrdBuildInfo)
	return err == nil
}
