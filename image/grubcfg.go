package image

import "fmt"

// Paths on the ESP. The signed Debian grub has the built-in prefix
// /EFI/debian and reads grub.cfg from there first (boot-chain notes,
// "How the signed grub finds grub.cfg"); shim as \EFI\BOOT\BOOTX64.EFI loads
// grubx64.efi from its own directory. fbx64.efi is never shipped: shim would
// run the fallback, which writes NVRAM boot entries and resets the PC.
const (
	espShim    = "/EFI/BOOT/BOOTX64.EFI"
	espGrub    = "/EFI/BOOT/grubx64.efi"
	espMokMgr  = "/EFI/BOOT/mmx64.efi"
	espGrubCfg = "/EFI/debian/grub.cfg"
	espKernel  = "/boot/vmlinuz"
	espInitrd  = "/boot/initrd.gz"
)

// grubConfig returns grub.cfg: no menu, no wait, the kernel and initramfs
// from the device grub was loaded from (the ESP, the CD, or the TFTP/HTTP
// server of a network boot: grub's root). The last console= becomes
// /dev/console (the PC's screen); the serial console gets a copy for
// headless runs. extraCmdline starts with a space or is empty.
func grubConfig(kernel, initrd, extraCmdline string) []byte {
	return []byte(fmt.Sprintf(`set default=0
set timeout=0
set timeout_style=hidden
menuentry "unbrick" {
    linux %s %s%s
    initrd %s
}
`, kernel, kernelCmdline, extraCmdline, initrd))
}

// kernelCmdline is the kernel command line every boot format uses.
const kernelCmdline = "console=ttyS0,115200 console=tty0 panic=10 loglevel=4"

// configCmdline is the kernel command line part naming the settings URL
// (" unbrick.config='URL'"), or "" without one. The URL was checked by
// CheckFetchURL: no quote, space or grub special character.
func configCmdline(configURL string) string {
	if configURL == "" {
		return ""
	}
	return " '" + CmdlineConfig + "=" + configURL + "'"
}
