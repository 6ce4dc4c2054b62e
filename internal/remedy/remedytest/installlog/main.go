// Command installlog is a test tool for the end-to-end scripts: it writes a
// gzip-compressed $LogFile image (ntfs/testdata/journal/*.logfile.gz) over
// the $LogFile of the NTFS volume at a partition of a disk image, through
// BitLocker when the volume is encrypted, so that the disk looks like one a
// crashed Windows left with a journal to replay. Never part of the product.
//
//	go run ./internal/remedy/remedytest/installlog DISK.img PARTITION LOG.logfile.gz
//
// A BitLocker volume is unlocked with the recovery password in the
// environment variable UNBRICK_TEST_RECOVERY_PASSWORD (kept out of argv).
package main

import (
	"fmt"
	"os"
	"strconv"

	"github.com/unbrick/unbrick/bitlocker"
	"github.com/unbrick/unbrick/internal/remedy/remedytest"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: installlog DISK.img PARTITION LOG.logfile.gz (env UNBRICK_TEST_RECOVERY_PASSWORD for BitLocker)")
		os.Exit(2)
	}
	part, err := strconv.Atoi(os.Args[2])
	if err != nil || part < 0 {
		fmt.Fprintf(os.Stderr, "installlog: bad partition %q\n", os.Args[2])
		os.Exit(2)
	}
	var keys []bitlocker.Key
	if pw := os.Getenv("UNBRICK_TEST_RECOVERY_PASSWORD"); pw != "" {
		keys = append(keys, bitlocker.RecoveryPassword(pw))
	}
	if err := remedytest.InstallLogFile(os.Args[1], part, os.Args[3], keys...); err != nil {
		fmt.Fprintf(os.Stderr, "installlog: %v\n", err)
		os.Exit(1)
	}
}
