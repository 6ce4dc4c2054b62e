// Package remedytest holds test fixtures shared by the tests of the
// remediation engine (internal/remedy) and its front ends (cmd/unbrick's
// fix and wizard tests). It is never imported by the product.
package remedytest

import (
	"encoding/binary"
	"fmt"
	"math/bits"
)

// UncleanRestartPage builds a $LogFile restart page of an unclean version
// 1.1 journal (one log client "NTFS" in use, clean flag clear), as Windows 7
// leaves it after a crash, for a $LogFile of fileSize bytes. Layout:
// ntfs-3g include/ntfs-3g/logfile.h (RESTART_PAGE_HEADER, RESTART_AREA,
// LOG_CLIENT_RECORD).
func UncleanRestartPage(fileSize int64) []byte {
	const pageSize, raOff, caOff = 4096, 0x30, 0x40
	b := make([]byte, pageSize)
	le := binary.LittleEndian
	copy(b, "RSTR")
	le.PutUint16(b[0x04:], 0x1E)           // update sequence array offset
	le.PutUint16(b[0x06:], 1+pageSize/512) // update sequence array count
	le.PutUint32(b[0x10:], pageSize)       // system page size
	le.PutUint32(b[0x14:], pageSize)       // log page size
	le.PutUint16(b[0x18:], raOff)          // restart area offset
	le.PutUint16(b[0x1A:], 1)              // minor version
	le.PutUint16(b[0x1C:], 1)              // major version
	ra := b[raOff:]
	le.PutUint64(ra[0x00:], 0x5a3c10) // current LSN
	le.PutUint16(ra[0x08:], 1)        // log clients
	le.PutUint16(ra[0x0A:], 0xFFFF)   // free list: none
	le.PutUint16(ra[0x0C:], 0)        // in-use list: client 0
	le.PutUint16(ra[0x0E:], 0)        // flags: not clean
	le.PutUint32(ra[0x10:], uint32(67-bits.Len64(uint64(fileSize))))
	le.PutUint16(ra[0x14:], caOff+0xA0) // restart area length
	le.PutUint16(ra[0x16:], caOff)      // client array offset
	le.PutUint64(ra[0x18:], uint64(fileSize))
	le.PutUint16(ra[0x24:], 0x30) // log record header length
	le.PutUint16(ra[0x26:], 0x40) // log page data offset
	le.PutUint32(ra[0x28:], 1)    // open count
	cl := ra[caOff:]
	le.PutUint64(cl[0x00:], 0x5a3b00) // oldest LSN
	le.PutUint64(cl[0x08:], 0x5a3b80) // client restart LSN
	le.PutUint16(cl[0x10:], 0xFFFF)   // previous client
	le.PutUint16(cl[0x12:], 0xFFFF)   // next client
	le.PutUint32(cl[0x1C:], 8)        // name length in bytes
	copy(cl[0x20:], []byte{'N', 0, 'T', 0, 'F', 0, 'S', 0})
	// Update sequence protection: the last two bytes of every 512-byte
	// stride move into the array and hold the sequence number instead.
	const usn = 1
	le.PutUint16(b[0x1E:], usn)
	for i := 1; i <= pageSize/512; i++ {
		tail := i*512 - 2
		copy(b[0x1E+2*i:], b[tail:tail+2])
		le.PutUint16(b[tail:], usn)
	}
	return b
}

// MakeUncleanJournal writes unclean restart pages (UncleanRestartPage)
// over both restart pages of the $LogFile of the plain NTFS volume at the
// given partition of the image img (the corpus journals are empty, all
// 0xFF), so that the volume looks like one Windows left after a crash.
func MakeUncleanJournal(img string, partition int) error {
	lf, err := openLogFile(img, partition)
	if err != nil {
		return err
	}
	defer lf.tg.Close()
	nv, sec, a := lf.nv, lf.vol, lf.data
	if a == nil || !a.NonResident || len(a.Runs) == 0 || a.Runs[0].Length*int64(nv.Boot().ClusterSize) < 8192 {
		return fmt.Errorf("$LogFile has no non-resident data of two pages")
	}
	start := a.Runs[0].LCN * int64(nv.Boot().ClusterSize)
	pg := UncleanRestartPage(a.DataSize)
	for _, off := range []int64{0, 4096} {
		if _, err := sec.WriteAt(pg, start+off); err != nil {
			return fmt.Errorf("write restart page at $LogFile offset %d: %w", off, err)
		}
	}
	return lf.tg.Sync()
}
