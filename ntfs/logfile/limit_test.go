package logfile_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/bits"
	"strings"
	"testing"

	"github.com/unbrick/unbrick/ntfs/logfile"
)

// claimSize rewrites both restart pages of log so that their restart
// areas give the journal's size as n (and the sequence number bits that
// go with it). The fields sit in the first 512-byte block, away from the
// update sequence words, so the pages stay valid.
func claimSize(t *testing.T, log []byte, n int64) []byte {
	t.Helper()
	out := append([]byte(nil), log...)
	for _, off := range []int{0, 4096} {
		pg := out[off:]
		ra := int(binary.LittleEndian.Uint16(pg[0x18:]))
		binary.LittleEndian.PutUint32(pg[ra+0x10:], uint32(67-bits.Len64(uint64(n))))
		binary.LittleEndian.PutUint64(pg[ra+0x18:], uint64(n))
	}
	return out
}

// TestLogFileSizeLimit: a journal above the size limit is refused with
// *TooLargeError, naming its size, the limit and what to do, before any
// log page is read; one at the limit is read. The real limit is crossed
// by a restart area claiming 1 GiB (nothing that big is read or held:
// the log pages are never asked for); the walk itself by lowering the
// limit under a generated 2 MiB journal.
func TestLogFileSizeLimit(t *testing.T) {
	log, lsns := genSample(2<<20, 4*4096+0x40, 5, 0).Build()

	huge := claimSize(t, log, 1<<30)
	_, err := logfile.ReadLogFile(bytes.NewReader(huge), 1<<30)
	var tl *logfile.TooLargeError
	if !errors.As(err, &tl) || tl.Size != 1<<30 || tl.Limit != logfile.MaxLogFileSize {
		t.Fatalf("a 1 GiB journal: %v, want *TooLargeError{1 GiB, MaxLogFileSize}", err)
	}
	for _, s := range []string{"1024 MiB (1073741824 bytes)", "256 MiB (268435456 bytes)", "MaxLogFileSize", "run chkdsk /f on it"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
	if _, err := logfile.AnalyzeJournal(bytes.NewReader(huge), 1<<30, canRedo); !errors.As(err, &tl) {
		t.Errorf("AnalyzeJournal of a 1 GiB journal: %v, want *TooLargeError", err)
	}
	// At exactly the real limit the same header is not refused for its
	// size (the walk then stops where the 2 MiB of data end).
	if _, err := logfile.ReadLogFile(bytes.NewReader(claimSize(t, log, logfile.MaxLogFileSize)), logfile.MaxLogFileSize); errors.As(err, &tl) {
		t.Errorf("a journal of exactly MaxLogFileSize was refused: %v", err)
	}

	restore := logfile.SetMaxLogFileSize(1 << 20)
	defer restore()
	if _, err := logfile.ReadLogFile(bytes.NewReader(log), int64(len(log))); !errors.As(err, &tl) || tl.Size != 2<<20 || tl.Limit != 1<<20 {
		t.Fatalf("2 MiB journal, 1 MiB limit: %v", err)
	}
	logfile.SetMaxLogFileSize(2 << 20)
	lf, err := logfile.ReadLogFile(bytes.NewReader(log), int64(len(log)))
	if err != nil || len(lf.Records) != len(lsns) {
		t.Fatalf("2 MiB journal at a 2 MiB limit: %v", err)
	}
}
