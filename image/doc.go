// Package image builds the bootable unbrick USB stick image, without root,
// loop devices or mkfs: GPT and FAT are written by go-diskfs v1.9.4 into a
// regular file, the initramfs by u-root's newc cpio writer.
//
// API (usable now): LoadBootChain(dir) checks a boot chain fetched by
// scripts/fetch-bootchain.sh; Build(Options) writes the image; OpenStick
// reads the LOGS partition of an image or stick back (List, ReadFile);
// ParseConfig/Config.Render handle unbrick.conf; Seal/Unseal are the age
// passphrase sealing of key files; ResolveModules orders kernel modules.
//
// # Image layout (512-byte sectors)
//
//	LBA 0         protective MBR
//	LBA 1-33      primary GPT
//	LBA 2048-     partition 1 "ESP", type EFI System (C12A7328-...), FAT16 or FAT32
//	              by cluster count, label UNBRICK-EFI, sized to its content
//	              + 15% + 4 MiB (about 22-30 MiB; Options.ESPFat32: FAT32, >= 40 MiB):
//	                \EFI\BOOT\BOOTX64.EFI   shim, signed by Microsoft's UEFI CA 2011 and 2023
//	                \EFI\BOOT\grubx64.efi   grub, signed by Debian (loaded by shim)
//	                \EFI\BOOT\mmx64.efi     MokManager (shim wants it for MOK prompts)
//	                \EFI\debian\grub.cfg    timeout 0, hidden menu, console=ttyS0,115200 console=tty0
//	                \boot\vmlinuz           Debian-signed kernel
//	                \boot\initrd.gz         our initramfs (not signature-checked)
//	              never \EFI\BOOT\fbx64.efi: shim would run fallback, which writes NVRAM
//	              entries and resets the PC.
//	next          partition 2 "LOGS", type Microsoft basic data (so Windows mounts it),
//	              FAT16/FAT32 by cluster count, label UNBRICK, 16 MiB or --logs-size:
//	                unbrick.conf            key = value settings (Config), CRLF
//	                README.txt
//	                keys/NAME.age           key exports sealed with age (scrypt passphrase),
//	                keys/NAME               or plaintext with --plaintext-keys
//	                rules/NAME              rules file
//	                logs/                   engine records (unbrick.jsonl) and boot-TIME.txt/.log
//	                journal/                undo journals
//	last 1 MiB    backup GPT at the end
//
// The signed grub has the built-in prefix /EFI/debian, so grub.cfg there is
// found on the device grub was loaded from without any disk search. The
// boot-time code (cmd/unbrick/internal/bootmode) finds LOGS by its GPT
// partition name (PARTNAME= in /sys/class/block/*/uevent).
//
// # Initramfs (gzip newc cpio)
//
//	/init                      the static unbrick binary (boot-time mode when PID 1)
//	/dev/console               character device 5:1
//	/lib/modules/REL/NAME.ko   modules, uncompressed (compressed ones are unpacked at build time)
//	/etc/unbrick/modules       module paths in load order (dependencies first, from modinfo
//	                           depends= and softdep=; modules.dep is not in the Debian package)
//	/etc/unbrick/build.conf    key=value: version, kernel, build time, keys sealed|plaintext
//	/bin/busybox, /bin/sh      only for --after shell
//
// # go-diskfs v1.9.4 guard rails
//
// FAT type follows the FAT specification's cluster count rule (checkFAT reads
// the boot sector back: no "FAT32" under 65525 clusters, FAT big enough for
// every cluster, diskfs/go-diskfs#418); fixupFAT corrects the ".." entries of
// directories under the root, the leaked cluster 2 of FAT16 volumes and the
// hidden-sectors field, so fsck.fat -n finds nothing. Each file is written with
// one Write call (go-diskfs is quadratic in small writes); file reads are cut
// to the directory entry size (go-diskfs returns bytes past the end).
package image
