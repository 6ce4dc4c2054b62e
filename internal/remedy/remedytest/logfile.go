package remedytest

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/unbrick/unbrick/bitlocker"
	"github.com/unbrick/unbrick/internal/disk"
	"github.com/unbrick/unbrick/ntfs"
)

// InstallLogFile writes the gzip-compressed $LogFile image gzPath (such as
// ntfs/testdata/journal/win10-plain-label.logfile.gz, made by the ntfs
// package's TestReplayCorpusFixtureWrite for a given corpus volume) over
// the $LogFile data of the NTFS volume at the given partition of img. The
// image must be exactly as long as the volume's $LogFile. A BitLocker
// volume is unlocked with keys and written through its encryption (the
// bitlocker package's write path; the tests that use this then read the
// disk back with dislocker, an independent decoder).
func InstallLogFile(img string, partition int, gzPath string, keys ...bitlocker.Key) error {
	raw, err := os.ReadFile(gzPath)
	if err != nil {
		return err
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("%s: %w", gzPath, err)
	}
	log, err := io.ReadAll(zr)
	if err != nil {
		return fmt.Errorf("%s: %w", gzPath, err)
	}
	lf, err := openLogFile(img, partition, keys...)
	if err != nil {
		return err
	}
	defer lf.tg.Close()
	nv, sec, a := lf.nv, lf.vol, lf.data
	if a.DataSize != int64(len(log)) {
		return fmt.Errorf("$LogFile is %d bytes, the image %s %d", a.DataSize, gzPath, len(log))
	}
	cs := int64(nv.Boot().ClusterSize)
	pos := int64(0)
	for _, r := range a.Runs {
		if pos >= int64(len(log)) {
			break
		}
		if r.LCN < 0 {
			return fmt.Errorf("$LogFile has a sparse run")
		}
		n := min(r.Length*cs, int64(len(log))-pos)
		if _, err := sec.WriteAt(log[pos:pos+n], r.LCN*cs); err != nil {
			return fmt.Errorf("write $LogFile at offset %d: %w", pos, err)
		}
		pos += n
	}
	if pos != int64(len(log)) {
		return fmt.Errorf("$LogFile runs hold %d of %d bytes", pos, len(log))
	}
	return lf.tg.Sync()
}

// logFile is the writable $LogFile of an NTFS volume in a disk image.
type logFile struct {
	tg   *disk.Target
	vol  io.WriterAt // the NTFS volume: the partition, or its BitLocker view
	nv   *ntfs.Volume
	data *ntfs.Attribute // $LogFile's non-resident $DATA
}

// openLogFile opens the image img for writing and finds the $LogFile data
// of the NTFS volume at the given partition (a BitLocker volume is
// unlocked with keys). The caller closes lf.tg.
func openLogFile(img string, partition int, keys ...bitlocker.Key) (*logFile, error) {
	tg, err := disk.OpenTarget(img, true)
	if err != nil {
		return nil, err
	}
	lf, err := findLogFile(tg, partition, keys)
	if err != nil {
		tg.Close()
		return nil, err
	}
	return lf, nil
}

func findLogFile(tg *disk.Target, partition int, keys []bitlocker.Key) (*logFile, error) {
	c, err := tg.Select(partition)
	if err != nil {
		return nil, err
	}
	sec := tg.Section(c)
	type volume interface {
		io.ReaderAt
		io.WriterAt
		Size() int64
	}
	var vol volume = sec
	if bl, err := bitlocker.Open(sec, sec.Size()); err == nil {
		if err := bl.Unlock(keys...); err != nil {
			return nil, fmt.Errorf("unlock BitLocker: %w", err)
		}
		vol = bl
	} else if !errors.Is(err, bitlocker.ErrNotBitLocker) {
		return nil, fmt.Errorf("open BitLocker: %w", err)
	}
	nv, err := ntfs.Open(vol, vol.Size())
	if err != nil {
		return nil, fmt.Errorf("open NTFS: %w", err)
	}
	f, err := nv.OpenRef(ntfs.MakeRef(ntfs.RecordLogFile, 0))
	if err != nil {
		return nil, fmt.Errorf("open $LogFile: %w", err)
	}
	a := f.FindAttr(ntfs.AttrData, "")
	if a == nil || !a.NonResident || len(a.Runs) == 0 {
		return nil, fmt.Errorf("$LogFile has no non-resident data")
	}
	return &logFile{tg: tg, vol: vol, nv: nv, data: a}, nil
}
