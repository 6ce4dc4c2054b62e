// Package image builds the bootable unbrick USB stick image, a bootable ISO
// and a LOGS disk to go with it, without root, loop devices or mkfs: GPT,
// FAT and ISO 9660 are written by go-diskfs v1.9.4 into a regular file, the
// initramfs by u-root's newc cpio writer.
//
// API (usable now): LoadBootChain(dir) checks a boot chain fetched by
// scripts/fetch-bootchain.sh; CheckBootChain reports and checks its Secure
// Boot signatures and SBAT generations (below); Build(Options) writes the image
// Options.Format names (FormatUSB, FormatISO, FormatLogs); OpenStick
// reads the LOGS partition of a stick, a stick image or a LOGS disk back (List, ReadFile);
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
// partition name (PARTNAME= in /sys/class/block/*/uevent), on any disk.
//
// # LOGS disk (FormatLogs)
//
//	LBA 0         protective MBR
//	LBA 1-33      primary GPT
//	LBA 2048-     partition 1 "LOGS", type Microsoft basic data, label UNBRICK,
//	              16 MiB or --logs-size: written by the same code as the stick's
//	              partition 2 (builder.writeLogs), so the same files
//	last 1 MiB    backup GPT
//
// It goes beside the ISO: a second virtual disk of a VM, or written to a
// USB stick. The boot-time code finds it as it finds the stick's LOGS
// (by GPT name, on whichever disk holds it) and never offers that disk to
// fix; OpenStick finds it by the same name, so `unbrick image logs` reads
// both.
//
// # ISO image (FormatISO)
//
// ISO 9660 (ECMA-119, 2nd edition): 2048-byte logical blocks; blocks 0-15
// are the system area (zero here); the volume descriptor set starts at
// block 16: the primary volume descriptor (8.4: type 1, "CD001", volume
// space size at byte 80, logical block size at byte 128), the boot record
// (8.2: type 0), the terminator (type 255). File names in
// the ECMA-119 directory records are upper case 8.3 with ";1"; Rock Ridge
// (RRIP 1.12, over SUSP) records carry the real names, which Linux, xorriso
// and grub read. The tree, as go-diskfs lays it out:
//
//	/EFI/BOOT/BOOTX64.EFI, grubx64.efi, mmx64.efi    as on the ESP
//	/EFI/debian/grub.cfg                            as on the ESP
//	/boot/vmlinuz, /boot/initrd.gz                  as on the ESP
//	/boot/efi.img                                   the EFI boot image (below)
//	/README.txt                                     "as a CD it needs a LOGS disk; as a stick, not"
//	boot catalog                                    hidden (not in any directory)
//
// El Torito ("El Torito" Bootable CD-ROM Format Specification 1.0, Phoenix
// and IBM, 1995): the boot record volume descriptor holds the boot system
// identifier "EL TORITO SPECIFICATION" (byte 7) and the block of the boot
// catalog (byte 0x47). The catalog starts with the validation entry
// (header ID 1, platform ID, a checksum making the 16-bit words sum to 0,
// key bytes 55 AA at 0x1E) and the initial/default entry (0x88 =
// bootable, media type 0 = no emulation, sector count in 512-byte virtual
// sectors at byte 6, load RBA in 2048-byte blocks at byte 8). Platform ID
// 0xEF is EFI, added by the UEFI specification (2.10: "File System
// Format", "Partition Discovery", "ISO-9660 and El Torito"): the image
// such an entry names is an EFI system partition, a FAT volume, and UEFI
// firmware boots \EFI\BOOT\BOOTX64.EFI from it as from any removable
// medium (UEFI specification, "Removable Media Boot Behavior"). Our
// catalog has that one entry; the platform sits in the validation entry,
// as for xorriso's "-e" images without a BIOS entry.
//
// The EFI boot image is a FAT volume without partition table holding the
// same files as the stick's ESP, sized to its content + 5% + 2 MiB (at
// least 8 MiB; the CD is read-only, no room for a later kernel is
// needed), so a usual chain stays under 32 MiB: the sector count is 16
// bits, at most 0xFFFF sectors. A larger image (--esp-fat32: 40 MiB
// FAT32) gets count 0 from go-diskfs; EDK2's partition driver (OVMF and
// most PC firmware) then takes the image up to the end of the medium,
// and the FAT volume's own size bounds it.
//
// How it boots from a CD: the firmware exposes the boot image as a
// partition of the CD (UEFI specification, "Media Device Path", CD-ROM
// Media Device Path: boot entry, partition start and size), reads it
// with its FAT driver and starts shim, which starts grubx64.efi from the
// same directory. grub then looks up the loaded image's device: its
// partition maps do not include El Torito, so it finds no partition
// matching the CD-ROM node and takes the whole CD (cd0, ISO 9660) as its
// device. The built-in prefix /EFI/debian therefore resolves on the ISO
// 9660 tree, which is why grub.cfg, the kernel and the initramfs are in
// the tree as well as in the boot image. Checked by
// scripts/e2e-iso-qemu.sh (OVMF, Secure Boot on, the ISO on a SATA
// CD-ROM).
//
// At boot the CD is never a fix target: the initramfs loads no CD
// driver (sr_mod), and the victim list skips sr* and read-only devices
// anyway.
//
// # Hybrid ISO
//
// The same file is also a USB disk image. ISO 9660 leaves its system
// area (blocks 0-15, the first 32 KiB) to the medium's own use
// (ECMA-119 6.2.1), and go-diskfs writes zeros there; after the ISO is
// finished, makeHybrid puts a GPT in it (UEFI specification 2.10, "GUID
// Partition Table (GPT) Disk Layout": protective MBR in sector 0, header
// in sector 1, 128 entries of 128 bytes in sectors 2-33, all 512-byte
// sectors, so the table ends at byte 17408) and appends to the file:
//
//	0 ... volume end        the ISO 9660 volume (El Torito boot image inside)
//	1 MiB aligned           LOGS partition (--logs-size), as on the stick
//	last 1 MiB              backup GPT entries and header (last sector)
//
// Partition 1 (type EFI System, name ESP) covers the El Torito boot image
// where it lies, block ImageLBA of 2048 bytes = sector 4*ImageLBA: the
// same FAT volume serves both views and is written once. Partition 2
// (Microsoft basic data, name LOGS) is the stick's LOGS volume, with the
// keys, rules and settings given to the build. A CD drive reads with
// 2048-byte sectors, so there "sector 1" is bytes 2048-4095 (zero): no
// GPT, and firmware and Linux see only ISO 9660 and El Torito; the LOGS
// partition is then invisible and a LOGS disk or the network is needed.
// A disk reads with 512-byte sectors: firmware finds the GPT, boots
// \EFI\BOOT\BOOTX64.EFI from partition 1, grub's prefix resolves on that
// FAT (which holds grub.cfg, kernel and initramfs too), and unbrick finds
// LOGS by its GPT name as on a stick. The backup header's place is in the
// primary header (AlternateLBA), so a stick larger than the file reads
// the same (firmware and Linux follow it; Linux notes it is not at the
// end). No partition covers the ISO 9660 volume as a whole: GPT
// partitions must not overlap, and nothing needs one. makeHybrid reads the
// El Torito entry and the boot image's FAT back after writing the GPT.
// Checked with sgdisk -v, sfdisk, xorriso and mtools (iso_test.go) and
// booted both ways, as a CD and copied to a larger USB stick, with Secure
// Boot on (scripts/ci-netboot.sh).
//
// # Secure Boot check of the boot chain (CheckBootChain)
//
// unbrick image build runs it after LoadBootChain and prints its report;
// a refusal (exit 4) stops the build before anything is written.
//
// Signatures. The certificate table of a PE image is found through data
// directory 4 of the optional header, whose first field is a file offset,
// not an RVA; it is a run of WIN_CERTIFICATE entries (dwLength including
// the 8-byte header, wRevision 0x0200, wCertificateType 2 =
// WIN_CERT_TYPE_PKCS_SIGNED_DATA), each starting on a quadword (8-byte)
// boundary (Microsoft, "PE Format", section "The Attribute Certificate
// Table (Image Only)", learn.microsoft.com/en-us/windows/win32/debug/pe-format).
// Each entry holds a PKCS#7 SignedData (RFC 2315 section 9; CMS, RFC 5652
// section 5) whose content is Authenticode's SpcIndirectDataContent
// (1.3.6.1.4.1.311.2.1.4) with the image digest: the file hashed without
// the CheckSum field, without data directory 4 and without the table
// itself (Microsoft, "Windows Authenticode Portable Executable Signature
// Format"). Some signing tools (osslsigncode -nest, signtool /as) put a
// further signature inside the first one instead, as its unauthenticated
// attribute 1.3.6.1.4.1.311.2.4.1; both forms are read. PE headers and
// sections are parsed by Go's debug/pe, the SignedData by
// github.com/smallstep/pkcs7 (which also checks the signer's signature
// and the messageDigest attribute); the table walk and the image digest
// are ours, and tests check them against sbverify and osslsigncode.
//
// Debian 12's shim-signed 1.51~1+deb12u1+16.1-2~deb12u1 (shim 16.1)
// carries its two signatures as two table entries (0x2640 and 0x2568
// bytes). sbverify --list (sbsigntool 0.9.4) shows: signature 1, issuer
// "Microsoft Corporation UEFI CA 2011", signer "Microsoft Windows UEFI
// Driver Publisher" (the CA's certificate, issued by "Microsoft
// Corporation Third Party Marketplace Root", is included); signature 2,
// issuer "Microsoft UEFI CA 2023", signer "Microsoft UEFI CA 2023 signer"
// (CA certificate issued by "Microsoft RSA Devices Root CA 2021").
// osslsigncode 2.9 reads only one entry and calls that table corrupted.
// Firmware starts shim when a signature chains to a CA in its db: one
// holding only the 2011 CA needs the first signature, one holding only the
// 2023 CA (new machines) the second. Microsoft says the 2011 CA's expiry
// in June 2026 does not revoke what it signed: firmware whose db keeps it
// goes on trusting those binaries ("Signing with the new 2023 Microsoft
// UEFI certificates", Microsoft Tech Community, 22 September 2025). A
// shim with one of the two signatures is reported with a warning naming
// the firmware that refuses it; one with neither is refused.
//
// Shim starts grub only when grub's signature chains to the certificate
// built into shim: section .vendor_cert, four 32-bit fields (sizes of the
// authorized and deauthorized blobs, then their offsets from the section
// start) and the blobs (shim's cert.S). Debian's is "Debian Secure Boot
// CA"; grub is signed by "Debian Secure Boot Signer 2022 - grub2".
//
// SBAT. Section .sbat of shim and grub is CSV text, one component per
// line: component_name, component_generation, vendor_name,
// vendor_package_name, vendor_version, vendor_url; the first line is the
// format's own "sbat,1,..." (shim's SBAT.md, github.com/rhboot/shim).
// Debian 12: shim "shim,4" and "shim.debian,1"; grub "grub,5",
// "grub.debian,5", "grub.debian12,1". A revocation payload (the UEFI
// variable SbatLevel) is "sbat,1,DATE" and component,generation lines;
// shim refuses a binary with a component of the same name and a lower
// generation (shim's sbat.c). The published payloads (shim's
// SbatLevel_Variable.txt, last changed in commit 13ab598c, July 2025) are
// KnownSbatLevels: 2022052400 shim,2 grub,2; 2022111500 shim,2 grub,3;
// 2023012900 shim,2 grub,3 grub.debian,4; 2023012950 shim,3 grub,3
// grub.debian,4; 2023091900 shim,2 grub,4; 2024010900 shim,4 grub,3
// grub.debian,4; 2024040900 shim,4 grub,4 grub.peimage,2; 2025021800
// shim,4 grub,5; 2025051000 shim,4 grub,5 grub.proxmox,2. Shim 15.7 and
// later also carry two payloads in section .sbatlevel (a 32-bit format
// version 0, the offsets of the "automatic" and "latest" payloads counted
// from the end of the version field, each NUL-terminated; shim's
// sbat_var.S): it applies the automatic one itself and the latest one
// after "mokutil --set-sbat-policy latest" (shim's
// Delivering_Sbat_Revocations.md). Debian's shim 16.1: automatic
// 2025021800, latest 2025051000. The check takes, for each component of
// shim and grub, the highest generation any known payload (ours or
// shim's) requires and refuses a lower one, naming the component, both
// generations, the payload's date and the Debian package to update
// (shim-signed, grub-efi-amd64-signed).
//
// # Initramfs (gzip newc cpio)
//
//	/init                      the static unbrick binary (boot-time mode when PID 1)
//	/dev/console               character device 5:1
//	/lib/modules/REL/NAME.ko   modules, uncompressed (compressed ones are unpacked at build time)
//	/etc/unbrick/modules       module paths in load order (dependencies first, from modinfo
//	                           depends= and softdep=; modules.dep is not in the Debian package)
//	/etc/unbrick/build.conf    key=value: version, kernel, build time, keys sealed|plaintext
//	/etc/unbrick/ca.pem        CA certificates pinned with --ca (only then)
//	/bin/busybox, /bin/sh      only for --after shell
//
// # Network boot tree (BuildNetboot)
//
// PXE: a UEFI client announces its architecture in DHCP option 93 (RFC 4578
// section 2.1; IANA "Processor Architecture Types": 7 and 9 are x64 UEFI,
// 16 x64 UEFI HTTP) and loads the boot file the offer names (option 67 or
// the BOOTP file field, RFC 2132 section 9.5) over TFTP (RFC 1350, with the
// blksize and tsize options of RFC 2348 and 2349) from the next server.
// UEFI HTTP boot (UEFI specification 2.10, section 24.7 "HTTP Boot") takes a
// URL as the boot file and requires the offer to carry the vendor class
// identifier "HTTPClient" (option 60). Either way the firmware checks shim's
// signature against db as for a disk boot. Shim loads its second stage,
// grubx64.efi, from the same directory through the protocol it was loaded
// with (shim's README, "netboot"). Debian's signed grubnetx64.efi (package
// grub-efi-amd64-signed) is a grub image with the network modules built in,
// an embedded configuration that sources $prefix/grub.cfg, and the built-in
// prefix /grub; started over the network its root is the server it came
// from, so grub/grub.cfg and the paths it names are read from there (GNU
// GRUB manual, "Network"). The tree therefore holds shim as bootx64.efi,
// grubnetx64 as grubx64.efi, grub/grub.cfg, unbrick/vmlinuz and
// unbrick/initrd.gz, plus an iPXE script (iPXE's "kernel"/"initrd"/"boot"
// commands and its ${cwduri} setting), README.txt and SHA256SUMS.
//
// The kernel command line carries unbrick.config=URL. A parameter with a
// dot is taken by the kernel as a module parameter and not passed to init
// (Documentation/admin-guide/kernel-parameters.rst, "module.parameter"),
// so the boot-time code reads /proc/cmdline. The URL is single-quoted in
// grub.cfg and may not contain a space, quote, backslash, $ or ; (grub's
// script syntax and the kernel's word splitting).
//
// # go-diskfs v1.9.4 guard rails
//
// FAT type follows the FAT specification's cluster count rule (checkFAT reads
// the boot sector back: no "FAT32" under 65525 clusters, FAT big enough for
// every cluster, diskfs/go-diskfs#418); fixupFAT corrects the ".." entries of
// directories under the root, the leaked cluster 2 of FAT16 volumes and the
// hidden-sectors field, so fsck.fat -n finds nothing. ISO: Finalize deletes
// the workspace directory it is given (a private temporary directory here)
// and writes the volume into a file of the size given at creation, so the
// file is cut to the volume size the primary volume descriptor records;
// finishISO reads the boot record, the catalog and the boot image's FAT
// boot sector back before the image is renamed into place. Each file is written with
// one Write call (go-diskfs is quadratic in small writes); file reads are cut
// to the directory entry size (go-diskfs returns bytes past the end).
package image
