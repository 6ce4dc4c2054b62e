//go:build !linux

package bootmode

import (
	"fmt"
	"os"
)

// Main reports that the boot-time mode runs only on Linux (the USB
// stick's kernel) and exits 1.
func Main(cli CLI) {
	fmt.Fprintln(os.Stderr, "unbrick: the boot-time mode (/init of the USB stick) runs only on Linux")
	os.Exit(1)
}
