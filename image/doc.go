// Package image builds the bootable unbrick USB stick image, without root,
// loop devices or mkfs: GPT and FAT are written by go-diskfs v1.9.4 into a
// regular file, the initramfs by u-root's newc cpio writer.
//
// API (usable now): LoadBootChain(dir) checks a boot chain fetched by
// scripts/fetch-bootchain.sh; CheckBootChain reports and checks its Secure
// Boot signatures and SBAT generations (below); Build(Options) writes the image; OpenStick
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
