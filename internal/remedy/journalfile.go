package remedy

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/unbrick/unbrick/internal/durable"
)

// NewRunID returns a run id: UTC time to the second and 4 random bytes,
// "20260726T041502Z-9f3c01ab". It sorts by time and is safe in file names.
func NewRunID(now time.Time) string {
	var b [4]byte
	rand.Read(b[:])
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// safeName keeps letters, digits, '-', '_' and '.', mapping the rest to '_'.
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, s)
}

// JournalPath is JDIR/<run-id>-<volume-id>.journal.
func JournalPath(dir, runID, volumeID string) string {
	return filepath.Join(dir, safeName(runID)+"-"+safeName(volumeID)+".journal")
}

// createJournal creates the journal file (never overwriting one) with its
// directory, and fsyncs the directory so the new name survives a power cut.
// Volumes of one run can share a volume ID (disks cloned from one template
// keep the BitLocker GUID and NTFS serial; a fleet run may hold thousands):
// then the name gets "-" and 8 hex digits of the SHA-256 of where (the
// target and offset of this volume), and "-2", "-3"... only if that is
// taken too (or where is "").
func createJournal(dir, runID, volumeID, where string) (*os.File, string, error) {
	if err := durable.MkdirAll(dir, 0o700); err != nil {
		return nil, "", fmt.Errorf("create journal directory: %w; give --journal a writable directory", err)
	}
	base := JournalPath(dir, runID, volumeID)
	stem := strings.TrimSuffix(base, ".journal")
	names := []string{base}
	if where != "" {
		sum := sha256.Sum256([]byte(where))
		stem += "-" + hex.EncodeToString(sum[:4])
		names = append(names, stem+".journal")
	}
	for i := 2; i <= 1000; i++ {
		names = append(names, stem+fmt.Sprintf("-%d.journal", i))
	}
	for _, p := range names {
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, "", fmt.Errorf("create undo journal: %w", err)
		}
		if err := durable.SyncDir(dir); err != nil {
			f.Close()
			os.Remove(p)
			return nil, "", fmt.Errorf("create undo journal %s: %w", p, err)
		}
		return f, p, nil
	}
	return nil, "", fmt.Errorf("create undo journal: 1000 journals named %s already exist", base)
}
